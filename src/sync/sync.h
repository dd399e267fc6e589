/*
 * sync/sync.h - what the sync area's files share; private.
 *
 * Each public sync object is a process-local handle (a magic word that
 * destroy clears, and the mapping) around one shared page that begins with
 * the header words below.
 */
#ifndef MPROC_SYNC_SYNC_H
#define MPROC_SYNC_SYNC_H

#include "../kit/check.h"
#include "../kit/lock.h"
#include "mproc/sync.h"

#include <stdalign.h>
#include <stddef.h>

_Static_assert(MPROC_SYNC_CHECK_MS *(int64_t)1000000 == MPROC__SYNC_SLICE_NS,
               "sync.h promises the kit's slice");

/*
 * mproc__sync_map - map a zero-filled shared page (or more) for a sync
 * object named name, with the header words magic and version at its start.
 * Returns 0 and sets *addr, or an error of mproc__shared_map.
 */
int mproc__sync_map(const char *name, size_t size, uint32_t magic, void **addr);

/* The first word of every live sync handle, and of a destroyed one. */
#define MPROC__SYNC_LIVE 0x6d53594eu /* "mSYN" */
#define MPROC__SYNC_DEAD 0xdeadbeefu

/*
 * mproc__sync_new - allocate a handle of handle_size bytes (its first word,
 * a uint32_t, set to MPROC__SYNC_LIVE) and map its shared page as
 * mproc__sync_map. Returns 0, MPROC_ENOMEM, or mproc__sync_map's error;
 * nothing is left allocated on failure.
 */
int mproc__sync_new(size_t handle_size, size_t shm_size, const char *name,
                    uint32_t magic, void **handle, void **shm);

/* mproc__sync_free - unmap shm and free a handle from mproc__sync_new. */
void mproc__sync_free(void *handle, void *shm, size_t shm_size);

/* mproc__rlock_of - the shared RLock of a public RLock handle (aborts on a
 * destroyed handle): what a Condition over that RLock works on. */
struct mproc_rlock;
mproc__rlock *mproc__rlock_of(struct mproc_rlock *r);

/* The two words every sync layout begins with. */
typedef struct mproc__sync_header {
    uint32_t magic;
    uint32_t version;
} mproc__sync_header;

#define MPROC__SYNC_VERSION 1u

/* The layout every sync page keeps: the header first, the word its
 * contenders write (field) on a cache line of its own, all in one page. */
#define MPROC__SYNC_LAYOUT(type, field)                                        \
    _Static_assert(offsetof(type, hdr) == 0 &&                                 \
                       offsetof(type, field) >= MPROC__CACHE_LINE &&           \
                       offsetof(type, field) % MPROC__CACHE_LINE == 0 &&       \
                       sizeof(type) <= 4096,                                   \
                   #type ": header first, " #field " on its own line")

#endif /* MPROC_SYNC_SYNC_H */
