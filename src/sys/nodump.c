/*
 * nodump.c - leave a mapping out of core dumps.
 *
 * A core dump writes every page of a shared memfd mapping, and reading a
 * never-written page of one allocates it: a crashing process that maps a
 * sparse reservation of gigabytes would allocate and write all of it.
 * MADV_DONTDUMP (Linux 3.4) leaves the range out; the flag is inherited
 * by forked children.
 */
#include "../internal.h"

#include <errno.h>
#include <sys/mman.h>

int mproc__shared_nodump(void *addr, size_t len)
{
    if (len == 0)
        return 0;
    return madvise(addr, len, MADV_DONTDUMP) < 0 ? -errno : 0;
}
