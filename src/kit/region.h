/*
 * kit/region.h - shared regions and the byte rings laid out in them.
 *
 * A region is one memfd mapping. It keeps its memfd open, so that the
 * object built in it can be handed to a child by reference (handoff.h):
 * processes forked after it was made share it at the same address; a
 * process that opens its reference (mproc__region_open) maps it at an
 * address of its own, so what lies in a region that more than one process
 * opens holds offsets, never pointers. A sparse
 * region reserves no memory: its pages are taken on first touch and given
 * back (mproc__region_discard) when drained, so a queue's ring or a pool's
 * arena may span gigabytes and cost only what is in use. Two things would
 * read, and so allocate, every page of such a span: a core dump, and
 * memcheck's leak scan at exit. mproc__region_seal leaves a span out of
 * both: out of core dumps (MADV_DONTDUMP, inherited by forked children)
 * and, under valgrind, inaccessible to memcheck except the bytes a process
 * marks as in use (mproc__region_show) until it hides them again.
 *
 * A ring is a power-of-two span of a region addressed by absolute 64-bit
 * byte positions that never wrap; a position's place is pos & (cap - 1).
 * Its copies split at the end of the span and mark what they touch as in
 * use; its discard gives back the pages of a range of positions, except
 * those of the first warm bytes of the span (pages kept warm for reuse:
 * taking and zeroing a fresh page costs more than the copy into it).
 *
 * Safety facts: a region and a ring are process-local descriptions of
 * shared memory; nothing here locks. Which process may write which bytes
 * is the caller's protocol.
 */
#ifndef MPROC_KIT_REGION_H
#define MPROC_KIT_REGION_H

#include "../sys/sys.h"
#include "mproc/ref.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/*
 * Memcheck annotations for sparse shared mappings. Memcheck's leak scan at
 * a process's exit (also at a fatal signal it delivers, and at a raise of
 * SIGKILL, which valgrind turns into such an exit) reads every accessible
 * byte of every writable mapping, and reading a never-written page of a
 * sparse memfd mapping allocates it: a gigabyte-sized reservation would
 * take minutes and all the memory. MPROC__MEM_HIDE makes a range
 * inaccessible (the scan skips it), MPROC__MEM_SHOW accessible and
 * defined, MPROC__MEM_UNDEF accessible and undefined (writable, not yet
 * readable). Natively each is a few instructions that do nothing (and a
 * compiler barrier); hot paths test MPROC__ON_VALGRIND() once and keep it.
 */
#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define MPROC__MEM_SHOW(p, n) VALGRIND_MAKE_MEM_DEFINED(p, n)
#define MPROC__MEM_UNDEF(p, n) VALGRIND_MAKE_MEM_UNDEFINED(p, n)
#define MPROC__MEM_HIDE(p, n) VALGRIND_MAKE_MEM_NOACCESS(p, n)
#define MPROC__ON_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef MPROC__MEM_SHOW
#define MPROC__ON_VALGRIND() false
#define MPROC__MEM_SHOW(p, n) ((void)(p), (void)(n))
#define MPROC__MEM_UNDEF(p, n) ((void)(p), (void)(n))
#define MPROC__MEM_HIDE(p, n) ((void)(p), (void)(n))
#endif

/* A shared mapping, as this process sees it. */
typedef struct mproc__region {
    unsigned char *base;
    size_t len;
    int fd;  /* its memfd (this process's own descriptor), close-on-exec */
    bool vg; /* under valgrind: make memcheck's marks */
} mproc__region;

/*
 * mproc__region_map - map a zero-filled shared region of len bytes named
 * name (flags: MPROC__MAP_SPARSE for one that reserves no memory), keeping
 * its memfd. Returns 0 or an error of mproc__shared_map; *r is untouched
 * on failure.
 */
int mproc__region_map(mproc__region *r, const char *name, size_t len,
                      unsigned flags);

/*
 * mproc__region_ref - register r's memfd as an object of the given kind
 * (handoff.h) for the children this process starts, and set *out to its
 * reference. Returns 0, or an error of mproc__handoff_take (MPROC_ENOMEM).
 */
int mproc__region_ref(const mproc__region *r, uint32_t kind, mproc_ref *out);

/* What a region must be to be opened (mproc__region_open). */
typedef struct mproc__region_layout {
    uint32_t kind;    /* of the reference (kit/handoff.h) */
    uint32_t magic;   /* the region's first 32-bit word */
    uint32_t version; /* its second */
    size_t min_len;   /* bytes at least */
    /* Whether the rest of what it holds makes sense (NULL: no more to
     * check), called once the words above were found right. */
    bool (*sound)(const mproc__region *r);
} mproc__region_layout;

/*
 * mproc__region_open - map the region ref names, given to this process as
 * an object of the layout's kind, whole, over a duplicate of its memfd
 * (the region's own, closed by mproc__region_unmap), and check that it is
 * such a layout. Returns 0; MPROC_ENOENT when this process was not given
 * ref; MPROC_EINVAL when ref is of another kind or the region is not of
 * the layout; MPROC_ENOMEM; another negative errno value (-EMFILE). *r is
 * untouched and nothing is left open or mapped on failure.
 */
