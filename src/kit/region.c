/*
 * kit/region.c - shared regions and rings (region.h).
 */
#include "region.h"

#include "handoff.h"

int mproc__region_map(mproc__region *r, const char *name, size_t len,
                      unsigned flags)
{
    void *p;
    int fd;
    int rc = mproc__shared_map(name, len, flags, &p, &fd);
    if (rc)
        return rc;
    r->base = p;
    r->len = len;
    r->fd = fd;
    r->vg = MPROC__ON_VALGRIND();
    return 0;
}

int mproc__region_ref(const mproc__region *r, uint32_t kind, mproc_ref *out)
{
    return mproc__handoff_take(r->fd, kind, out);
}

/* Whether the mapping m is of the layout. */
static bool of_layout(const mproc__region *m, const mproc__region_layout *l)
{
    const uint32_t *words = (const uint32_t *)(const void *)m->base;
    return m->len >= l->min_len && m->len >= 2 * sizeof(uint32_t) &&
           words[0] == l->magic && words[1] == l->version &&
           (!l->sound || l->sound(m));
}

int mproc__region_open(mproc__region *r, mproc_ref ref,
                       const mproc__region_layout *layout)
{
    int given;
    int rc = mproc__handoff_find(ref, layout->kind, &given);
    if (rc)
        return rc;
    mproc__region m = {.fd = mproc__dup(given), .vg = MPROC__ON_VALGRIND()};
    if (m.fd < 0)
        return m.fd;
    void *p;
    rc = mproc__shared_attach(m.fd, &p, &m.len);
    if (rc == 0) {
        m.base = p;
        if (!of_layout(&m, layout)) {
            mproc__shared_unmap(p, m.len);
            rc = MPROC_EINVAL;
        }
    }
    if (rc) {
        mproc__close(m.fd);
        return rc;
    }
    *r = m;
    return 0;
}

void mproc__region_unmap(mproc__region *r)
{
    if (!r->base)
        return;
    mproc__handoff_drop(r->fd);
    mproc__close(r->fd);
    mproc__shared_unmap(r->base, r->len);
    r->base = NULL;
    r->len = 0;
    r->fd = -1;
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
