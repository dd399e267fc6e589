/*
 * kit/presence.c - presences (presence.h).
 *
 * A presence is a robust word (sys.h) plus a flag saying it has been
 * initialised. The flag is read and written only under the guard of
 * mproc__presence_hold, which orders it; the word is initialised before
 * the flag is set and never again, and only a held word is ever looked at
 * or dropped, so nobody touches a word being made.
 *
 * Every outcome of a try on the word is final for its caller: taken (free
 * before, or its holder dead - either way the caller holds it now), or
 * held by a live thread. Nobody ever sleeps on the word, so neither
 * taking nor freeing it makes a system call. A word that could not be
 * used (never expected: only a release without making a dead holder's
 * word consistent leaves one so, and robust.c always makes it consistent)
 * counts as held: it is never handed out, and a look at it errs towards
 * "alive", as tokens do.
 */
#include "presence.h"

#include <assert.h>

int mproc__presence_hold(mproc__presence *table, uint32_t n, uint32_t start,
                         const mproc__lock *guard)
{
    assert(mproc__lock_mine(guard));
    (void)guard;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = (uint32_t)(((uint64_t)start + k) % n);
        mproc__presence *p = &table[i];
        if (!atomic_load_explicit(&p->made, memory_order_relaxed)) {
            if (mproc__robust_init(&p->word) != 0)
                continue;
            atomic_store_explicit(&p->made, 1, memory_order_relaxed);
        }
        int rc = mproc__robust_try(&p->word);
        if (rc == 0 || rc == MPROC_EOWNERDEAD)
            return (int)i;
    }
    return -1;
}

bool mproc__presence_alive(mproc__presence *p)
{
    int rc = mproc__robust_try(&p->word);
    if (rc != 0 && rc != MPROC_EOWNERDEAD)
        return true;
    mproc__robust_release(&p->word);
    return false;
}

void mproc__presence_drop(mproc__presence *p)
{
    mproc__robust_release(&p->word);
}
