/*
 * kit/token.c - process tokens (token.h).
 *
 * A token is (start time << 32) | PID. The start time is fixed for a
 * process's life and differs for a process that later gets the same PID,
 * unless both start within one clock tick (10 ms) of each other after the
 * PID space wrapped - not a case worth a syscall on every lock.
 *
 * The calling process's token is cached in a page marked MADV_WIPEONFORK
 * (mproc__wipeonfork_page): the kernel hands every child (whatever way it
 * was forked) that page zero-filled, so a child computes its own token on
 * first use, and the parent's later calls cost one load - no getpid()
 * system call, which is what lets an uncontended lock stay free of
 * syscalls. Should the kernel refuse the advice, the cache falls back to
 * keying on getpid().
 *
 * Liveness errs on the side of "alive": a process is reported dead only
 * when it is known to be - no such PID, a zombie, or a PID now held by a
 * process with another start time. A /proc that cannot be read (not
 * mounted, out of file descriptors) never turns a live lock holder into a
 * "dead" one whose lock would then be taken from it.
 */
#include "token.h"

#include "../sys/sys.h"

#include <stdatomic.h>

static uint64_t make_token(pid_t pid, uint64_t start)
{
    return (start << 32) | (uint32_t)pid;
}

/* The token of the calling process, computed from /proc. */
static uint64_t compute_self_token(pid_t pid)
{
    char state;
    uint64_t start = 0;
    mproc__proc_stat(pid, &state, &start);
    return make_token(pid, start);
}

/* The wipe-on-fork page holding the cached token, or NULL if unavailable. */
static _Atomic uint64_t *token_page(void)
{
    static _Atomic(_Atomic uint64_t *) page;
    static _Atomic bool unavailable;
    _Atomic uint64_t *p = atomic_load_explicit(&page, memory_order_acquire);
    if (p || atomic_load_explicit(&unavailable, memory_order_relaxed))
        return p;
    _Atomic uint64_t *m = mproc__wipeonfork_page();
    if (!m) {
        /* Either failure stays: the PID-keyed cache below serves. */
        atomic_store_explicit(&unavailable, true, memory_order_relaxed);
        return NULL;
    }
    _Atomic uint64_t *expected = NULL;
    if (!atomic_compare_exchange_strong_explicit(
            &page, &expected, m, memory_order_acq_rel, memory_order_acquire))
        return expected; /* another thread won; its page is the one */
    return m;
}

uint64_t mproc__self_token(void)
{
    static _Atomic(_Atomic uint64_t *) fast;
    _Atomic uint64_t *slot = atomic_load_explicit(&fast, memory_order_acquire);
    if (slot) {
        uint64_t token = atomic_load_explicit(slot, memory_order_relaxed);
        if (token != 0)
            return token;
    }
    pid_t pid = mproc__getpid();
    slot = token_page();
    if (slot) {
        uint64_t token = compute_self_token(pid);
        atomic_store_explicit(slot, token, memory_order_relaxed);
        atomic_store_explicit(&fast, slot, memory_order_release);
        return token;
    }
    static _Atomic uint64_t cached; /* token of the PID in its low bits */
    uint64_t token = atomic_load_explicit(&cached, memory_order_relaxed);
    if (token != 0 && (pid_t)(uint32_t)token == pid)
        return token;
    token = compute_self_token(pid);
    atomic_store_explicit(&cached, token, memory_order_relaxed);
    return token;
}

bool mproc__token_alive(uint64_t token)
{
    pid_t pid = (pid_t)(uint32_t)token;
    char state;
    uint64_t start;
    if (token == 0 || pid <= 0 || !mproc__pid_exists(pid))
        return false; /* no process has this PID (zombies still do) */
    if (!mproc__proc_stat(pid, &state, &start))
        /* Gone between the two looks, or /proc is unreadable: only the
         * first is proof of death. */
        return mproc__pid_exists(pid);
    /* A token made while /proc was unreadable has no start time: then the
     * PID alone must do. */
    return state != 'Z' && state != 'X' &&
           (token >> 32 == 0 || make_token(pid, start) == token);
}
