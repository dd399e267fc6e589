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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

/* Runs child() in a forked process and parent() here, both timed from
 * before the fork to after the child is reaped; seconds, or -1 if the
 * child failed. */
static inline double bench_timed_pair(void (*parent)(void), void (*child)(void))
{
    double t0 = bench_now();
    pid_t pid = fork();
    if (pid == 0) {
        child();
        _exit(0);
    }
    parent();
    int status;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    return bench_now() - t0;
}

#endif /* MPROC_BENCH_H */
