/*
 * sync/lock.c - the public Lock and RLock: a handle around one shared page
 * holding a robust lock word (sync/robust.c has the lock itself).
 *
 * Layout of the page (memfd "mproc-lock" / "mproc-rlock"):
 *   header   magic, version                 (written once at create)
 *   lock     mproc__lock / mproc__rlock     (own cache line)
 * The handle is process-local: a magic that destroy clears, and the
 * mapping. A forked child inherits both and uses them as they are.
 *
 * Crash behaviour is the robust lock's: a holder that dies leaves its token
 * in the word; the next acquirer takes over with MPROC_EOWNERDEAD.
 */
#include "sync.h"

#include <stdlib.h>

#define LOCK_SHM_MAGIC 0x6d4c434bu  /* "mLCK" */
#define RLOCK_SHM_MAGIC 0x6d524c4bu /* "mRLK" */

struct lock_shm {
    mproc__sync_header hdr;
    alignas(MPROC__CACHE_LINE) mproc__lock lock;
};

struct rlock_shm {
    mproc__sync_header hdr;
    alignas(MPROC__CACHE_LINE) mproc__rlock lock;
};

MPROC__SYNC_LAYOUT(struct lock_shm, lock);
MPROC__SYNC_LAYOUT(struct rlock_shm, lock);

struct mproc_lock {
    uint32_t magic;
    struct lock_shm *shm;
};

struct mproc_rlock {
    uint32_t magic;
    struct rlock_shm *shm;
};

int mproc_lock_create(mproc_lock **out)
{
    if (!out)
        return MPROC_EINVAL;
    void *h, *shm;
    int rc = mproc__sync_new(sizeof(mproc_lock), sizeof(struct lock_shm),
                             "mproc-lock", LOCK_SHM_MAGIC, &h, &shm);
    if (rc != 0)
        return rc;
    mproc_lock *l = h;
    l->shm = shm;
    mproc__lock_init(&l->shm->lock);
    *out = l;
    return 0;
}

static struct lock_shm *lock_shm(const mproc_lock *l)
{
    MPROC__CHECK(l && l->magic == MPROC__SYNC_LIVE,
                 "invalid or destroyed Lock");
    return l->shm;
}

int mproc_lock_acquire(mproc_lock *l, double timeout)
{
    return mproc__lock_acquire(&lock_shm(l)->lock, timeout);
}

int mproc_lock_release(mproc_lock *l)
{
    return mproc__lock_release(&lock_shm(l)->lock);
}

bool mproc_lock_locked(mproc_lock *l)
{
    return mproc__lock_locked(&lock_shm(l)->lock);
}

void mproc_lock_destroy(mproc_lock *l)
{
    if (!l)
        return;
    mproc__sync_free(l, lock_shm(l), sizeof(struct lock_shm));
}

int mproc_rlock_create(mproc_rlock **out)
{
    if (!out)
        return MPROC_EINVAL;
    void *h, *shm;
    int rc = mproc__sync_new(sizeof(mproc_rlock), sizeof(struct rlock_shm),
                             "mproc-rlock", RLOCK_SHM_MAGIC, &h, &shm);
    if (rc != 0)
        return rc;
    mproc_rlock *r = h;
    r->shm = shm;
    mproc__rlock_init(&r->shm->lock);
    *out = r;
    return 0;
}

mproc__rlock *mproc__rlock_of(mproc_rlock *r)
{
    MPROC__CHECK(r && r->magic == MPROC__SYNC_LIVE,
                 "invalid or destroyed RLock");
    return &r->shm->lock;
}

int mproc_rlock_acquire(mproc_rlock *r, double timeout)
{
    return mproc__rlock_acquire(mproc__rlock_of(r), timeout);
}

int mproc_rlock_release(mproc_rlock *r)
{
    return mproc__rlock_release(mproc__rlock_of(r));
}

bool mproc_rlock_locked(mproc_rlock *r)
{
    return mproc__lock_locked(&mproc__rlock_of(r)->lock);
}

void mproc_rlock_destroy(mproc_rlock *r)
{
    if (!r)
        return;
    mproc__rlock_of(r); /* validates r */
    mproc__sync_free(r, r->shm, sizeof(struct rlock_shm));
}
