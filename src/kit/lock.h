/*
 * kit/lock.h - the robust process-shared lock every mproc lock is: the
 * public Lock, RLock, Condition and Barrier, and the locks areas embed.
 *
 * A mproc__lock is one 8-byte word that may sit anywhere in shared memory
 * (a Queue's header, a shared Value's page, a Pool's table): the caller
 * provides the memory, zero-filled or passed to mproc__lock_init, 8-byte
 * aligned and ideally on a cache line of its own. No handle, no mapping, no
 * destroy: the word is the lock. A mproc__rlock adds the owning thread and
 * a recursion count, for Python's RLock (the default lock of a shared Value
 * or Array).
 *
 * The word holds the holder's process token (sys.h: PID | start time << 32)
 * with bit 31 - above every PID - flagging sleepers. One compare-and-swap
 * names the holder completely, so there is no instant at which a lock is
 * held by nobody known: a holder killed at any point leaves either a free
 * lock or one that names it. Sleepers wake at least every
 * MPROC__SYNC_SLICE_NS to re-read the word and, if its holder's token is no
 * longer alive, take the lock over and report MPROC_EOWNERDEAD. See
 * src/kit/lock.c for the full argument.
 *
 * Safety facts: every function is thread-safe and works across processes
 * (the futex calls are process-shared); a lock word copied into a forked
 * child is the same lock (MAP_SHARED). A process dying anywhere inside
 * these calls leaves the word either free or naming it (then taken over).
 */
#ifndef MPROC_KIT_LOCK_H
#define MPROC_KIT_LOCK_H

#include "../sys/sys.h"
#include "spin.h"
#include "token.h"

#include <math.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>

/* The flag in a lock word that says a waiter may be sleeping on it. */
#define MPROC__LOCK_WAITERS ((uint64_t)1 << 31)

/* The flags of a biased lock word (biased.h): its holder keeps it between
 * calls; someone is revoking that. PIDs stay below bit 22. */
#define MPROC__LOCK_BIASED ((uint64_t)1 << 30)
#define MPROC__LOCK_REVOKING ((uint64_t)1 << 29)

/* The holder's PID in a lock word (PIDs stay below bit 22). */
#define MPROC__LOCK_PID_MASK (((uint64_t)1 << 22) - 1)

/* What mproc__lock_acquire_until returns, leaving the word untouched, when
 * it finds the lock biased (only an mproc__biased's word ever is). */
#define MPROC__LOCK_MET_BIAS 1

/* How long any sleep on a lock or a sync object lasts before it re-checks
 * the world (sync.h's MPROC_SYNC_CHECK_MS): the bound on noticing a dead
 * holder, or a wake lost to a killed waker. */
#define MPROC__SYNC_SLICE_NS ((int64_t)50 * 1000000)

typedef struct mproc__lock {
    _Atomic uint64_t own; /* 0: free; else holder token | maybe WAITERS */
} mproc__lock;

_Static_assert(sizeof(mproc__lock) == 8 && _Alignof(mproc__lock) == 8,
               "a lock is one aligned 8-byte word");

typedef struct mproc__rlock {
    mproc__lock lock;
    _Atomic uint64_t thread; /* pthread_self() of the holder, 0 if none */
    _Atomic uint32_t count;  /* recursion depth, written by the holder */
} mproc__rlock;

/* mproc__lock_init - make *l a free lock (zero-filled memory already is). */
void mproc__lock_init(mproc__lock *l);

/* The slow paths of the two inline functions below. */
int mproc__lock_acquire_slow(mproc__lock *l, double timeout);
void mproc__lock_wake(mproc__lock *l);

/*
 * mproc__lock_try - take the lock if it is free: one compare-and-swap
 * (acquire ordering), no system call, no wait and no look at a holder's
 * life. Returns whether the caller now holds it. For a caller that must
 * not wait (or that does its own bookkeeping before waiting with
 * mproc__lock_acquire_until).
 */
static inline bool mproc__lock_try(mproc__lock *l)
{
    uint64_t free_word = 0;
    return atomic_compare_exchange_strong_explicit(
        &l->own, &free_word, mproc__self_token(), memory_order_acquire,
        memory_order_relaxed);
}

/*
 * mproc__lock_acquire - take the lock, waiting at most timeout seconds
 * (MPROC_FOREVER: as long as it takes; 0: try once).
 *
 * Returns 0; MPROC_EOWNERDEAD when the lock was taken over from a holder
 * that died (the caller holds it now and should repair what it guards);
 * MPROC_EAGAIN (timeout 0) or MPROC_ETIMEDOUT when a live process held it
 * throughout; MPROC_EINVAL for a NaN timeout. Uncontended, it is one
 * compare-and-swap (acquire ordering) and no system call.
 */
static inline int mproc__lock_acquire(mproc__lock *l, double timeout)
{
    if (__builtin_expect(!isnan(timeout), 1) &&
        __builtin_expect(mproc__lock_try(l), 1))
        return 0;
    return mproc__lock_acquire_slow(l, timeout);
}