int mproc__region_open(mproc__region *r, mproc_ref ref,
                       const mproc__region_layout *layout);

/*
 * mproc__region_unmap - unmap r and close its memfd, withdrawing it from
 * the children started later if its reference was taken (a zeroed region:
 * nothing to do).
 */
void mproc__region_unmap(mproc__region *r);

/*
 * mproc__region_seal - leave [p, p + n) of r (page-aligned) out of core
 * dumps and hide it from memcheck: the sparse part of a region.
 */
void mproc__region_seal(const mproc__region *r, void *p, size_t n);

/*
 * mproc__region_discard - give back the whole pages inside [p, p + n) of
 * r: they read as zeros afterwards, in every process; hidden from
 * memcheck in this one.
 */
void mproc__region_discard(const mproc__region *r, void *p, size_t n);

/* Memcheck marks of bytes of r: in use (show), writable but not yet
 * readable (undef), not in use (hide). No-ops natively. */
static inline void mproc__region_show(const mproc__region *r, const void *p,
                                      size_t n)
{
    if (r->vg)
        MPROC__MEM_SHOW(p, n);
}

static inline void mproc__region_undef(const mproc__region *r, const void *p,
                                       size_t n)
{
    if (r->vg)
        MPROC__MEM_UNDEF(p, n);
}

static inline void mproc__region_hide(const mproc__region *r, const void *p,
                                      size_t n)
{
    if (r->vg)
        MPROC__MEM_HIDE(p, n);
}

/* A byte ring: cap (a power of two) bytes of a region at base. */
typedef struct mproc__ring {
    unsigned char *base;
    uint64_t mask; /* cap - 1 */
    bool vg;       /* as the region's */
} mproc__ring;

/* mproc__ring_in - the ring of cap bytes at base, inside region r. */
static inline mproc__ring mproc__ring_in(const mproc__region *r, void *base,
                                         uint64_t cap)
{
    mproc__ring ring = {(unsigned char *)base, cap - 1, r->vg};
    return ring;
}

/* The bytes of [pos, pos + n) that lie before the end of the span. */
static inline size_t mproc__ring_first(const mproc__ring *r, uint64_t pos,
                                       size_t n)
{
    uint64_t left = r->mask + 1 - (pos & r->mask);
    return n < left ? n : (size_t)left;
}

/* mproc__ring_at - the address of position pos (its bytes up to the end
 * of the span are contiguous). */
static inline unsigned char *mproc__ring_at(const mproc__ring *r, uint64_t pos)
{
    return r->base + (pos & r->mask);
}

/* mproc__ring_mark - memcheck marks of positions [pos, pos + n) (n at
 * most cap): in use, or not (hidden). A no-op natively. */
static inline void mproc__ring_mark(const mproc__ring *r, uint64_t pos,
                                    size_t n, bool in_use)
{
    if (!r->vg)
        return;
    size_t first = mproc__ring_first(r, pos, n);
    unsigned char *part[2] = {mproc__ring_at(r, pos), r->base};
    size_t len[2] = {first, n - first};
    for (int k = 0; k < 2; k++)
        if (in_use)
            MPROC__MEM_SHOW(part[k], len[k]);
        else
            MPROC__MEM_HIDE(part[k], len[k]);
}

/* mproc__ring_write - copy n bytes (at most cap) from src to positions
 * [pos, pos + n), marked in use. */
static inline void mproc__ring_write(const mproc__ring *r, uint64_t pos,
                                     const void *src, size_t n)
{
    size_t first = mproc__ring_first(r, pos, n);
    mproc__ring_mark(r, pos, n, true);
    if (first) /* src may be NULL when n is 0 */
        memcpy(mproc__ring_at(r, pos), src, first);
    if (n > first)
        memcpy(r->base, (const unsigned char *)src + first, n - first);
}

/* mproc__ring_read - copy the n bytes (at most cap) at positions
 * [pos, pos + n) to dst, marking them in use. */
static inline void mproc__ring_read(const mproc__ring *r, uint64_t pos,
                                    void *dst, size_t n)
{
    size_t first = mproc__ring_first(r, pos, n);
    mproc__ring_mark(r, pos, n, true);
    if (first) /* dst may be NULL when n is 0 */
        memcpy(dst, mproc__ring_at(r, pos), first);
    if (n > first)
        memcpy((unsigned char *)dst + first, r->base, n - first);
}

/*
 * mproc__ring_populate - take the pages of positions [from, to) now (from
 * page-aligned; to - from at most cap). Returns 0, or MPROC_ENOMEM when the
 * memory is not there (where a write would have raised SIGBUS).
 */
int mproc__ring_populate(const mproc__ring *r, uint64_t from, uint64_t to);

/*
 * mproc__ring_discard - give back the pages of positions [from, to)
 * (page-aligned; to - from at most cap), except those that lie in the
 * span's first warm bytes; hidden from memcheck in this process.
 */
void mproc__ring_discard(const mproc__ring *r, uint64_t from, uint64_t to,
                         uint64_t warm);

#endif /* MPROC_KIT_REGION_H */
