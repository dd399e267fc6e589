/*
 * futex.c - process-shared futex wait with an absolute CLOCK_MONOTONIC
 * deadline, wake, and requeue (a Condition hands notified waiters to its
 * lock's futex, so they wake once, when the lock is free, instead of
 * waking to a held lock).
 *
 * FUTEX_WAIT_BITSET takes an absolute timeout on CLOCK_MONOTONIC (the
 * clock it uses without FUTEX_CLOCK_REALTIME), so the deadline computed
 * once by the caller is handed to the kernel as it is. The word may sit
 * in a MAP_SHARED mapping seen by many processes: no FUTEX_PRIVATE_FLAG.
 */
#include "sys.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int mproc__futex_wait(_Atomic uint32_t *word, uint32_t expected,
                      int64_t deadline)
{
    struct timespec abs, *tsp = NULL;
    if (deadline != MPROC__NO_DEADLINE) {
        abs.tv_sec = deadline / 1000000000;
        abs.tv_nsec = deadline % 1000000000;
        tsp = &abs;
    }
    long rc = syscall(SYS_futex, word, FUTEX_WAIT_BITSET, expected, tsp, NULL,
                      FUTEX_BITSET_MATCH_ANY);
    if (rc == 0 || errno == EAGAIN || errno == EINTR)
        return 0;
    if (errno == ETIMEDOUT)
        return MPROC_ETIMEDOUT;
    return -errno;
}

int mproc__futex_wake(_Atomic uint32_t *word, int n)
{
    long rc = syscall(SYS_futex, word, FUTEX_WAKE, n, NULL, NULL, 0);
    return rc < 0 ? -errno : (int)rc;
}

int mproc__futex_requeue(_Atomic uint32_t *from, uint32_t expected,
                         _Atomic uint32_t *to, int n)
{
    long rc = syscall(SYS_futex, from, FUTEX_CMP_REQUEUE, 0, (unsigned long)n,
                      to, expected);
    return rc < 0 ? -errno : (int)rc;
}
