/*
 * bench.h - timing and reporting shared by the benchmark programs.
 *
 * A figure is measured REPS times and its median reported as one line:
 * "figure<TAB>implementation<TAB>value<TAB>unit", which bench/run collects.
 */
#ifndef MPROC_BENCH_H
#define MPROC_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define REPS 5

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int bench_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of n samples (reorders them). */
static inline double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static inline void bench_report(const char *figure, const char *impl,
                                double value, const char *unit)
{
    printf("%s\t%s\t%.4g\t%s\n", figure, impl, value, unit);
    fflush(stdout);
}

#endif /* MPROC_BENCH_H */
