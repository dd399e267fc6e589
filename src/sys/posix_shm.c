/*
 * shm.c - named POSIX shared memory (/dev/shm), for mproc_shm.
 *
 * glibc's shm_open/shm_unlink are what CPython's _posixshmem calls, so a
 * name means the same file to both. shm_open opens close-on-exec. The fd is
 * closed as soon as the block is mapped: the mapping keeps the block alive.
 */
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Errors of sizing and mapping a block, in mproc's terms. */
static int size_error(int err)
{
    return err == EFBIG || err == EINVAL ? MPROC_ENOMEM : -err;
}

int mproc__shm_create(const char *path, size_t size, void **addr)
{
    int fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return -errno;
    int rc = 0;
    void *p = MAP_FAILED;
    if (size > (size_t)INT64_MAX)
        rc = MPROC_ENOMEM;
    else if (ftruncate(fd, (off_t)size) < 0)
        rc = size_error(errno);
    if (rc == 0) {
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
            rc = size_error(errno);
    }
    close(fd);
    if (rc < 0) {
        shm_unlink(path);
        return rc;
    }
    *addr = p;
    return 0;
}

int mproc__shm_open(const char *path, size_t *size, void **addr)
{
    int fd = shm_open(path, O_RDWR, 0);
    if (fd < 0)
        return -errno;
    struct stat st;
    int rc = 0;
    void *p = MAP_FAILED;
    if (fstat(fd, &st) < 0)
        rc = -errno;
    else if (st.st_size <= 0)
        rc = MPROC_EINVAL;
    else if ((uint64_t)st.st_size > SIZE_MAX)
        rc = MPROC_ENOMEM;
    if (rc == 0) {
        p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                 fd, 0);
        if (p == MAP_FAILED)
            rc = size_error(errno);
    }
    close(fd);
    if (rc < 0)
        return rc;
    *size = (size_t)st.st_size;
    *addr = p;
    return 0;
}

int mproc__shm_unlink(const char *path)
{
    return shm_unlink(path) < 0 ? -errno : 0;
}
