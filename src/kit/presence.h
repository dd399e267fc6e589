/*
 * kit/presence.h - presences: how a process waiting in shared memory shows
 * the others that it still lives, with no system call on either side.
 *
 * A Barrier must know, when a generation completes, that every party
 * counted in it still lives. A process token (token.h) can tell only by
 * asking the kernel and /proc - a few system calls per party, too dear
 * for every arrival. Instead a waiting party holds a presence: a robust
 * word (sys.h, robust.c) taken by its thread, which the kernel marks when
 * that thread dies, however it dies. Whoever checks tries to take the
 * word (one compare-and-swap): it finds it held by a live thread, or
 * marked dead - and then frees it for reuse.
 *
 * The kernel marks per thread, which is what a presence is: held by one
 * thread for the length of one call. (A Lock is not: it is held across
 * calls and may be released by another thread or process - lock.c.)
 *
 * Presences sit in a table of n in shared memory, zero-filled at first;
 * each is made on its first use. Holds are made under a lock of the
 * caller's (guard), so two never make the same presence at once; looking
 * at one and dropping one need no lock.
 *
 * Safety facts: the functions are thread-safe and work across processes
 * (a forked child's thread holds nothing its parent held). A process
 * dying inside any of them leaves each presence either free, held by a
 * live thread, or marked dead (which a later hold or look frees).
 */
#ifndef MPROC_KIT_PRESENCE_H
#define MPROC_KIT_PRESENCE_H

#include "../sys/sys.h"
#include "lock.h"
#include "spin.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct mproc__presence {
    alignas(MPROC__CACHE_LINE) mproc__robust word;
    _Atomic uint32_t made; /* word has been initialised */
} mproc__presence;

_Static_assert(sizeof(mproc__presence) % MPROC__CACHE_LINE == 0 &&
                   _Alignof(mproc__presence) == MPROC__CACHE_LINE,
               "a presence fills whole cache lines of its own");

/*
 * mproc__presence_hold - take a free presence of table[0..n) for the
 * calling thread, trying table[start % n] first and then the ones after
 * it in turn. The caller holds guard, the lock under which every hold on
 * this table is made. A presence whose holder died counts as free.
 * Returns its index, or -1 when every one is held (or cannot be made).
 */
int mproc__presence_hold(mproc__presence *table, uint32_t n, uint32_t start,
                         const mproc__lock *guard);

/*
 * mproc__presence_alive - whether a live thread holds p (the calling
 * thread included). False when its holder has died - p is then freed - or
 * nobody held it. One compare-and-swap, no system call.
 */
bool mproc__presence_alive(mproc__presence *p);

/* mproc__presence_drop - free p, which the calling thread holds. */
void mproc__presence_drop(mproc__presence *p);

#endif /* MPROC_KIT_PRESENCE_H */
