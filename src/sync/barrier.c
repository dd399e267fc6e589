/*
 * sync/barrier.c - Barrier: parties meet, then all go on.
 *
 * Layout (memfd "mproc-barrier", one page or more):
 *   header     magic, version, parties
 *   lock       a robust lock guarding everything below (own cache line)
 *   gen        generation number: the futex word waiters sleep on
 *   count      parties arrived in this generation
 *   broken     the barrier is broken (until reset)
 *   history    bit g % 64 set when generation g ended broken
 *   slots      this generation's arrivals, by index: each one's process
 *              token and the presence it holds (its index + 1; 0: none)
 *   presences  2 * parties presences (kit/presence.h), on a cache line
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
 * a waiter that dies after the trip can hold nobody up. Every field but
 * gen is read and written under the lock, which orders them; a sleeper
 * reads gen without it (acquire, paired with the release that ends the
 * generation after history is written).
 *
 * Dead parties. A generation trips only with every party it counts alive:
 * whoever arrives - the last one above all, before it trips - first checks,
 * under the lock, that every party in slots still lives, and breaks the
 * barrier if one does not. That check must be cheap, as it runs on every
 * arrival, so each waiting party holds a presence for the length of its
 * wait: a robust word its thread took, which the kernel marks when the
 * thread dies. Checking one is a compare-and-swap, no system call. The
 * set of parties is fixed while the lock is held, and a party found alive
 * was alive throughout its wait until then, so at the instant of the
 * first check every counted party lived: that instant is the trip's, and
 * a party that dies after it died after the trip. Generations take their
 * presences from the two halves of the table in turn (a party that has
 * not yet left the last generation still holds its presence); when none
 * is free (threads of many generations still leaving) a party is counted
 * by its token alone, and the check asks /proc about it (token.h).
 *
 * Crash. Each sleeping waiter also wakes at least every 50 ms, takes the
 * lock and checks the others the same way, so a death is seen without
 * waiting for an arrival. A process killed while holding the internal
 * lock leaves the bookkeeping suspect: whoever next takes the lock (and
 * gets MPROC_EOWNERDEAD) breaks the barrier, which reset then repairs,
 * since reset rewrites every field. A presence whose holder died and
 * that nobody checked is freed by the next hold that meets it.
 */
#include "sync.h"

#include "../kit/presence.h"

#include <limits.h>
#include <math.h>

#define BARRIER_SHM_MAGIC 0x6d424152u /* "mBAR" */
#define MAX_PARTIES (1u << 20)

/* One arrival of the current generation. */
struct barrier_slot {
    _Atomic uint64_t token;    /* its process token; 0: empty */
    _Atomic uint32_t presence; /* index + 1 of the presence it holds */
};

struct barrier_shm {
    mproc__sync_header hdr;
    uint32_t parties;
    alignas(MPROC__CACHE_LINE) mproc__lock lock;
    alignas(MPROC__CACHE_LINE) _Atomic uint32_t gen;
    _Atomic uint32_t count;
    _Atomic uint32_t broken;
    _Atomic uint64_t history;
    struct barrier_slot slots[];
};

MPROC__SYNC_LAYOUT(struct barrier_shm, lock);
MPROC__SYNC_LAYOUT(struct barrier_shm, gen);
_Static_assert(sizeof(struct barrier_slot) == 16 &&
                   offsetof(struct barrier_shm, slots) % 8 == 0,
               "a slot is two aligned words");

struct mproc_barrier {
    mproc__sync_head h;
    mproc__presence *presences; /* 2 * parties of them, in the page */
};

/* Where the presences begin in the page of a barrier of parties. */
static size_t presences_offset(uint32_t parties)
{
    size_t end = sizeof(struct barrier_shm) +
                 (size_t)parties * sizeof(struct barrier_slot);
    return (end + MPROC__CACHE_LINE - 1) / MPROC__CACHE_LINE *
           MPROC__CACHE_LINE;
}

/* The bytes of the page of a barrier of that many parties. */
static size_t barrier_size(uint32_t parties)
{
    return presences_offset(parties) +
           2 * (size_t)parties * sizeof(mproc__presence);
}

