/*
 * fd.c - file descriptors and names in the file system.
 */
#include "sys.h"

#include <errno.h>
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
