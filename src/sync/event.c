/*
 * sync/event.c - Event: a flag processes wait for.
 *
 * Layout of the page (memfd "mproc-event"):
 *   header   magic, version
 *   word     the futex word (own cache line):
 *              bit 0      SET: the flag
 *              bit 1      WAITERS: someone may sleep on the word
 *              bits 2..31 the number of times the flag went from clear to
 *                         set (wrapping), so a waiter that slept through a
 *                         set and a clear still knows the set happened
 *
 * set: compare-and-swap the word to (sets + 1) | SET, dropping WAITERS,
 * and wake everyone if WAITERS was there. clear: fetch-and ~SET. wait:
 * remember the set count, mark WAITERS, sleep on the exact word; return as
 * soon as SET is seen or the count moved. All read-modify-writes are
 * seq_cst; the word is the only state, so a process killed inside any call
 * leaves it consistent. A setter killed between its CAS and its wake leaves
 * sleepers that see the change at the end of their slice (50 ms). A waiter
 * killed leaves WAITERS set: the next set makes one futex wake for nobody.
 */
#include "sync.h"

#include <limits.h>
#include <math.h>

#define EVENT_SHM_MAGIC 0x6d45564eu /* "mEVN" */
#define SET 1u
#define WAITERS 2u
#define SETS(v) ((v) >> 2)

struct event_shm {
    mproc__sync_header hdr;
    alignas(MPROC__CACHE_LINE) _Atomic uint32_t word;
};

MPROC__SYNC_LAYOUT(struct event_shm, word);

struct mproc_event {
    mproc__sync_head h;
};

int mproc_event_create(mproc_event **out)
{
    if (!out)
        return MPROC_EINVAL;
    mproc__sync_head *h;
    int rc = mproc__sync_new(sizeof(mproc_event), sizeof(struct event_shm),
                             "mproc-event", EVENT_SHM_MAGIC, &h);
    if (rc != 0)
        return rc;
    struct event_shm *shm = mproc__sync_shm(h);
    atomic_init(&shm->word, 0);
    *out = (mproc_event *)h;
    return 0;
}

int mproc_event_open(mproc_event **out, mproc_ref ref)
{
    mproc__sync_head *h;
    int rc = mproc__sync_open(ref, MPROC__REF_EVENT, EVENT_SHM_MAGIC,
                              sizeof(mproc_event), sizeof(struct event_shm),
                              out ? &h : NULL);
    if (rc == 0)
        *out = (mproc_event *)h;
    return rc;
}

static _Atomic uint32_t *event_word(const mproc_event *e)
{
    MPROC__CHECK(e && e->h.magic == MPROC__SYNC_LIVE,
                 "invalid or destroyed Event");
    struct event_shm *shm = mproc__sync_shm(&e->h);
    return &shm->word;
}

int mproc_event_ref(mproc_event *e, mproc_ref *out)
{
    event_word(e); /* validates e */
    return mproc__sync_ref(&e->h, MPROC__REF_EVENT, out);
}

int mproc_event_set(mproc_event *e)
{
    _Atomic uint32_t *w = event_word(e);
    uint32_t v = atomic_load_explicit(w, memory_order_relaxed);
    do {
        if (v & SET)
            return 0;
    } while (!atomic_compare_exchange_weak_explicit(
        w, &v, ((SETS(v) + 1) << 2) | SET, memory_order_seq_cst,
        memory_order_relaxed));
    if (v & WAITERS)
        mproc__futex_wake(w, INT_MAX);
    return 0;
}

int mproc_event_clear(mproc_event *e)
{
    atomic_fetch_and_explicit(event_word(e), ~SET, memory_order_seq_cst);
    return 0;
}

bool mproc_event_is_set(mproc_event *e)
{
    return atomic_load_explicit(event_word(e), memory_order_acquire) & SET;
}

int mproc_event_wait(mproc_event *e, double timeout)
{
    _Atomic uint32_t *w = event_word(e);
    if (isnan(timeout))
        return MPROC_EINVAL;
    uint32_t v = atomic_load_explicit(w, memory_order_acquire);
    if (v & SET)
        return 0;
    if (timeout == 0)
        return MPROC_EAGAIN;
    uint32_t sets = SETS(v);
    int64_t deadline;
    mproc__deadline(timeout, &deadline);
    for (;;) {
        v = atomic_load_explicit(w, memory_order_acquire);
        if ((v & SET) || SETS(v) != sets)
            return 0;
        if (!(v & WAITERS)) {
            if (!atomic_compare_exchange_weak_explicit(w, &v, v | WAITERS,
                                                       memory_order_seq_cst,
                                                       memory_order_relaxed))
                continue;
            v |= WAITERS;
        }
        if (mproc__sync_sleep(w, v, deadline) == MPROC_ETIMEDOUT) {
            v = atomic_load_explicit(w, memory_order_acquire);
            return (v & SET) || SETS(v) != sets ? 0 : mproc__expired(timeout);
        }
    }
}

void mproc_event_destroy(mproc_event *e)
{
    if (!e)
        return;
    event_word(e); /* validates e */
    mproc__sync_free(&e->h);
}
