/*
 * sync/condition.c - Condition over a robust RLock.
 *
 * Layout of the page (memfd "mproc-condition"):
 *   header    magic, version
 *   lock_id   the id of the RLock it was made on (0: its own lock)
 *   own_lock  the Condition's own RLock, when none was given (own line)
 *   gen       notify generation: the futex word waiters sleep on (own line)
 *   signals   wake-up tokens not yet taken
 *   waiting   waiters not yet given a token
 *   pending   (own lock) wake-ups notify owes, paid when the lock is freed
 *
 * Wake-ups are tokens, not addressed to a waiter. wait, holding the lock,
 * notes the generation g, counts itself in waiting, releases the lock
 * entirely and sleeps on gen. notify(n), holding the lock, moves
 * k = min(n, waiting) from waiting to signals and bumps gen. The sleepers
 * must then wake, but not into a lock the notifier still holds:
 *   - Over its own lock (which only this file releases), notify adds k to
 *     pending, and whoever frees the lock entirely - release at depth 1, or
 *     wait - takes pending while still holding it, frees the lock, then
 *     wakes that many sleepers on gen, oldest first (FIFO futex queue): the
 *     ones the notify counted. A ping-pong costs what a bare futex
 *     ping-pong does: one wake, one sleep per hop.
 *   - Over a given RLock, which may be released by mproc_rlock_release
 *     without this file knowing, notify requeues k sleepers from gen onto
 *     the lock's futex (FUTEX_CMP_REQUEUE, marking the lock WAITERS): they
 *     wake as the lock is released, one per release, and find it free.
 *     Waiters re-take that lock marked WAITERS, so each release passes the
 *     wake-up on to the next requeued waiter. A waiter may take a token (a
 * compare-and-swap decrementing signals > 0) only once gen != g, that is once a
 * notify came after it began to wait: a thread that notifies and then waits can
 * never take its own notification, nor can any later arrival. A waiter whose
 * timeout passes re-takes the lock, then takes a token if it may and one is
 * left (a notify raced with its timeout: it counts as notified), or else
 * removes itself from waiting.
 *
 * Invariant, whenever the lock is free: waiting + signals == the waiters
 * inside wait that have not taken a token. So each notify makes exactly k
 * waiters return notified (a token is taken once), all of them waiting
 * before the notify, though not necessarily the longest-waiting ones.
 * waiting, gen and the decision to leave are changed only under the lock;
 * signals also lock-free by takers, which only decrease it, so a timed-out
 * waiter that finds no token under the lock is certainly still counted in
 * waiting. notify adds the tokens before it publishes the new gen (release
 * ordering), and waiters read gen (acquire) before looking for tokens.
 *
 * Crash. notify adds to signals and bumps gen before it subtracts from
 * waiting, so a notifier killed in between leaves waiting too high (a
 * phantom), never a live waiter uncounted. A waiter killed while waiting is
 * such a phantom too. A phantom never keeps a live sleeper asleep - any
 * eligible waiter takes any token - but a notify may hand it a token,
 * which a later waiter takes as one spurious wake-up; the counts are then
 * exact again. A notifier killed before its requeue, or before the
 * release that would have woken its pending sleepers, leaves sleepers that
 * see the new gen at the end of their slice (50 ms); the next holder of
 * the lock wakes pending ones when it frees it (a spare wake-up is only
 * a re-check). A process killed
 * holding the lock is the RLock's owner death: MPROC_EOWNERDEAD to the next
 * holder.
 *
 * References. A Condition made on a given RLock uses that RLock's page,
 * which is another memfd: its page records the RLock's id (lock_id), its
 * reference brings the RLock along (mproc_condition_ref takes the RLock's
 * reference too), and opening it opens the RLock as well, as a handle the
 * opened Condition owns and destroys with itself.
 */
#include "sync.h"

#include <math.h>

#define COND_SHM_MAGIC 0x6d434e44u /* "mCND" */

struct cond_shm {
    mproc__sync_header hdr;
    uint64_t lock_id; /* the given RLock's id (kit/handoff.h); 0: own lock */
    alignas(MPROC__CACHE_LINE) mproc__rlock own_lock;
    alignas(MPROC__CACHE_LINE) _Atomic uint32_t gen;
    _Atomic uint32_t signals;
    _Atomic uint32_t waiting;
    _Atomic uint32_t pending; /* own lock: wake-ups owed at its release */
};

