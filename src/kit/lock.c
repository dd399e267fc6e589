/*
 * kit/lock.c - the robust process-shared lock word every mproc lock is.
 *
 * Layout. A lock is one _Atomic uint64_t in shared memory: 0 when free,
 * otherwise the holder's process token (PID in bits 0..29, start time in
 * bits 32..63) with bit 31, MPROC__LOCK_WAITERS, set once anyone may be
 * sleeping on it. The futex word is the low 32 bits of it (PID | WAITERS);
 * only the kernel ever reads that half - C code touches the 64-bit word.
 *
 * Why tokens and not the kernel's robust-futex list. The kernel list is
 * per thread, is owned by glibc (set_robust_list is called once per thread
 * for pthread mutexes; a second list would replace glibc's), names holders
 * by TID, and makes the kernel mark a lock dead when the *thread* exits.
 * Python's Lock may be released by another thread or another process, and
 * a thread may exit while its process holds a Lock: both break a list whose
 * entries belong to the acquiring thread. Tokens name the process, survive
 * PID reuse (the start time differs), and need nothing from glibc. The
 * price is that death is noticed by looking, not told by the kernel: a
 * sleeper re-reads the word every MPROC__SYNC_SLICE_NS (50 ms) and asks
 * /proc whether the holder still lives. Only contended waiters look; the
 * uncontended path never does.
 *
 * Acquire: one compare-and-swap 0 -> token (acquire ordering). Release:
 * exchange -> 0 (release ordering), and a FUTEX_WAKE of one sleeper only
 * if WAITERS was set. Contended: poll a few times with doubling pauses
 * (about a microsecond in all: the holder is usually about to release; few
 * polls, so the holder's cache line is not bounced), then set WAITERS and
 * sleep on the futex half. A waiter that
 * wakes re-marks WAITERS before it may leave (by acquiring, timing out or
 * taking over), as glibc's lll_lock does, so a wake never goes to a waiter
 * that leaves without handing the flag on; a lock acquired from the free
 * state after sleeping carries WAITERS, since other sleepers may remain.
 *
 * Owner death. A token is written by the same CAS that takes the lock, so a
 * holder killed at any instant leaves either a free word or one naming it.
 * A sleeper whose slice ran out (and a try with timeout 0, and a waiter
 * whose deadline passed, once before giving up) reads the holder's token;
 * if that process is gone (mproc__token_alive: no such PID, a zombie, or a
 * PID reused by a process with another start time), it CASes the exact
 * word it read to its own token | WAITERS. One waiter wins; it returns
 * MPROC_EOWNERDEAD holding the lock. The others see a live holder again.
 * A releaser killed between its exchange and its wake leaves sleepers that
 * find the lock free at the end of their slice.
 *
 * Biased words. A queue's lock may be kept by its holder between calls
 * (biased.c): the word then carries MPROC__LOCK_BIASED. Nothing
 * here sleeps on, spins on or takes over such a word: acquire_slow returns
 * MPROC__LOCK_MET_BIAS for the caller to revoke the bias, and take_over
 * leaves it alone (its holder may be alive and idle, or dead: only the
 * revocation can tell a critical section from none).
 *
 * RLock adds the holding thread (pthread_self, unique within the process
 * holding it) and a depth, both written only by the holding thread while it
 * holds the lock, so relaxed ordering suffices: the lock word's acquire and
 * release order them for the next holder. A process token in the word plus
 * the thread makes (process, thread) the owner; a forked child's token
 * differs from its parent's, so it never believes it owns its parent's
 * RLock. A thread that exits holding an RLock in a live process keeps it
 * held (as in Python); only the process's death frees it.
 */
#include "lock.h"

#include "check.h"
#include "log.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#define W MPROC__LOCK_WAITERS

