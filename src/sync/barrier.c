/*
 * sync/barrier.c - Barrier: parties meet, then all go on.
 *
 * Layout (memfd "mproc-barrier", one page or more):
 *   header    magic, version, parties
 *   lock      a robust lock guarding everything below (own cache line)
 *   gen       generation number: the futex word waiters sleep on
 *   count     parties arrived in this generation
 *   broken    the barrier is broken (until reset)
 *   history   bit g % 64 set when generation g ended broken
 *   slots     the process tokens of this generation's arrivals, by index
 *
 * A generation ends once: by a trip (the last party arrives), by a break
 * (timeout, abort, a dead party, a dead holder of the internal lock) or by
 * a reset while parties wait (which breaks them). Ending it records the
 * outcome in history, empties count and slots, bumps gen and wakes every
 * sleeper. A waiter of generation g learns its fate from history bit g % 64
 * once gen != g; later generations cannot overwrite that bit before the
 * waiter reads it unless 64 more generations end first - it would then
 * report success, the likelier outcome. Unlike Python's threading.Barrier
 * there is no draining phase that waits for the last waiter to leave, so
 * a waiter that dies after the trip can hold nobody up.
 *
 * Crash. Each sleeping waiter wakes at least every 50 ms, takes the lock
 * and checks that every party recorded in slots still lives; a dead one
 * breaks the barrier. A process killed while holding the internal lock
 * leaves the bookkeeping suspect: whoever next takes the lock (and gets
 * MPROC_EOWNERDEAD) breaks the barrier, which reset then repairs, since
 * reset rewrites every field.
 */
#include "sync.h"

#include <limits.h>
#include <math.h>

#define BARRIER_SHM_MAGIC 0x6d424152u /* "mBAR" */
#define MAX_PARTIES (1u << 20)

struct barrier_shm {
    mproc__sync_header hdr;
    uint32_t parties;
    alignas(MPROC__CACHE_LINE) mproc__lock lock;
    alignas(MPROC__CACHE_LINE) _Atomic uint32_t gen;
    _Atomic uint32_t count;
    _Atomic uint32_t broken;
    _Atomic uint64_t history;
    _Atomic uint64_t slots[];
};

MPROC__SYNC_LAYOUT(struct barrier_shm, lock);
MPROC__SYNC_LAYOUT(struct barrier_shm, gen);

struct mproc_barrier {
    mproc__sync_head h;
};

/* The bytes of the page of a barrier of that many parties. */
static size_t barrier_size(uint32_t parties)
{
    return sizeof(struct barrier_shm) + parties * sizeof(uint64_t);
}

int mproc_barrier_create(mproc_barrier **out, unsigned parties)
{
    if (!out || parties == 0 || parties > MAX_PARTIES)
        return MPROC_EINVAL;
    mproc__sync_head *h;
    int rc = mproc__sync_new(sizeof(mproc_barrier), barrier_size(parties),
                             "mproc-barrier", BARRIER_SHM_MAGIC, &h);
    if (rc != 0)
        return rc;
    struct barrier_shm *m = mproc__sync_shm(h);
    m->parties = parties; /* the rest is zero-filled: empty, whole */
    *out = (mproc_barrier *)h;
    return 0;
}

int mproc_barrier_open(mproc_barrier **out, mproc_ref ref)
{
    mproc__sync_head *h;
    int rc = mproc__sync_open(ref, MPROC__REF_BARRIER, BARRIER_SHM_MAGIC,
                              sizeof(mproc_barrier), sizeof(struct barrier_shm),
                              out ? &h : NULL);
    if (rc != 0)
        return rc;
    const struct barrier_shm *m = mproc__sync_shm(h);
    if (m->parties == 0 || m->parties > MAX_PARTIES ||
        h->map.len < barrier_size(m->parties)) {
        mproc__sync_free(h);
        return MPROC_EINVAL;
    }
    *out = (mproc_barrier *)h;
    return 0;
}

static struct barrier_shm *barrier_shm(const mproc_barrier *b)
{
    MPROC__CHECK(b && b->h.magic == MPROC__SYNC_LIVE,
                 "invalid or destroyed Barrier");
    return mproc__sync_shm(&b->h);
}

int mproc_barrier_ref(mproc_barrier *b, mproc_ref *out)
{
    barrier_shm(b); /* validates b */
    return mproc__sync_ref(&b->h, MPROC__REF_BARRIER, out);
}

/* Ends generation g with the given outcome; the caller holds the lock. */
static void end_generation(struct barrier_shm *m, uint32_t g, bool broken)
{
    assert(mproc__lock_mine(&m->lock));
    uint64_t bit = (uint64_t)1 << (g % 64);
    uint64_t h = atomic_load_explicit(&m->history, memory_order_relaxed);
    atomic_store_explicit(&m->history, broken ? h | bit : h & ~bit,
                          memory_order_relaxed);
    uint32_t n = atomic_load_explicit(&m->count, memory_order_relaxed);
    for (uint32_t i = 0; i < n && i < m->parties; i++)
        atomic_store_explicit(&m->slots[i], 0, memory_order_relaxed);
    atomic_store_explicit(&m->count, 0, memory_order_relaxed);
    atomic_store_explicit(&m->gen, g + 1, memory_order_release);
    mproc__futex_wake(&m->gen, INT_MAX);
}

