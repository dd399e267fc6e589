/*
 * mem.c - giving pages of a shared mapping back, and taking them early.
 *
 * The unbounded queue's ring is a large sparse memfd mapping: its pages
 * are allocated on first touch, and a page written when memory has run out
 * would raise SIGBUS. So a producer takes the pages it is about to write
 * with MADV_POPULATE_WRITE (Linux 5.14), which reports ENOMEM instead, and
 * a consumer gives drained pages back with MADV_REMOVE, which frees the
 * memfd's backing pages for the range.
 */
#include "../internal.h"

#include <errno.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

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

void mproc__mem_discard(void *addr, size_t len)
{
    if (len > 0)
        madvise(addr, len, MADV_REMOVE);
}
