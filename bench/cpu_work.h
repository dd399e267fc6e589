/*
 * cpu_work.h - the CPU-bound item shared by bench_pool.c and
 * floor_openmp_pool.c: about 1 us of dependent integer arithmetic.
 */
#ifndef MPROC_BENCH_CPU_WORK_H
#define MPROC_BENCH_CPU_WORK_H

#include <stdint.h>
#include <stdlib.h>

#define CPU_ITERS 700

static inline uint64_t cpu_work(uint64_t x)
{
    for (int i = 0; i < CPU_ITERS; i++)
        x = x * 6364136223846793005u + 1442695040888963407u;
    return x;
}

/* Items of the CPU-bound figure: MPROC_BENCH_CPU_ITEMS, default 10^6. */
static inline size_t cpu_items(void)
{
    const char *s = getenv("MPROC_BENCH_CPU_ITEMS");
    long long n = s ? atoll(s) : 0;
    return n > 0 ? (size_t)n : 1000000;
}

#define CPU_FIGURE "pool CPU-bound map, ~1 us items"
#define CPU_SPEEDUP_FIGURE "pool CPU-bound map speedup over serial"

#endif
