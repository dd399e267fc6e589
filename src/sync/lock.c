/*
 * sync/lock.c - the public Lock and RLock: a handle around one shared page
 * holding a robust lock word (sync/robust.c has the lock itself).
 *
 * Layout of the page (memfd "mproc-lock" / "mproc-rlock"):
 *   header   magic, version                 (written once at create)
 *   lock     mproc__lock / mproc__rlock     (own cache line)
 * The handle is process-local: a magic that destroy clears, and the
 * mapping with its memfd. A forked child inherits both and uses them as
 * they are; a process given the reference opens a handle of its own.
 *
 * Crash behaviour is the robust lock's: a holder that dies leaves its token
 * in the word; the next acquirer takes over with MPROC_EOWNERDEAD.
 */
#include "sync.h"

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
    mproc__sync_head h;
};

struct mproc_rlock {
    mproc__sync_head h;
};

int mproc_lock_create(mproc_lock **out)
{
    if (!out)
        return MPROC_EINVAL;
    mproc__sync_head *h;
    int rc = mproc__sync_new(sizeof(mproc_lock), sizeof(struct lock_shm),
                             "mproc-lock", LOCK_SHM_MAGIC, &h);
    if (rc != 0)
        return rc;
    struct lock_shm *shm = mproc__sync_shm(h);
    mproc__lock_init(&shm->lock);
    *out = (mproc_lock *)h;
    return 0;
}

int mproc_lock_open(mproc_lock **out, mproc_ref ref)
{
    mproc__sync_head *h;
    int rc = mproc__sync_open(ref, MPROC__REF_LOCK, LOCK_SHM_MAGIC,
                              sizeof(mproc_lock), sizeof(struct lock_shm),
                              out ? &h : NULL);
    if (rc == 0)
        *out = (mproc_lock *)h;
    return rc;
}

static struct lock_shm *lock_shm(const mproc_lock *l)
{
    MPROC__CHECK(l && l->h.magic == MPROC__SYNC_LIVE,
                 "invalid or destroyed Lock");
    return mproc__sync_shm(&l->h);
}

int mproc_lock_ref(mproc_lock *l, mproc_ref *out)
{
    lock_shm(l); /* validates l */
    return mproc__sync_ref(&l->h, MPROC__REF_LOCK, out);
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
    lock_shm(l); /* validates l */
    mproc__sync_free(&l->h);
}

int mproc_rlock_create(mproc_rlock **out)
{
    if (!out)
        return MPROC_EINVAL;
    mproc__sync_head *h;
    int rc = mproc__sync_new(sizeof(mproc_rlock), sizeof(struct rlock_shm),
                             "mproc-rlock", RLOCK_SHM_MAGIC, &h);
    if (rc != 0)
        return rc;
    struct rlock_shm *shm = mproc__sync_shm(h);
    mproc__rlock_init(&shm->lock);
    *out = (mproc_rlock *)h;
    return 0;
}

int mproc_rlock_open(mproc_rlock **out, mproc_ref ref)
{
    mproc__sync_head *h;
    int rc = mproc__sync_open(ref, MPROC__REF_RLOCK, RLOCK_SHM_MAGIC,
                              sizeof(mproc_rlock), sizeof(struct rlock_shm),
                              out ? &h : NULL);
    if (rc == 0)
        *out = (mproc_rlock *)h;
    return rc;
}

mproc__rlock *mproc__rlock_of(mproc_rlock *r)
{
    MPROC__CHECK(r && r->h.magic == MPROC__SYNC_LIVE,
                 "invalid or destroyed RLock");
    struct rlock_shm *shm = mproc__sync_shm(&r->h);
    return &shm->lock;
}

int mproc__rlock_id(mproc_rlock *r, uint64_t *id)
{
    mproc__rlock_of(r); /* validates r */
    return mproc__fd_id(r->h.map.fd, id);
}

int mproc_rlock_ref(mproc_rlock *r, mproc_ref *out)
{
    mproc__rlock_of(r); /* validates r */
    return mproc__sync_ref(&r->h, MPROC__REF_RLOCK, out);
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
    mproc__sync_free(&r->h);
}
