/*
 * kit/biased.c - the slow paths of the biased lock (biased.h):
 * granting the bias on release, and revoking it.
 *
 * Word states. A biased lock's word is the robust lock word of lock.c,
 * with two more flags. owner | BIASED: owner keeps the lock between its
 * calls and enters critical sections with plain stores to its slot's busy
 * word. owner | BIASED | REVOKING: someone wants it; the owner no longer
 * enters (its re-read of the word sees the change). The revoker that then
 * finds the owner outside its critical section - busy clear, or the owner
 * dead - replaces the word with its own token (and WAITERS, so that its
 * release wakes anyone who slept on the plain lock meanwhile).
 *
 * Why the owner cannot slip in. The owner stores busy = 1, then loads the
 * word; the revoker stores REVOKING (a compare-and-swap), calls
 * mproc__membarrier, then loads busy. The membarrier runs a full barrier
 * on the owner's CPU if it is running (or the owner's next context switch
 * does), so the pair acts as if both sides had fenced between their store
 * and load: the revoker sees busy = 1, or the owner sees REVOKING and
 * backs out (clearing busy). An owner that saw the word unrevoked is
 * inside its critical section until it clears busy with release ordering,
 * which the revoker's acquire load of busy pairs with.
 *
 * Why a slot per process. Between its first look at the word and its
 * store of busy an owner may be preempted for any time, and the bias
 * revoked and granted again meanwhile; its late busy = 1 then 0 must not
 * land on the next owner's busy word. So each process that takes a bias
 * claims a slot (under the plain lock, so claims never race) and keeps it
 * while it lives; a slot is reclaimed only from a dead process. The view
 * records, per handle, the one thread allowed to use the bias; a second
 * thread marks it shared, and its first call revokes the bias from its
 * own process, so two threads never both believe they own it.
 *
 * Crashes. An owner killed outside its critical section leaves busy clear:
 * the revoker takes the lock as if it had been free. Killed inside, busy
 * stays set; the revoker notices the death (mproc__token_alive, at each
 * nap while it waits) and returns MPROC_EOWNERDEAD so the caller repairs,
 * as after a plain holder's death. A revoker killed after marking REVOKING
 * leaves the mark for the next one, which repeats the same steps.
 *
 * Taking over from the dead without a revocation (mproc__biased_take_dead).
 * A process that finds the word naming a dead process needs neither the mark
 * nor the membarrier: the dead enter no critical section again, and their
 * stores are all in memory. It replaces the word it read, whatever its
 * flags, with its own token (and WAITERS) in one compare-and-swap; a revoker
 * waiting on the same dead owner then sees the word change and looks again,
 * and of two such takers one wins. The dead owner's slot keeps its busy word
 * set until claim_slot reclaims the slot; nothing reads it before then, as
 * only a word with BIASED names a slot to look at.
 */
#include "biased.h"

#include "check.h"

#define B MPROC__LOCK_BIASED
#define X MPROC__LOCK_REVOKING
#define W MPROC__LOCK_WAITERS
#define SPIN 400 /* looks at busy before napping */

static uint64_t word(const mproc__biased *b)
{
    return atomic_load_explicit(&b->lock.own, memory_order_acquire);
}

static bool cas_word(mproc__biased *b, uint64_t *expected, uint64_t desired)
{
    return atomic_compare_exchange_strong_explicit(
        &b->lock.own, expected, desired, memory_order_acq_rel,
        memory_order_acquire);
}

/*
 * Waits until the owner of v is outside its critical section (its busy
 * word, in slot, clear) while the word stays v. Returns 0, 1 if the owner
 * died inside it, MPROC_EAGAIN when the word changed (another revoker
 * finished), MPROC_ETIMEDOUT at the deadline.
 */
static int wait_idle(mproc__biased *b, _Atomic uint32_t *busy, uint64_t v,
                     int64_t deadline)
{
    mproc__spin sp = mproc__spin_start(SPIN, 1);
    int64_t nap = 0;
    for (bool napped = false;;) {
        if (word(b) != v)
            return MPROC_EAGAIN;
        if (atomic_load_explicit(busy, memory_order_acquire) == 0)
            return 0;
        if (mproc__spin_more(&sp))
            continue;
        if (napped && !mproc__token_alive(v & ~(B | X | W)))
            return 1;
        napped = true;
        if (mproc__nap(deadline, &nap) == 0)
            return MPROC_ETIMEDOUT;
    }
}

/*
 * Revokes the bias on the word v (read with BIASED set) and takes the
 * lock. Returns 0, MPROC_EOWNERDEAD, MPROC_ETIMEDOUT, or MPROC_EAGAIN when
 * the word changed under it (look again).
 */
