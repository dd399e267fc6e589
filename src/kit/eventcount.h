/*
 * kit/eventcount.h - sleeping until a condition in shared memory changes,
 * with no lost wake-up and no system call when nobody sleeps.
 *
 * An eventcount (Concurrency Kit's ck_ec, Vyukov's) sits beside any
 * condition that one side publishes and the other waits for: a queue's
 * data and room, a pool's results and work. It is three words: a futex
 * sequence, an announce counter that each sleeper bumps before it sleeps,
 * and handled, the announce value as of the last completed wake.
 *
 * A sleeper reads the sequence, bumps announce, fences, re-checks its
 * condition, and futex-waits on the sequence it read (mproc__ec_prepare,
 * then mproc__ec_sleep). A waker, after it publishes its change, fences
 * and, only if announce differs from handled, bumps the sequence, wakes
 * every sleeper and then stores handled = the announce it read
 * (mproc__ec_wake). So there is no syscall when nobody sleeps, and no lost
 * wake-up: either the sleeper's re-check sees the change or the waker sees
 * the announcement. Any number of sleepers and wakers may share one.
 *
 * Crashes. A waker killed before its wake call leaves handled behind, so
 * the next waker wakes instead; a sleeper that died costs one needless
 * wake. A waker killed after publishing its change but before its wake
 * leaves the sleepers asleep until the next waker: a wait that must not
 * depend on there being one sleeps in slices (mproc__ec_sleep_sliced) and
 * looks again, and repairs what a dead peer left, at the end of each.
 *
 * The asymmetric variant (asym), for processes registered with
 * mproc__membarrier_register: the waker leaves out its fence (a compiler
 * barrier stands in), so publishing on a hot path costs no locked
 * instruction, and the sleeper pays instead. A waker's change may then
 * still sit in its store buffer when a sleeper announces itself, so the
 * two can miss each other. Only the sleeper's mproc__membarrier closes
 * that window, and it interrupts every CPU running a registered process,
 * which in a tight ping-pong costs more than the wait. So a wait's first
 * sleep goes without it (unsure) and lasts at most MPROC__EC_UNSURE_NS,
 * and the caller then looks again after a sure announcement (one that ran
 * the membarrier), even if its deadline has passed, so a missed wake never
 * turns into a timeout; later sleeps of the wait are sure. The window is
 * a store's time in a store buffer: an unsure announcement pauses a while
 * before the caller's last look, so that a change made before it is seen
 * then, and the bound is almost never what ends a sleep.
 *
 * The three words may sit on one cache line; keep them off the lines the
 * two sides write on their hot paths.
 */
#ifndef MPROC_KIT_EVENTCOUNT_H
#define MPROC_KIT_EVENTCOUNT_H

#include "../sys/sys.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* asym: the longest sleep before a wait announces itself surely. */
#define MPROC__EC_UNSURE_NS ((int64_t)1000000)

typedef struct mproc__ec {
    _Atomic uint32_t seq;      /* bumped by a wake; the futex */
    _Atomic uint32_t announce; /* bumped by each sleeper before it sleeps */
    _Atomic uint32_t handled;  /* announce as of the last completed wake */
} mproc__ec;

_Static_assert(sizeof(mproc__ec) == 12, "an eventcount is three words");

/* One wait on an eventcount, across its sleeps (not shared). */
typedef struct mproc__ec_wait {
    uint32_t seq; /* the sequence this wait sleeps on */
    bool asym;    /* the eventcount's wakers leave the fence to sleepers */
    bool sure;    /* asym: this wait's announcements run the membarrier */
} mproc__ec_wait;

/* mproc__ec_begin - start a wait; asym as the eventcount's wakers are. */
static inline mproc__ec_wait mproc__ec_begin(bool asym)
{
    mproc__ec_wait w = {0, asym, false};
    return w;
}

/*
 * mproc__ec_prepare - announce a sleep: read the sequence to sleep on into
 * w, then bump announce, with a full fence after. The caller then re-checks
 * its condition and, if it still holds, calls mproc__ec_sleep.
 */
void mproc__ec_prepare(mproc__ec *ec, mproc__ec_wait *w);

/*
 * mproc__ec_sleep - sleep on the sequence w read, until woken or the
 * deadline. Returns 0 (woken, a signal, or the end of an unsure sleep: the
 * caller re-checks its condition, and looks once more after its next,
 * sure, mproc__ec_prepare even if the deadline has passed), or
 * MPROC_ETIMEDOUT once the deadline has passed on a sure sleep.
 */
int mproc__ec_sleep(mproc__ec *ec, mproc__ec_wait *w, int64_t deadline);

/*
 * mproc__ec_sleep_sliced - mproc__ec_sleep for a wait that must notice what
 * a dead process left (a change it published without the wake, or half an
 * operation for the waiter to repair): it sleeps at most slice_ns at a time.
 * Returns as mproc__ec_sleep, or 1 when a slice ran out before the
 * deadline. The caller then re-checks its condition, repairs what it may,
 * and calls this again with the same w and no new mproc__ec_prepare: its
 * announcement stands until a wake bumps the sequence, and such a wake
 * ends the sleep at once (so a sure wait stays sure without another
 * membarrier). Reads the clock on each call.
 */
int mproc__ec_sleep_sliced(mproc__ec *ec, mproc__ec_wait *w, int64_t deadline,
                           int64_t slice_ns);

/* The slow half of mproc__ec_wake: a sleeper announced itself. */
void mproc__ec_wake_slow(mproc__ec *ec, uint32_t announce);

/*
 * mproc__ec_wake - after publishing a change: wake the sleepers, if any
 * announced themselves since the last completed wake. asym: the fence is
 * left to the sleepers (they must use the same asym). Without sleepers it
 * is a fence (or only a compiler barrier) and two loads.
 */
static inline void mproc__ec_wake(mproc__ec *ec, bool asym)
{
    if (asym)
        atomic_signal_fence(memory_order_seq_cst);
    else
        atomic_thread_fence(memory_order_seq_cst);
    uint32_t a = atomic_load_explicit(&ec->announce, memory_order_relaxed);
    if (__builtin_expect(
            a != atomic_load_explicit(&ec->handled, memory_order_relaxed), 0))
        mproc__ec_wake_slow(ec, a);
}

/* mproc__ec_wake_all - wake every sleeper unconditionally (a shutdown). */
void mproc__ec_wake_all(mproc__ec *ec);

#endif /* MPROC_KIT_EVENTCOUNT_H */
