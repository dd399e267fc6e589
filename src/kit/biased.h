/*
 * kit/biased.h - a biased lock (src/kit/biased.c): a robust lock that a process
 * which took it MPROC__BIASED_RUN times in a row keeps between its calls, so
 * that while nobody else wants it, entering and leaving a critical section is a
 * few plain loads and stores: no locked instruction. Whoever else wants it
 * revokes the bias: it marks the word REVOKING, runs mproc__membarrier,
 * waits until the holder is outside its critical section (or dead), and
 * takes the word. The holder enters by storing busy = 1 in a slot of its
 * own, then re-reading the word (a compiler barrier between: the
 * revoker's membarrier is the fence), so either the revoker sees busy set
 * or the holder sees the revocation. Each of up to MPROC__BIASED_SLOTS
 * processes keeps a slot for life, so a late store of one process never
 * lands on another's busy word.
 *
 * Only processes registered with mproc__membarrier_register (before they
 * forked the others) may use one with biasing enabled; the owner of a bias
 * is a process and, within it, the one thread that has used the view.
 */
#ifndef MPROC_KIT_BIASED_H
#define MPROC_KIT_BIASED_H

#include "lock.h"
#include "spin.h"

#define MPROC__BIASED_SLOTS 8
#define MPROC__BIASED_RUN 64

typedef struct mproc__biased_slot {
    _Alignas(MPROC__CACHE_LINE) _Atomic uint64_t token; /* 0: free */
    _Atomic uint32_t busy; /* 1 inside a biased critical section */
} mproc__biased_slot;

_Static_assert(sizeof(mproc__biased_slot) == MPROC__CACHE_LINE,
               "each process's busy word has a line of its own");

typedef struct mproc__biased {
    mproc__lock lock;      /* held by the bias owner while it is biased */
    _Atomic uint32_t slot; /* the bias owner's slot */
    _Atomic uint32_t run;  /* holds in a row by last */
    _Atomic uint64_t last; /* token of the last plain holder */
    mproc__biased_slot slots[MPROC__BIASED_SLOTS];
} mproc__biased;

/* A process's view of an mproc__biased, kept in its handle (not shared). */
typedef struct mproc__biased_view {
    bool enabled;           /* may take the bias (membarrier registered) */
    _Atomic uintptr_t user; /* pthread_self of the one thread that used
                               it; MPROC__BIASED_VIEW_SHARED once another did */
    uint64_t token;         /* the process that slot was claimed for */
    uint32_t slot;
} mproc__biased_view;

#define MPROC__BIASED_VIEW_SHARED ((uintptr_t)1)

/*
 * mproc__biased_enter - enter a critical section as the bias owner: true
 * when v is enabled, the calling process holds the bias and the calling
 * thread is the view's only user; leave with mproc__biased_exit. False
 * otherwise: take the lock with mproc__biased_acquire_until. No locked
 * instruction.
 */
static inline bool mproc__biased_enter(mproc__biased *b, mproc__biased_view *v)
{
    if (!v->enabled)
        return false;
    uint64_t mine = mproc__self_token() | MPROC__LOCK_BIASED;
    if (atomic_load_explicit(&b->lock.own, memory_order_relaxed) != mine)
        return false;
    uintptr_t self = (uintptr_t)pthread_self(),
              user = atomic_load_explicit(&v->user, memory_order_relaxed);
    if (user != self) {
        atomic_store_explicit(&v->user, MPROC__BIASED_VIEW_SHARED,
                              memory_order_relaxed);
        return false;
    }
    _Atomic uint32_t *busy = &b->slots[v->slot].busy;
    atomic_store_explicit(busy, 1, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst); /* membarrier: the fence */
    if (atomic_load_explicit(&b->lock.own, memory_order_acquire) == mine)
        return true;
    atomic_store_explicit(busy, 0, memory_order_release);
    return false;
}

/*
 * mproc__biased_mine - whether the calling process holds b's lock, plainly
 * or as its bias owner (for assert()).
 */
static inline bool mproc__biased_mine(const mproc__biased *b)
{
    uint64_t flags =
        MPROC__LOCK_WAITERS | MPROC__LOCK_BIASED | MPROC__LOCK_REVOKING;
    return (atomic_load_explicit(&b->lock.own, memory_order_relaxed) &
            ~flags) == mproc__self_token();
}

/* mproc__biased_exit - leave a critical section entered as bias owner. */
static inline void mproc__biased_exit(mproc__biased *b, mproc__biased_view *v)
{
    atomic_store_explicit(&b->slots[v->slot].busy, 0, memory_order_release);
}

/*
 * mproc__biased_acquire_until - take b's lock by the deadline: as
 * mproc__lock_acquire_until, revoking a bias it meets (waiting, until the
 * deadline, for the owner's critical section to end). Returns 0;
 * MPROC_EOWNERDEAD when the holder or bias owner had died (repair, as
 * then its critical section may be half done); MPROC_ETIMEDOUT.
 */
int mproc__biased_acquire_until(mproc__biased *b, int64_t deadline);

/*
 * mproc__biased_try - take b's lock now if it is free, or biased to an
 * owner outside its critical section: never waits for a holder. Returns
 * 0, MPROC_EOWNERDEAD (repair), or MPROC_EAGAIN.
 */
int mproc__biased_try(mproc__biased *b);

/*
 * mproc__biased_take_dead - take b's lock over if the process its word names
 * is dead: a plain holder, or the bias owner, inside its critical section or
 * not. Never waits, and leaves the word of a live holder as it is (no
 * revocation is begun). For a process that waits on what the lock guards
 * without needing the lock itself, and settles what a dead holder left.
 * Returns MPROC_EOWNERDEAD (the caller holds the lock plainly: it repairs,
 * then gives the lock up with mproc__lock_release), or MPROC_EAGAIN (the lock
 * is free, or held by a live process, or another took it over first).
 * Reads /proc when the word names another process: for slow paths only.
 */
int mproc__biased_take_dead(mproc__biased *b);

/*
 * mproc__biased_release - give up a lock taken by mproc__biased_acquire_until
 * or mproc__biased_try. When v is enabled, the caller has taken the lock
 * MPROC__BIASED_RUN times in a row through it, nobody waits for it and a
 * slot is free, the calling process keeps it as its bias instead.
 */
void mproc__biased_release(mproc__biased *b, mproc__biased_view *v);

#endif /* MPROC_KIT_BIASED_H */
