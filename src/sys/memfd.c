/*
 * memfd.c - anonymous shared mappings backed by a memfd.
 *
 * Every shared object of mproc lives in its own memfd: it has no name in
 * /dev/shm to leak when a process dies, it is inherited by forked children
 * as a MAP_SHARED mapping, and its fd can be handed to another process.
 */
#include "../internal.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

int mproc__shared_map(const char *name, size_t size, unsigned flags,
                      void **addr, int *fd)
{
    if (size == 0)
        return MPROC_EINVAL;
    int mfd = memfd_create(name, MFD_CLOEXEC);
    if (mfd < 0)
        return -errno;
    if (ftruncate(mfd, (off_t)size) < 0) {
        int err = errno == EFBIG || errno == EINVAL ? ENOMEM : errno;
        close(mfd);
        return -err;
    }
    int mflags = MAP_SHARED | (flags & MPROC__MAP_SPARSE ? MAP_NORESERVE : 0);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, mflags, mfd, 0);
    if (p == MAP_FAILED) {
        int err = errno == EINVAL ? ENOMEM : errno;
        close(mfd);
        return -err;
    }
    if (fd)
        *fd = mfd;
    else
        close(mfd);
    *addr = p;
    return 0;
}

void mproc__shared_unmap(void *addr, size_t size)
{
    if (addr)
        munmap(addr, size);
}