static int revoke_bias(mproc__biased *b, uint64_t v, int64_t deadline)
{
    if (!(v & B))
        return MPROC_EAGAIN;
    if (!(v & X)) {
        if (!cas_word(b, &v, v | X))
            return MPROC_EAGAIN;
        v |= X;
    }
    uint32_t slot = atomic_load_explicit(&b->slot, memory_order_relaxed);
    MPROC__CHECK(slot < MPROC__BIASED_SLOTS, "mproc: biased lock corrupted");
    MPROC__CHECK(mproc__membarrier() == 0,
                 "mproc: membarrier failed in a registered process");
    int rc = wait_idle(b, &b->slots[slot].busy, v, deadline);
    if (rc < 0)
        return rc;
    if (!cas_word(b, &v, mproc__self_token() | W))
        return MPROC_EAGAIN;
    if (rc == 1)
        mproc__lock_log_recovered(&b->lock, v & ~(B | X | W));
    return rc == 1 ? MPROC_EOWNERDEAD : 0;
}

int mproc__biased_acquire_until(mproc__biased *b, int64_t deadline)
{
    for (;;) {
        int rc = mproc__lock_acquire_until(&b->lock, deadline);
        if (rc == MPROC__LOCK_MET_BIAS)
            rc = revoke_bias(b, word(b), deadline);
        if (rc != MPROC_EAGAIN)
            return rc;
    }
}

int mproc__biased_try(mproc__biased *b)
{
    for (;;) {
        if (mproc__lock_try(&b->lock))
            return 0;
        uint64_t v = word(b);
        if (v == 0)
            continue;
        if (!(v & B))
            return MPROC_EAGAIN;
        int rc = revoke_bias(b, v, mproc__now());
        if (rc != MPROC_EAGAIN)
            return rc == MPROC_ETIMEDOUT ? MPROC_EAGAIN : rc;
    }
}

int mproc__biased_take_dead(mproc__biased *b)
{
    uint64_t v = word(b), owner = v & ~(B | X | W), me = mproc__self_token();
    if (owner == 0 || owner == me || mproc__token_alive(owner) ||
        !cas_word(b, &v, me | W))
        return MPROC_EAGAIN;
    mproc__lock_log_recovered(&b->lock, owner);
    return MPROC_EOWNERDEAD;
}

/* Whether the calling thread is the only one that has used view v (the
 * first to ask becomes it). */
static bool sole_user(mproc__biased_view *v)
{
    uintptr_t self = (uintptr_t)pthread_self(), user = 0;
    return atomic_compare_exchange_strong(&v->user, &user, self) ||
           user == self;
}

/* Claims a slot for process me (under the plain lock), or finds the one
 * it has; false when live processes hold all of them. */
static bool claim_slot(mproc__biased *b, mproc__biased_view *v, uint64_t me)
{
    if (v->token == me && atomic_load(&b->slots[v->slot].token) == me)
        return true;
    int found = -1;
    for (int k = 0; k < MPROC__BIASED_SLOTS && found < 0; k++)
        if (atomic_load(&b->slots[k].token) == 0)
            found = k;
    for (int k = 0; k < MPROC__BIASED_SLOTS && found < 0; k++)
        if (!mproc__token_alive(atomic_load(&b->slots[k].token)))
            found = k;
    if (found < 0)
        return false;
    atomic_store(&b->slots[found].busy, 0); /* a dead owner's may be set */
    atomic_store(&b->slots[found].token, me);
    v->token = me;
    v->slot = (uint32_t)found;
    return true;
}

void mproc__biased_release(mproc__biased *b, mproc__biased_view *v)
{
    if (!v->enabled) {
        mproc__lock_release(&b->lock);
        return;
    }
    uint64_t me = mproc__self_token();
    uint32_t run = atomic_load_explicit(&b->last, memory_order_relaxed) == me
                       ? atomic_load_explicit(&b->run, memory_order_relaxed) + 1
                       : 1;
    atomic_store_explicit(&b->last, me, memory_order_relaxed);
    atomic_store_explicit(&b->run, run, memory_order_relaxed);
    if (run % MPROC__BIASED_RUN == 0 && sole_user(v) && claim_slot(b, v, me)) {
        atomic_store_explicit(&b->slot, v->slot, memory_order_relaxed);
        uint64_t held = me; /* no WAITERS: nobody sleeps on it */
        if (cas_word(b, &held, me | B))
            return;
    }
    mproc__lock_release(&b->lock);
}
