/*
 * futex_requeue.c - move sleepers from one process-shared futex to another
 * (the sync area's Condition hands notified waiters to its lock's futex, so
 * they wake once, when the lock is free, instead of waking to a held lock).
 */
#include "../internal.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

int mproc__futex_requeue(_Atomic uint32_t *from, uint32_t expected,
                         _Atomic uint32_t *to, int n)
{
    long rc = syscall(SYS_futex, from, FUTEX_CMP_REQUEUE, 0, (unsigned long)n,
                      to, expected);
    return rc < 0 ? -errno : (int)rc;
}
