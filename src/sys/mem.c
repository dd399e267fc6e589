/*
 * mem.c - shared mappings backed by a memfd, and their pages.
 *
 * Every shared object of mproc lives in its own memfd: it has no name in
 * /dev/shm to leak when a process dies, it is inherited by forked children
 * as a MAP_SHARED mapping, and its fd can be handed to another process.
 *
 * A sparse mapping (MAP_NORESERVE) takes its pages on first touch, and a
 * page written when memory has run out raises SIGBUS. So a writer takes
 * the pages it is about to write with MADV_POPULATE_WRITE (Linux 5.14),
 * which reports ENOMEM instead, and pages no longer needed are given back
 * with MADV_REMOVE, which frees the memfd's backing pages for the range (a
 * hole punch) while the mapping stays in place for the next use. A core
 * dump reads every page of a mapping, and reading a never-written page of
 * a memfd allocates it: MADV_DONTDUMP leaves such a range out.
 *
 * A process handed the memfd (a reference opened, kit/handoff.h) maps it
 * whole with mproc__shared_attach. A shared mapping of a file reserves no
 * memory when it is made - the pages are the file's, and a memfd takes
 * them on touch - so it needs no MAP_NORESERVE to be sparse.
 */
#include "sys.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

int mproc__shared_map(const char *name, size_t size, unsigned flags,
                      void **addr, int *fd)
{
    if (size == 0)
        return MPROC_EINVAL;
    int mfd = mproc__memfd(name);
    if (mfd == -EMFILE && mproc__nofile_raise())
        mfd = mproc__memfd(name);
    if (mfd < 0)
        return mfd;
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

int mproc__shared_attach(int fd, void **addr, size_t *size)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (st.st_size <= 0)
        return MPROC_EINVAL;
    if ((uint64_t)st.st_size > SIZE_MAX)
        return MPROC_ENOMEM;
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                   fd, 0);
    if (p == MAP_FAILED)
        return errno == EINVAL ? MPROC_ENOMEM : -errno;
    *addr = p;
    *size = (size_t)st.st_size;
    return 0;
}

void mproc__shared_unmap(void *addr, size_t size)
{
    if (addr)
        munmap(addr, size);
}

int mproc__mem_populate(void *addr, size_t len)
{
    static _Atomic int unsupported;
    if (len == 0 || atomic_load_explicit(&unsupported, memory_order_relaxed))
        return 0;
    for (;;) {
        if (madvise(addr, len, MADV_POPULATE_WRITE) == 0)
            return 0;
        if (errno == EINTR || errno == EAGAIN)
            continue;
        if (errno == EINVAL) { /* kernel older than 5.14: touch on write */
            atomic_store_explicit(&unsupported, 1, memory_order_relaxed);
            return 0;
        }
        return MPROC_ENOMEM; /* ENOMEM, or EFAULT for "would SIGBUS" */
    }
}

int mproc__mem_discard(void *addr, size_t len)
{
    if (len == 0)
        return 0;
    return madvise(addr, len, MADV_REMOVE) < 0 ? -errno : 0;
}

int mproc__mem_nodump(void *addr, size_t len)
{
    if (len == 0)
        return 0;
    return madvise(addr, len, MADV_DONTDUMP) < 0 ? -errno : 0;
}

void *mproc__wipeonfork_page(void)
{
    size_t size = mproc__page_size();
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    if (madvise(m, size, MADV_WIPEONFORK) != 0) {
        munmap(m, size);
        return NULL;
    }
    return m;
}

size_t mproc__page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

uint64_t mproc__phys_mem(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), pg = sysconf(_SC_PAGESIZE);
    return pages > 0 && pg > 0 ? (uint64_t)pages * (uint64_t)pg : 0;
}
