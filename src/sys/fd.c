/*
 * fd.c - file descriptors and names in the file system.
 */
#include "sys.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>
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