MPROC__SYNC_LAYOUT(struct cond_shm, own_lock);
MPROC__SYNC_LAYOUT(struct cond_shm, gen);

struct mproc_condition {
    mproc__sync_head h;
    mproc__rlock *lock; /* &shm->own_lock, or the given RLock's */
    mproc_rlock *given; /* the given RLock's handle, or NULL */
    bool own;           /* lock is the Condition's own */
    bool opened_lock;   /* given was opened with this handle, and goes
                           with it */
};

/* Sets up the handle h of a Condition: over its page's own lock, or over
 * given (opened: a handle opened with it, destroyed with it). */
static mproc_condition *setup(mproc__sync_head *h, mproc_rlock *given,
                              bool opened)
{
    mproc_condition *c = (mproc_condition *)h;
    struct cond_shm *m = mproc__sync_shm(h);
    c->lock = given ? mproc__rlock_of(given) : &m->own_lock;
    c->given = given;
    c->own = !given;
    c->opened_lock = opened && given;
    return c;
}

int mproc_condition_create(mproc_condition **out, mproc_rlock *lock)
{
    if (!out)
        return MPROC_EINVAL;
    uint64_t lock_id = 0;
    int rc = lock ? mproc__rlock_id(lock, &lock_id) : 0;
    if (rc != 0)
        return rc;
    mproc__sync_head *h;
    rc = mproc__sync_new(sizeof(mproc_condition), sizeof(struct cond_shm),
                         "mproc-condition", COND_SHM_MAGIC, &h);
    if (rc != 0)
        return rc;
    struct cond_shm *m = mproc__sync_shm(h);
    m->lock_id = lock_id;
    mproc__rlock_init(&m->own_lock);
    atomic_init(&m->gen, 0);
    atomic_init(&m->signals, 0);
    atomic_init(&m->waiting, 0);
    atomic_init(&m->pending, 0);
    *out = setup(h, lock, false);
    return 0;
}

int mproc_condition_open(mproc_condition **out, mproc_ref ref)
{
    mproc__sync_head *h;
    int rc = mproc__sync_open(ref, MPROC__REF_CONDITION, COND_SHM_MAGIC,
                              sizeof(mproc_condition), sizeof(struct cond_shm),
                              out ? &h : NULL);
    if (rc != 0)
        return rc;
    struct cond_shm *m = mproc__sync_shm(h);
    mproc_rlock *lock = NULL;
    if (m->lock_id != 0) {
        mproc_ref lock_ref = {{m->lock_id, MPROC__REF_RLOCK}};
        rc = mproc_rlock_open(&lock, lock_ref);
        if (rc != 0) {
            mproc__sync_free(h);
            return rc;
        }
    }
    *out = setup(h, lock, true);
    return 0;
}

static struct cond_shm *cond_shm(const mproc_condition *c)
{
    MPROC__CHECK(c && c->h.magic == MPROC__SYNC_LIVE,
                 "invalid or destroyed Condition");
    return mproc__sync_shm(&c->h);
}

int mproc_condition_ref(mproc_condition *c, mproc_ref *out)
{
    cond_shm(c); /* validates c */
    mproc_ref lock_ref;
    int rc = c->given ? mproc_rlock_ref(c->given, &lock_ref) : 0;
    return rc != 0 ? rc : mproc__sync_ref(&c->h, MPROC__REF_CONDITION, out);
}

int mproc_condition_acquire(mproc_condition *c, double timeout)
{
    cond_shm(c);
    return mproc__rlock_acquire(c->lock, timeout);
}

/*
 * Own lock only: takes the count of wake-ups notify owes, as the caller
 * (holding the lock) is about to free it entirely; wake() pays them once it
 * has. Sleepers are woken in the order they slept (the futex queue is FIFO
 * among equal priorities), so the ones the notify counted come first; one
 * that slept after it, if woken, only finds itself not yet eligible.
 */
