/*
 * fd.c - file descriptors and names in the file system, and the event
 * log's write to standard error.
 *
 * Every shared object keeps its descriptor open (so that a reference can
 * hand it on), so a program may hold thousands. The soft RLIMIT_NOFILE
 * many systems start a process with (1024) would cap it there, while the
 * hard limit is far higher: as Go's runtime raises the soft limit at
 * start, a call here that meets EMFILE raises it to the hard limit and
 * tries once more (mproc__nofile_raise). Nothing is raised until a
 * program actually needs it, so one that never holds 1024 descriptors
 * keeps its limit as it was (and select(2), with its 1024-descriptor
 * sets, is no more at risk than the program's own count makes it).
 */
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void mproc__close(int fd)
{
    close(fd); /* on EINTR Linux has closed fd already: never retry */
}

int mproc__unlink(const char *path)
{
    return unlink(path) < 0 ? -errno : 0;
}

int mproc__fd_id(int fd, uint64_t *id)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    *id = st.st_ino;
    return 0;
}

int mproc__memfd(const char *name)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int mproc__pwrite_all(int fd, const void *buf, size_t n, uint64_t off)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, buf, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        buf = (const char *)buf + w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

int mproc__pread_all(int fd, void *buf, size_t n, uint64_t off)
{
    while (n > 0) {
        ssize_t r = pread(fd, buf, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return -EPROTO;
        buf = (char *)buf + r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

bool mproc__nofile_raise(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
        return false;
    rl.rlim_cur = rl.rlim_max;
    return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

int mproc__dup(int fd)
{
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (d < 0 && errno == EMFILE && mproc__nofile_raise())
        d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    return d < 0 ? -errno : d;
}

/*
 * The SIGPIPE a write to a closed pipe raises goes to the writing thread,
 * so blocking it there for the write keeps it from the process; if one was
 * not pending before and is now, the write raised it: take it back
 * (sigtimedwait with a zero timeout) before unblocking.
 */
int mproc__write_stderr(const void *buf, size_t len)
{
    int saved = errno, rc = 0;
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -errno : -EIO;
            break;
        }
        p += n;
        len -= (size_t)n;
    }
    if (rc == -EPIPE && !was_pending) {
        static const struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = saved;
    return rc;
}
