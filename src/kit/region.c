/*
 * kit/region.c - shared regions and rings (region.h).
 */
#include "region.h"

int mproc__region_map(mproc__region *r, const char *name, size_t len,
                      unsigned flags)
{
    void *p;
    int rc = mproc__shared_map(name, len, flags, &p, NULL);
    if (rc)
        return rc;
    r->base = p;
    r->len = len;
    r->vg = MPROC__ON_VALGRIND();
    return 0;
}

void mproc__region_unmap(mproc__region *r)
{
    mproc__shared_unmap(r->base, r->len);
    r->base = NULL;
    r->len = 0;
}

void mproc__region_seal(const mproc__region *r, void *p, size_t n)
{
    /* Best effort: a core dump is all that is at stake. */
    (void)mproc__mem_nodump(p, n);
    mproc__region_hide(r, p, n);
}

void mproc__region_discard(const mproc__region *r, void *p, size_t n)
{
    uintptr_t pg = mproc__page_size(), a = ((uintptr_t)p + pg - 1) & ~(pg - 1),
              b = ((uintptr_t)p + n) & ~(pg - 1);
    if (b <= a)
        return;
    mproc__mem_discard((void *)a, b - a);
    mproc__region_hide(r, (void *)a, b - a);
}

int mproc__ring_populate(const mproc__ring *r, uint64_t from, uint64_t to)
{
    while (from < to) {
        size_t n = mproc__ring_first(r, from, (size_t)(to - from));
        int rc = mproc__mem_populate(mproc__ring_at(r, from), n);
        if (rc)
            return rc;
        from += n;
    }
    return 0;
}

void mproc__ring_discard(const mproc__ring *r, uint64_t from, uint64_t to,
                         uint64_t warm)
{
    while (from < to) {
        uint64_t off = from & r->mask;
        size_t n = mproc__ring_first(r, from, (size_t)(to - from));
        if (off + n > warm) {
            uint64_t keep = off < warm ? warm - off : 0;
            mproc__mem_discard(r->base + off + keep, n - keep);
            if (r->vg)
                MPROC__MEM_HIDE(r->base + off + keep, n - keep);
        }
        from += n;
    }
}
