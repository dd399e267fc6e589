/*
 * discard.c - give the pages of a shared mapping back to the system.
 *
 * MADV_REMOVE frees the backing pages of a memfd range (a hole punch), so
 * memory that a pool has finished with stops counting against the
 * machine while the mapping stays in place for the next use.
 */
#include "../internal.h"

#include <errno.h>
#include <sys/mman.h>

int mproc__shared_discard(void *addr, size_t len)
{
    if (len == 0)
        return 0;
    return madvise(addr, len, MADV_REMOVE) < 0 ? -errno : 0;
}
