/*
 * futex.h - the bare futex wait and wake the floors' ping-pongs are made
 * of (bench_sync.c, floor_futex_pingpong.c): no spinning, no bookkeeping.
 */
#ifndef MPROC_BENCH_FUTEX_H
#define MPROC_BENCH_FUTEX_H

#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Sleeps while *w holds v (process-shared futex). */
static inline void bench_futex_wait(_Atomic uint32_t *w, uint32_t v)
{
    while (atomic_load(w) == v)
        syscall(SYS_futex, w, FUTEX_WAIT, v, NULL, NULL, 0);
}

/* Wakes one sleeper on w. */
static inline void bench_futex_wake(_Atomic uint32_t *w)
{
    syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

#endif /* MPROC_BENCH_FUTEX_H */