/* Breaks the barrier; the caller holds the lock. */
static void break_locked(struct barrier_shm *m)
{
    assert(mproc__lock_mine(&m->lock));
    if (atomic_load_explicit(&m->broken, memory_order_relaxed))
        return;
    atomic_store_explicit(&m->broken, 1, memory_order_relaxed);
    end_generation(m, atomic_load_explicit(&m->gen, memory_order_relaxed),
                   true);
}

/* Takes the internal lock; bookkeeping left by a dead holder is not
 * trusted: the barrier is broken. */
static void lock_barrier(struct barrier_shm *m)
{
    if (mproc__lock_acquire(&m->lock, MPROC_FOREVER) == MPROC_EOWNERDEAD)
        break_locked(m);
}

/* Whether a party recorded in the current generation has died. */
static bool party_died(struct barrier_shm *m)
{
    uint32_t n = atomic_load_explicit(&m->count, memory_order_relaxed);
    uint64_t me = mproc__self_token();
    for (uint32_t i = 0; i < n && i < m->parties; i++) {
        uint64_t t = atomic_load_explicit(&m->slots[i], memory_order_relaxed);
        if (t != 0 && t != me && !mproc__token_alive(t))
            return true;
    }
    return false;
}

/* The result of a wait in generation g, which has ended. */
static int outcome(struct barrier_shm *m, uint32_t g, uint32_t index)
{
    uint64_t h = atomic_load_explicit(&m->history, memory_order_acquire);
    return h & ((uint64_t)1 << (g % 64)) ? MPROC_EBROKEN : (int)index;
}

int mproc_barrier_wait(mproc_barrier *b, double timeout)
{
    struct barrier_shm *m = barrier_shm(b);
    int64_t deadline;
    if (mproc__deadline(timeout, &deadline) != 0)
        return MPROC_EINVAL;
    lock_barrier(m);
    if (atomic_load_explicit(&m->broken, memory_order_relaxed)) {
        mproc__lock_release(&m->lock);
        return MPROC_EBROKEN;
    }
    uint32_t g = atomic_load_explicit(&m->gen, memory_order_relaxed);
    uint32_t index = atomic_load_explicit(&m->count, memory_order_relaxed);
    if (index + 1 >= m->parties) {
        end_generation(m, g, false);
        mproc__lock_release(&m->lock);
        return (int)index;
    }
    atomic_store_explicit(&m->slots[index], mproc__self_token(),
                          memory_order_relaxed);
    atomic_store_explicit(&m->count, index + 1, memory_order_relaxed);
    mproc__lock_release(&m->lock);

    for (;;) {
        if (atomic_load_explicit(&m->gen, memory_order_acquire) != g)
            return outcome(m, g, index);
        int rc = mproc__sync_sleep(&m->gen, g, deadline);
        if (rc == 0)
            continue;
        lock_barrier(m);
        if (atomic_load_explicit(&m->gen, memory_order_relaxed) == g &&
            (rc == MPROC_ETIMEDOUT || party_died(m)))
            break_locked(m);
        mproc__lock_release(&m->lock);
    }
}

int mproc_barrier_abort(mproc_barrier *b)
{
    struct barrier_shm *m = barrier_shm(b);
    lock_barrier(m);
    break_locked(m);
    mproc__lock_release(&m->lock);
    return 0;
}

int mproc_barrier_reset(mproc_barrier *b)
{
    struct barrier_shm *m = barrier_shm(b);
    mproc__lock_acquire(&m->lock, MPROC_FOREVER); /* repairs any state */
    uint32_t g = atomic_load_explicit(&m->gen, memory_order_relaxed);
    bool waiters = atomic_load_explicit(&m->count, memory_order_relaxed) > 0;
    /* Clear every slot, not just count's: a dead holder may have left one
     * written beyond it. */
    atomic_store_explicit(&m->count, m->parties, memory_order_relaxed);
    atomic_store_explicit(&m->broken, 0, memory_order_relaxed);
    end_generation(m, g, waiters);
    mproc__lock_release(&m->lock);
    return 0;
}

unsigned mproc_barrier_parties(mproc_barrier *b)
{
    return barrier_shm(b)->parties;
}

unsigned mproc_barrier_n_waiting(mproc_barrier *b)
{
    struct barrier_shm *m = barrier_shm(b);
    if (atomic_load_explicit(&m->broken, memory_order_relaxed))
        return 0;
    return atomic_load_explicit(&m->count, memory_order_relaxed);
}

bool mproc_barrier_broken(mproc_barrier *b)
{
    return atomic_load_explicit(&barrier_shm(b)->broken,
                                memory_order_relaxed) != 0;
}

void mproc_barrier_destroy(mproc_barrier *b)
{
    if (!b)
        return;
    barrier_shm(b); /* validates b */
    mproc__sync_free(&b->h);
}