/* Pauses spent polling a contended lock before sleeping: 1 + 2 + ... + 32,
 * doubling gaps between polls (few loads: the holder's cache line is left
 * alone). The poll after the last pause is the sleeping loop's, which takes
 * a free lock marked WAITERS: measured, two processes taking turns on a
 * Value's lock ran a fifth slower with one more plain poll there, or with
 * twice the pauses. */
#define SPIN 63
#define SPIN_CAP 32

/* The 32-bit half of the word that holds the PID and the WAITERS flag. */
static _Atomic uint32_t *futex_half(mproc__lock *l)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (_Atomic uint32_t *)(void *)&l->own;
#else
    return (_Atomic uint32_t *)(void *)&l->own + 1;
#endif
}

static inline bool cas(mproc__lock *l, uint64_t *expected, uint64_t desired)
{
    return atomic_compare_exchange_strong_explicit(
        &l->own, expected, desired, memory_order_acquire, memory_order_relaxed);
}

int mproc__sync_sleep(_Atomic uint32_t *word, uint32_t expected,
                      int64_t deadline)
{
    int64_t now = mproc__now();
    if (now >= deadline)
        return MPROC_ETIMEDOUT;
    bool sliced = deadline - now > MPROC__SYNC_SLICE_NS;
    int rc = mproc__futex_wait(word, expected,
                               sliced ? now + MPROC__SYNC_SLICE_NS : deadline);
    if (rc == MPROC_ETIMEDOUT)
        return sliced ? 1 : MPROC_ETIMEDOUT;
    return 0;
}

void mproc__lock_init(mproc__lock *l)
{
    atomic_init(&l->own, 0);
}

/*
 * Takes the lock from a dead holder if v (just read) names one. Returns
 * true when the caller now holds the lock.
 */
static bool take_over(mproc__lock *l, uint64_t v, uint64_t me)
{
    uint64_t owner = v & ~W;
    if ((v & MPROC__LOCK_BIASED) || owner == 0 || owner == me ||
        mproc__token_alive(owner) || !cas(l, &v, me | W))
        return false;
    mproc__lock_log_recovered(l, owner);
    return true;
}

/* Acquires l for me, the free word becoming me | mark; spins first.
 * Returns MPROC__LOCK_MET_BIAS, untouched, on meeting a biased word. */
static int acquire_slow(mproc__lock *l, uint64_t me, uint64_t mark,
                        int64_t deadline)
{
    mproc__spin sp = mproc__spin_start(SPIN, SPIN_CAP);
    do {
        uint64_t v = atomic_load_explicit(&l->own, memory_order_relaxed);
        if (v == 0 && cas(l, &v, me | mark))
            return 0;
        if (v & MPROC__LOCK_BIASED)
            return MPROC__LOCK_MET_BIAS;
    } while (mproc__spin_more(&sp));
    for (;;) {
        uint64_t v = atomic_load_explicit(&l->own, memory_order_relaxed);
        if (v == 0) {
            if (cas(l, &v, me | W))
                return 0;
            continue;
        }
        if (v & MPROC__LOCK_BIASED)
            return MPROC__LOCK_MET_BIAS;
        if (!(v & W)) {
            if (!cas(l, &v, v | W))
                continue;
            v |= W;
        }
        int rc = mproc__sync_sleep(futex_half(l), (uint32_t)v, deadline);
        if (rc == 0)
            continue;
        v = atomic_load_explicit(&l->own, memory_order_relaxed);
        if (v == 0 && cas(l, &v, me | W))
            return 0;
        if (take_over(l, v, me))
            return MPROC_EOWNERDEAD;
        if (rc == MPROC_ETIMEDOUT)
            return MPROC_ETIMEDOUT;
    }
}

int mproc__lock_acquire_until(mproc__lock *l, int64_t deadline)
{
    return acquire_slow(l, mproc__self_token(), 0, deadline);
}

void mproc__lock_requeue(mproc__lock *l, _Atomic uint32_t *word,
                         uint32_t expected, int n)
{
    assert(mproc__lock_mine(l));
    atomic_fetch_or_explicit(&l->own, W, memory_order_relaxed);
    mproc__futex_requeue(word, expected, futex_half(l), n);
}

