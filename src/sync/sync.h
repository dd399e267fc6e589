/*
 * sync/sync.h - what the sync area's files share; private.
 *
 * Each public sync object is a process-local handle (a magic word that
 * destroy clears, and the mapping with its memfd) around one shared page
 * that begins with the header words below. A handle is made by create
 * (a new object) or by open (the object a reference names, kit/handoff.h:
 * the page mapped again, over a duplicate of its memfd); the two are
 * alike in every way but how they came.
 */
#ifndef MPROC_SYNC_SYNC_H
#define MPROC_SYNC_SYNC_H

#include "../kit/check.h"
#include "../kit/handoff.h"
#include "../kit/lock.h"
#include "../kit/region.h"
#include "mproc/sync.h"

#include <stdalign.h>
#include <stddef.h>

_Static_assert(MPROC_SYNC_CHECK_MS *(int64_t)1000000 == MPROC__SYNC_SLICE_NS,
               "sync.h promises the kit's slice");

/* The first word of every live sync handle, and of a destroyed one. */
#define MPROC__SYNC_LIVE 0x6d53594eu /* "mSYN" */
#define MPROC__SYNC_DEAD 0xdeadbeefu

/* The first member of every sync handle. */
typedef struct mproc__sync_head {
    uint32_t magic;    /* MPROC__SYNC_LIVE; MPROC__SYNC_DEAD once destroyed */
    mproc__region map; /* the shared page(s), and the memfd a reference
                          hands on */
} mproc__sync_head;

/*
 * mproc__sync_new - allocate a handle of handle_size bytes (beginning with
 * a mproc__sync_head, its magic set to MPROC__SYNC_LIVE) around a new
 * zero-filled shared mapping of shm_size bytes (memfd name, kept open),
 * whose header words are magic and MPROC__SYNC_VERSION. Returns 0 and
 * sets *handle; MPROC_ENOMEM, or an error of mproc__region_map; nothing is
 * left allocated or open on failure.
 */
int mproc__sync_new(size_t handle_size, size_t shm_size, const char *name,
                    uint32_t magic, mproc__sync_head **handle);

/*
 * mproc__sync_open - a new handle of handle_size bytes, as mproc__sync_new
 * makes, on the existing object ref names (a reference of the given kind,
 * whose page has the header words magic and MPROC__SYNC_VERSION and is at
 * least shm_size bytes). Returns 0 and sets *handle; MPROC_EINVAL when
 * handle is NULL, or as mproc__region_open: MPROC_ENOENT, MPROC_EINVAL,
 * MPROC_ENOMEM, -EMFILE. Nothing is left allocated or open on failure.
 */
int mproc__sync_open(mproc_ref ref, uint32_t kind, uint32_t magic,
                     size_t handle_size, size_t shm_size,
                     mproc__sync_head **handle);

/*
 * mproc__sync_ref - take the reference of a live handle's object, of the
 * given kind (kit/handoff.h). Returns 0; MPROC_EINVAL when out is NULL;
 * MPROC_ENOMEM.
 */
int mproc__sync_ref(mproc__sync_head *h, uint32_t kind, mproc_ref *out);

/* mproc__sync_free - unmap and close the object of a live handle from
 * mproc__sync_new or mproc__sync_open (withdrawing it from later starts),
 * mark the handle dead and free it. */
void mproc__sync_free(mproc__sync_head *h);

/* mproc__sync_shm - the shared page of a handle. */
static inline void *mproc__sync_shm(const mproc__sync_head *h)
{
    return h->map.base;
}

/* mproc__rlock_of - the shared RLock of a public RLock handle (aborts on a
 * destroyed handle): what a Condition over that RLock works on. */
struct mproc_rlock;
mproc__rlock *mproc__rlock_of(struct mproc_rlock *r);

/* mproc__rlock_id - the id (kit/handoff.h: its memfd's inode) of a public
 * RLock's object; 0 or a negative errno value. */
int mproc__rlock_id(struct mproc_rlock *r, uint64_t *id);

/* The two words every sync layout begins with. */
typedef struct mproc__sync_header {
    uint32_t magic;
    uint32_t version;
} mproc__sync_header;

/* 2: a Condition's page records the RLock it was made on (lock_id). */
#define MPROC__SYNC_VERSION 2u

/* The layout every sync page keeps: the header first, the word its
 * contenders write (field) on a cache line of its own, all in one page. */
#define MPROC__SYNC_LAYOUT(type, field)                                        \
    _Static_assert(offsetof(type, hdr) == 0 &&                                 \
                       offsetof(type, field) >= MPROC__CACHE_LINE &&           \
                       offsetof(type, field) % MPROC__CACHE_LINE == 0 &&       \
                       sizeof(type) <= 4096,                                   \
                   #type ": header first, " #field " on its own line")

#endif /* MPROC_SYNC_SYNC_H */
