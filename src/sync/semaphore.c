/*
 * sync/semaphore.c - Semaphore and BoundedSemaphore.
 *
 * Layout of the page (memfd "mproc-semaphore"):
 *   header    magic, version
 *   initial   the start value (bounded: the ceiling), bounded flag
 *   value     units available: the futex word     (own cache line)
 *   waiters   processes/threads inside the sleeping part of acquire
 *
 * Acquire takes a unit with a compare-and-swap while value > 0. Otherwise
 * it counts itself in waiters (seq_cst) and sleeps on value == 0. Release
 * adds a unit with a seq_cst compare-and-swap and then reads waiters
 * (seq_cst): the two sides form a Dekker pair - either the waiter sees the
 * new unit before sleeping (the futex compares value with 0 atomically) or
 * the releaser sees the waiter and wakes one.
 *
 * No owner, so no owner death: a unit held by a process that dies is gone,
 * as in Python. A waiter killed while counted leaves waiters one too high:
 * releases then make one futex wake that may find no sleeper - slower,
 * never wrong. A releaser killed between adding its unit and waking leaves
 * sleepers that see the unit at the end of their slice (50 ms).
 */
#include "sync.h"

#include <limits.h>
#include <math.h>

#define SEM_SHM_MAGIC 0x6d53454du /* "mSEM" */

struct sem_shm {
    mproc__sync_header hdr;
    uint32_t initial;
    uint32_t bounded;
    alignas(MPROC__CACHE_LINE) _Atomic uint32_t value;
    _Atomic uint32_t waiters;
};

MPROC__SYNC_LAYOUT(struct sem_shm, value);

struct mproc_semaphore {
    mproc__sync_head h;
};

int mproc_semaphore_create(mproc_semaphore **out, unsigned value, bool bounded)
{
    if (!out || value > INT_MAX)
        return MPROC_EINVAL;
    mproc__sync_head *h;
    int rc = mproc__sync_new(sizeof(mproc_semaphore), sizeof(struct sem_shm),
                             "mproc-semaphore", SEM_SHM_MAGIC, &h);
    if (rc != 0)
        return rc;
    struct sem_shm *m = mproc__sync_shm(h);
    m->initial = value;
    m->bounded = bounded;
    atomic_init(&m->value, value);
    atomic_init(&m->waiters, 0);
    *out = (mproc_semaphore *)h;
    return 0;
}

int mproc_semaphore_open(mproc_semaphore **out, mproc_ref ref)
{
    mproc__sync_head *h;
    int rc = mproc__sync_open(ref, MPROC__REF_SEMAPHORE, SEM_SHM_MAGIC,
                              sizeof(mproc_semaphore), sizeof(struct sem_shm),
                              out ? &h : NULL);
    if (rc == 0)
        *out = (mproc_semaphore *)h;
    return rc;
}

static struct sem_shm *sem_shm(const mproc_semaphore *s)
{
    MPROC__CHECK(s && s->h.magic == MPROC__SYNC_LIVE,
                 "invalid or destroyed Semaphore");
    return mproc__sync_shm(&s->h);
}

int mproc_semaphore_ref(mproc_semaphore *s, mproc_ref *out)
{
    sem_shm(s); /* validates s */
    return mproc__sync_ref(&s->h, MPROC__REF_SEMAPHORE, out);
}

/* Takes a unit if one is there. */
static bool try_take(struct sem_shm *m)
{
    return mproc__sync_take(&m->value);
}

int mproc_semaphore_acquire(mproc_semaphore *s, double timeout)
{
    struct sem_shm *m = sem_shm(s);
    if (isnan(timeout))
        return MPROC_EINVAL;
    if (try_take(m))
        return 0;
    if (timeout == 0)
        return MPROC_EAGAIN;
    int64_t deadline;
    mproc__deadline(timeout, &deadline);
    atomic_fetch_add_explicit(&m->waiters, 1, memory_order_seq_cst);
    atomic_thread_fence(memory_order_seq_cst); /* count, then look at value */
    int rc = 0;
    while (!try_take(m)) {
        if (mproc__sync_sleep(&m->value, 0, deadline) == MPROC_ETIMEDOUT &&
            !try_take(m)) {
            rc = MPROC_ETIMEDOUT;
            break;
        }
    }
    atomic_fetch_sub_explicit(&m->waiters, 1, memory_order_relaxed);
    return rc;
}

int mproc_semaphore_release(mproc_semaphore *s)
{
    struct sem_shm *m = sem_shm(s);
    uint32_t limit = m->bounded ? m->initial : INT_MAX;
    uint32_t v = atomic_load_explicit(&m->value, memory_order_relaxed);
    do {
        if (v >= limit)
            return MPROC_EINVAL;
    } while (!atomic_compare_exchange_weak_explicit(
        &m->value, &v, v + 1, memory_order_seq_cst, memory_order_relaxed));
    if (atomic_load_explicit(&m->waiters, memory_order_seq_cst) > 0)
        mproc__futex_wake(&m->value, 1);
    return 0;
}

int mproc_semaphore_get_value(mproc_semaphore *s)
{
    return (int)atomic_load_explicit(&sem_shm(s)->value, memory_order_relaxed);
}

bool mproc_semaphore_locked(mproc_semaphore *s)
{
    return mproc_semaphore_get_value(s) == 0;
}

void mproc_semaphore_destroy(mproc_semaphore *s)
{
    if (!s)
        return;
    sem_shm(s); /* validates s */
    mproc__sync_free(&s->h);
}