static uint32_t take_pending(mproc_condition *c, struct cond_shm *m)
{
    uint32_t n = atomic_load_explicit(&m->pending, memory_order_relaxed);
    if (c->own && n > 0)
        atomic_store_explicit(&m->pending, 0, memory_order_relaxed);
    return c->own ? n : 0;
}

static void wake(struct cond_shm *m, uint32_t n)
{
    if (n > 0)
        mproc__futex_wake(&m->gen, n > INT32_MAX ? INT32_MAX : (int)n);
}

int mproc_condition_release(mproc_condition *c)
{
    struct cond_shm *m = cond_shm(c);
    uint32_t owed = 0;
    if (mproc__rlock_mine(c->lock) &&
        atomic_load_explicit(&c->lock->count, memory_order_relaxed) == 1)
        owed = take_pending(c, m);
    int rc = mproc__rlock_release(c->lock);
    wake(m, owed);
    return rc;
}

/* Takes a wake-up token if one is left. */
static bool take_token(struct cond_shm *m)
{
    return mproc__sync_take(&m->signals);
}

int mproc_condition_wait(mproc_condition *c, double timeout)
{
    struct cond_shm *m = cond_shm(c);
    if (!mproc__rlock_mine(c->lock))
        return MPROC_EPERM;
    if (isnan(timeout))
        return MPROC_EINVAL;
    int64_t deadline;
    mproc__deadline(timeout, &deadline);
    uint32_t g = atomic_load_explicit(&m->gen, memory_order_relaxed);
    uint32_t w = atomic_load_explicit(&m->waiting, memory_order_relaxed);
    atomic_store_explicit(&m->waiting, w + 1, memory_order_relaxed);
    uint32_t owed = take_pending(c, m);
    uint32_t depth = mproc__rlock_release_all(c->lock);
    wake(m, owed);

    bool notified = false;
    for (;;) {
        uint32_t now = atomic_load_explicit(&m->gen, memory_order_acquire);
        if (now != g && (notified = take_token(m)))
            break;
        if (mproc__sync_sleep(&m->gen, now, deadline) == MPROC_ETIMEDOUT)
            break;
    }

    int rc = mproc__rlock_acquire_depth(c->lock, depth, !c->own);
    if (!notified) {
        if (atomic_load_explicit(&m->gen, memory_order_acquire) != g)
            notified = take_token(m);
        w = atomic_load_explicit(&m->waiting, memory_order_relaxed);
        if (!notified && w > 0) /* 0 only after a holder died mid-notify */
            atomic_store_explicit(&m->waiting, w - 1, memory_order_relaxed);
    }
    if (rc == MPROC_EOWNERDEAD)
        return rc;
    return notified ? 0 : mproc__expired(timeout);
}

int mproc_condition_notify(mproc_condition *c, unsigned n)
{
    struct cond_shm *m = cond_shm(c);
    if (!mproc__rlock_mine(c->lock))
        return MPROC_EPERM;
    uint32_t w = atomic_load_explicit(&m->waiting, memory_order_relaxed);
    uint32_t k = n < w ? n : w;
    if (k == 0)
        return 0;
    atomic_fetch_add_explicit(&m->signals, k, memory_order_relaxed);
    uint32_t g = atomic_fetch_add_explicit(&m->gen, 1, memory_order_release);
    atomic_store_explicit(&m->waiting, w - k, memory_order_relaxed);
    if (c->own) {
        uint32_t p = atomic_load_explicit(&m->pending, memory_order_relaxed);
        atomic_store_explicit(&m->pending, p + k < p ? UINT32_MAX : p + k,
                              memory_order_relaxed);
    } else {
        mproc__lock_requeue(&c->lock->lock, &m->gen, g + 1,
                            (int)(k > INT32_MAX ? INT32_MAX : k));
    }
    return 0;
}

int mproc_condition_notify_all(mproc_condition *c)
{
    return mproc_condition_notify(c, UINT32_MAX);
}

void mproc_condition_destroy(mproc_condition *c)
{
    if (!c)
        return;
    cond_shm(c); /* validates c */
    if (c->opened_lock)
        mproc_rlock_destroy(c->given);
    mproc__sync_free(&c->h);
}