int mproc__lock_acquire_slow(mproc__lock *l, double timeout)
{
    if (isnan(timeout))
        return MPROC_EINVAL;
    uint64_t me = mproc__self_token();
    if (timeout == 0) {
        uint64_t v = 0;
        if (cas(l, &v, me))
            return 0;
        return take_over(l, v, me) ? MPROC_EOWNERDEAD : MPROC_EAGAIN;
    }
    int64_t deadline;
    mproc__deadline(timeout, &deadline);
    return acquire_slow(l, me, 0, deadline);
}

void mproc__lock_log_recovered(const mproc__lock *l, uint64_t dead)
{
    MPROC__LOG(MPROC_LOG_INFO, "lock %p recovered from dead holder pid %d",
               (const void *)l, (int)(dead & MPROC__LOCK_PID_MASK));
}

void mproc__lock_wake(mproc__lock *l)
{
    mproc__futex_wake(futex_half(l), 1);
}

bool mproc__lock_locked(const mproc__lock *l)
{
    return atomic_load_explicit(&l->own, memory_order_relaxed) != 0;
}

bool mproc__lock_mine(const mproc__lock *l)
{
    uint64_t v = atomic_load_explicit(&l->own, memory_order_relaxed);
    return v != 0 && (v & ~W) == mproc__self_token();
}

static inline uint64_t self_thread(void)
{
    return (uint64_t)pthread_self();
}

void mproc__rlock_init(mproc__rlock *r)
{
    mproc__lock_init(&r->lock);
    atomic_init(&r->thread, 0);
    atomic_init(&r->count, 0);
}

bool mproc__rlock_mine(const mproc__rlock *r)
{
    return mproc__lock_mine(&r->lock) &&
           atomic_load_explicit(&r->thread, memory_order_relaxed) ==
               self_thread();
}

/* Records the calling thread as holder with depth levels. */
static void rlock_own(mproc__rlock *r, uint32_t depth)
{
    atomic_store_explicit(&r->thread, self_thread(), memory_order_relaxed);
    atomic_store_explicit(&r->count, depth, memory_order_relaxed);
}

int mproc__rlock_acquire(mproc__rlock *r, double timeout)
{
    if (mproc__rlock_mine(r)) {
        uint32_t n = atomic_load_explicit(&r->count, memory_order_relaxed);
        if (n == UINT32_MAX)
            return MPROC_EAGAIN;
        atomic_store_explicit(&r->count, n + 1, memory_order_relaxed);
        return 0;
    }
    int rc = mproc__lock_acquire(&r->lock, timeout);
    if (rc == 0 || rc == MPROC_EOWNERDEAD)
        rlock_own(r, 1);
    return rc;
}

int mproc__rlock_release(mproc__rlock *r)
{
    if (!mproc__rlock_mine(r))
        return MPROC_EPERM;
    uint32_t n = atomic_load_explicit(&r->count, memory_order_relaxed);
    if (n > 1) {
        atomic_store_explicit(&r->count, n - 1, memory_order_relaxed);
        return 0;
    }
    mproc__rlock_release_all(r);
    return 0;
}

uint32_t mproc__rlock_release_all(mproc__rlock *r)
{
    assert(mproc__rlock_mine(r));
    uint32_t n = atomic_load_explicit(&r->count, memory_order_relaxed);
    atomic_store_explicit(&r->count, 0, memory_order_relaxed);
    atomic_store_explicit(&r->thread, 0, memory_order_relaxed);
    mproc__lock_release(&r->lock);
    return n;
}

int mproc__rlock_acquire_depth(mproc__rlock *r, uint32_t depth,
                               bool others_may_sleep)
{
    int rc = acquire_slow(&r->lock, mproc__self_token(),
                          others_may_sleep ? W : 0, MPROC__NO_DEADLINE);
    rlock_own(r, depth);
    return rc;
}
