/*
 * fd.c - file descriptors and names in the file system.
 */
#include "sys.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
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
