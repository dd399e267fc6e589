/*
 * kit/eventcount.c - the slow paths of the eventcount (eventcount.h).
 */
#include "eventcount.h"

#include "check.h"
#include "spin.h"

#include <limits.h>

/* asym: pauses between an unsure announcement and the caller's last look. */
#define SETTLE 64

/*
 * The sequence is read before announcing. In this order a waker that
 * reads (and so marks handled) the announcement bumps the sequence after
 * the sleeper read it, so the sleep returns at once. Read after announcing,
 * a late wake (for a change the sleeper already saw) could mark the
 * announcement handled and leave the sleeper asleep on the bumped value,
 * with no later waker to wake it.
 */
void mproc__ec_prepare(mproc__ec *ec, mproc__ec_wait *w)
{
    w->seq = atomic_load(&ec->seq);
    atomic_fetch_add(&ec->announce, 1);
    atomic_thread_fence(memory_order_seq_cst);
    if (!w->asym)
        return;
    if (w->sure)
        MPROC__CHECK(mproc__membarrier() == 0,
                     "mproc: membarrier failed in a registered process");
    else
        for (int k = 0; k < SETTLE; k++)
            mproc__cpu_relax();
}

int mproc__ec_sleep(mproc__ec *ec, mproc__ec_wait *w, int64_t deadline)
{
    if (w->asym && !w->sure) {
        w->sure = true;
        int64_t bound = mproc__now() + MPROC__EC_UNSURE_NS;
        mproc__futex_wait(&ec->seq, w->seq,
                          bound < deadline ? bound : deadline);
        return 0; /* a sure look decides, even at the deadline */
    }
    return mproc__futex_wait(&ec->seq, w->seq, deadline);
}

int mproc__ec_sleep_sliced(mproc__ec *ec, mproc__ec_wait *w, int64_t deadline,
                           int64_t slice_ns)
{
    int64_t now = mproc__now();
    if (deadline - now <= slice_ns)
        return mproc__ec_sleep(ec, w, deadline);
    return mproc__ec_sleep(ec, w, now + slice_ns) == MPROC_ETIMEDOUT ? 1 : 0;
}

/* handled is stored only after the wake call, so a waker killed before it
 * leaves the wake to the next one. */
void mproc__ec_wake_slow(mproc__ec *ec, uint32_t announce)
{
    atomic_fetch_add(&ec->seq, 1);
    mproc__futex_wake(&ec->seq, INT_MAX);
    atomic_store_explicit(&ec->handled, announce, memory_order_release);
}

void mproc__ec_wake_all(mproc__ec *ec)
{
    atomic_fetch_add(&ec->seq, 1);
    mproc__futex_wake(&ec->seq, INT_MAX);
}