/* Completes a new or opened handle: where its presences are. */
static mproc_barrier *barrier_handle(mproc__sync_head *h)
{
    mproc_barrier *b = (mproc_barrier *)h;
    struct barrier_shm *m = mproc__sync_shm(h);
    b->presences =
        (mproc__presence *)(void *)((char *)m + presences_offset(m->parties));
    return b;
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
    *out = barrier_handle(h);
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
    *out = barrier_handle(h);
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

/* The page of a handle already checked by barrier_shm. */
static struct barrier_shm *barrier_page(const mproc_barrier *b)
{
    return mproc__sync_shm(&b->h);
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
    for (uint32_t i = 0; i < n && i < m->parties; i++) {
        atomic_store_explicit(&m->slots[i].token, 0, memory_order_relaxed);
        atomic_store_explicit(&m->slots[i].presence, 0, memory_order_relaxed);
    }
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

/* Whether the party in slot i of the current generation still lives: by
 * its presence (no system call), else by its token. The caller holds the
 * lock. */
static bool party_alive(mproc_barrier *b, uint32_t i)
{
    struct barrier_slot *s = &barrier_page(b)->slots[i];
    uint32_t p = atomic_load_explicit(&s->presence, memory_order_relaxed);
    if (p != 0)
        return mproc__presence_alive(&b->presences[p - 1]);
    uint64_t t = atomic_load_explicit(&s->token, memory_order_relaxed);
    return t == 0 || t == mproc__self_token() || mproc__token_alive(t);
}

/* Whether a party counted in the current generation, other than the one
 * in slot self, has died; the caller holds the lock. */
static bool party_died(mproc_barrier *b, uint32_t self)
{
    struct barrier_shm *m = barrier_page(b);
    assert(mproc__lock_mine(&m->lock));
    uint32_t n = atomic_load_explicit(&m->count, memory_order_relaxed);
    for (uint32_t i = 0; i < n && i < m->parties; i++)
        if (i != self && !party_alive(b, i))
            return true;
    return false;
}

/* Counts the caller as party index of generation g, holding a presence if
 * one is free; the caller holds the lock. Returns the presence's index + 1,
 * or 0 when the caller is counted by its token alone. */
static uint32_t arrive(mproc_barrier *b, uint32_t g, uint32_t index)
{
    struct barrier_shm *m = barrier_page(b);
    int p = mproc__presence_hold(b->presences, 2 * m->parties,
                                 (g % 2) * m->parties + index, &m->lock);
    struct barrier_slot *s = &m->slots[index];
    atomic_store_explicit(&s->token, mproc__self_token(), memory_order_relaxed);
    atomic_store_explicit(&s->presence, (uint32_t)(p + 1),
                          memory_order_relaxed);
    atomic_store_explicit(&m->count, index + 1, memory_order_relaxed);
    return (uint32_t)(p + 1);
}

/* The result of a wait in generation g, which has ended. */
static int outcome(struct barrier_shm *m, uint32_t g, uint32_t index)
{
    uint64_t h = atomic_load_explicit(&m->history, memory_order_acquire);
    return h & ((uint64_t)1 << (g % 64)) ? MPROC_EBROKEN : (int)index;
}

/* Sleeps until generation g, in which the caller is party index, ends;
 * breaks it at the deadline or on finding a party dead. Returns the
 * caller's result. */
static int await_end(mproc_barrier *b, uint32_t g, uint32_t index,
                     int64_t deadline)
{
    struct barrier_shm *m = barrier_page(b);
    for (;;) {
        if (atomic_load_explicit(&m->gen, memory_order_acquire) != g)
            return outcome(m, g, index);
        int rc = mproc__sync_sleep(&m->gen, g, deadline);
        if (rc == 0)
            continue;
        lock_barrier(m);
        if (atomic_load_explicit(&m->gen, memory_order_relaxed) == g &&
            (rc == MPROC_ETIMEDOUT || party_died(b, index)))
            break_locked(m);
        mproc__lock_release(&m->lock);
    }
}

int mproc_barrier_wait(mproc_barrier *b, double timeout)
{
    struct barrier_shm *m = barrier_shm(b);
    int64_t deadline;
    if (mproc__deadline(timeout, &deadline) != 0)
        return MPROC_EINVAL;
    lock_barrier(m);
    if (!atomic_load_explicit(&m->broken, memory_order_relaxed) &&
        party_died(b, UINT32_MAX))
        break_locked(m);
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
    uint32_t presence = arrive(b, g, index);
    mproc__lock_release(&m->lock);
    int rc = await_end(b, g, index, deadline);
    if (presence != 0)
        mproc__presence_drop(&b->presences[presence - 1]);
    return rc;
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
