/*
 * floor_openmp_pool.c - the OpenMP peer of the pool's CPU-bound figure: the
 * same loop as bench_pool.c's, serial and as an OpenMP parallel for
 * (static schedule, every CPU), and the speedup between them.
 */
#include "bench.h"
#include "cpu_work.h"

#include <stdint.h>

static uint64_t *out;

static double run_serial(size_t n)
{
    double t0 = bench_now();
    for (size_t i = 0; i < n; i++)
        out[i] = cpu_work(i);
    return bench_now() - t0;
}

static double run_omp(size_t n)
{
    double t0 = bench_now();
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (size_t i = 0; i < n; i++)
        out[i] = cpu_work(i);
    return bench_now() - t0;
}

int main(void)
{
#ifndef _OPENMP
    return 0; /* built without OpenMP: no figure */
#else
    size_t n = cpu_items();
    out = malloc(n * sizeof *out);
    if (!out)
        return 1;
    double ser[REPS], par[REPS];
    for (int r = 0; r < REPS; r++) {
        ser[r] = run_serial(n);
        par[r] = run_omp(n);
    }
    double s = bench_median(ser, REPS), p = bench_median(par, REPS);
    char impl[64];
    snprintf(impl, sizeof impl, "OpenMP (gcc %d)", __GNUC__);
    bench_report(CPU_FIGURE, "serial loop (floor)", s * 1e3, "ms");
    bench_report(CPU_FIGURE, impl, p * 1e3, "ms");
    bench_report(CPU_SPEEDUP_FIGURE, impl, s / p, "x");
    free(out);
    return 0;
#endif
}