/* mproc__lock_acquire_until - the same against an absolute deadline
 * (sys.h); returns MPROC_ETIMEDOUT, never MPROC_EAGAIN, when it passes
 * (after one last look at whether the holder died). It always spins and
 * sleeps as mproc__lock_acquire does: callers that want a cheap first try
 * call mproc__lock_try before it. On a biased word it returns
 * MPROC__LOCK_MET_BIAS at once (mproc__block_acquire_until handles it). */
int mproc__lock_acquire_until(mproc__lock *l, int64_t deadline);

/*
 * mproc__lock_requeue - move up to n sleepers from futex word (if it still
 * holds expected) onto l's futex, marking l WAITERS so that its release
 * wakes them one at a time. The caller holds l. Condition.notify uses it:
 * a notified waiter then wakes once, when the lock is free.
 */
void mproc__lock_requeue(mproc__lock *l, _Atomic uint32_t *word,
                         uint32_t expected, int n);

/*
 * mproc__lock_release - free the lock, whoever holds it (Python's Lock may
 * be released by any process), waking one sleeper if any. Release ordering.
 * Returns 0, or MPROC_EINVAL if the lock was not held.
 */
static inline int mproc__lock_release(mproc__lock *l)
{
    uint64_t old = atomic_exchange_explicit(&l->own, 0, memory_order_release);
    if (__builtin_expect((old & MPROC__LOCK_WAITERS) != 0, 0))
        mproc__lock_wake(l);
    return old != 0 ? 0 : MPROC_EINVAL;
}

/*
 * mproc__lock_log_recovered - log (kit/log.h) that the caller took l over
 * from dead, the token of a holder that died: the event "lock recovered
 * from a dead owner", for every lock built on this word.
 */
void mproc__lock_log_recovered(const mproc__lock *l, uint64_t dead);

/* mproc__lock_locked - whether anyone (alive or not) holds the lock. */
bool mproc__lock_locked(const mproc__lock *l);

/* mproc__lock_mine - whether the calling process holds the lock. */
bool mproc__lock_mine(const mproc__lock *l);

/* mproc__rlock_init - make *r a free RLock (zero-filled memory already is). */
void mproc__rlock_init(mproc__rlock *r);

/*
 * mproc__rlock_acquire - take the RLock for the calling thread, or add one
 * level if it already holds it. Returns as mproc__lock_acquire, plus
 * MPROC_EAGAIN when the recursion depth would overflow 2^32 - 1. On
 * MPROC_EOWNERDEAD the dead holder's levels are discarded: the caller holds
 * exactly one.
 */
int mproc__rlock_acquire(mproc__rlock *r, double timeout);

/*
 * mproc__rlock_release - drop one level; the last frees the lock.
 * Returns 0, or MPROC_EPERM if the calling thread does not hold it.
 */
int mproc__rlock_release(mproc__rlock *r);

/* mproc__rlock_mine - whether the calling thread of this process holds r. */
bool mproc__rlock_mine(const mproc__rlock *r);

/*
 * mproc__rlock_release_all - free r entirely (Condition.wait): returns the
 * depth that was held, to give back to mproc__rlock_acquire_depth. The
 * caller must hold r.
 */
uint32_t mproc__rlock_release_all(mproc__rlock *r);

/*
 * mproc__rlock_acquire_depth - take r, as long as it takes, with the given
 * recursion depth (after mproc__rlock_release_all). others_may_sleep: mark
 * the word WAITERS even when it is taken free, because sleepers may have
 * been moved onto it (mproc__lock_requeue) without setting the flag for
 * each. Returns 0 or MPROC_EOWNERDEAD.
 */
int mproc__rlock_acquire_depth(mproc__rlock *r, uint32_t depth,
                               bool others_may_sleep);

/*
 * mproc__sync_sleep - sleep on a process-shared futex word while it holds
 * expected, until woken, the deadline, or the end of one
 * MPROC__SYNC_SLICE_NS slice, whichever comes first.
 * Returns 0 when woken (or the word differed, or a signal came), 1 when the
 * slice ran out, MPROC_ETIMEDOUT once the deadline has passed. The caller
 * re-checks its condition in every case: these are hints, not results.
 */
int mproc__sync_sleep(_Atomic uint32_t *word, uint32_t expected,
                      int64_t deadline);

/*
 * mproc__sync_take - take one unit from a counter word (a Semaphore's
 * value, a Condition's wake-up tokens): decrement it if it is above 0, with
 * acquire ordering. Returns whether a unit was taken.
 */
static inline bool mproc__sync_take(_Atomic uint32_t *word)
{
    uint32_t v = atomic_load_explicit(word, memory_order_relaxed);
    while (v > 0)
        if (atomic_compare_exchange_weak_explicit(
                word, &v, v - 1, memory_order_acquire, memory_order_relaxed))
            return true;
    return false;
}

#endif /* MPROC_KIT_LOCK_H */
