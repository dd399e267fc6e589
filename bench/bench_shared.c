/*
 * bench_shared.c - shared data.
 *
 * "sum 10^8 int64": one pass summing an array of 10^8 int64, over a RawArray
 * (memfd, MAP_SHARED) and over private malloc'd memory (the floor), both
 * filled first and summed by the same function, the two measured in
 * alternating 8 MiB blocks so that machine noise falls on both alike.
 *
 * "Value += 1 under its lock, 2 processes": two processes each add 1 to a
 * synchronized Value (its default RLock) N times, taking the lock around
 * each increment, as Python's `with v.get_lock(): v.value += 1`; the figure
 * is the wall time per increment. bench/py/bench_shared.py measures CPython.
 */
#include "bench.h"

#include <mproc.h>

#include <stdint.h>
#include <string.h>

#define SUM_N 100000000L
#define BLOCK (1L << 20)
#define INCS 1000000L /* per process */

__attribute__((noinline)) static int64_t sum(const int64_t *p, long n)
{
    int64_t s = 0;
    for (long i = 0; i < n; i++)
        s += p[i];
    return s;
}

static void fill(int64_t *p, long n)
{
    for (long i = 0; i < n; i++)
        p[i] = i;
}

/*
 * One rep: sums both arrays whole, in blocks of BLOCK elements (8 MiB, far
 * beyond the caches) taken in alternation, and adds up each side's block
 * times, so that load from other processes on the machine falls on both
 * sides alike. Which side goes first alternates from block to block.
 */
static int time_sums(const int64_t *priv, const int64_t *shared,
                     double *priv_ms, double *shared_ms)
{
    int64_t s[2] = {0, 0};
    double t[2] = {0, 0};
    const int64_t *side[2] = {priv, shared};
    for (long b = 0; b < SUM_N; b += BLOCK) {
        long n = SUM_N - b < BLOCK ? SUM_N - b : BLOCK;
        for (int k = 0; k < 2; k++) {
            int i = (int)((b / BLOCK + k) % 2);
            double t0 = bench_now();
            s[i] += sum(side[i] + b, n);
            t[i] += bench_now() - t0;
        }
    }
    *priv_ms = t[0] * 1e3;
    *shared_ms = t[1] * 1e3;
    int64_t want = SUM_N * (SUM_N - 1) / 2;
    return s[0] == want && s[1] == want ? 0 : -1;
}

static int bench_sum(void)
{
    int64_t *priv = malloc(SUM_N * sizeof *priv);
    mproc_array *a;
    if (!priv ||
        mproc_array_create(&a, sizeof(int64_t), SUM_N, MPROC_LOCK_NONE) != 0)
        return 1;
    int64_t *shared = mproc_array_data(a);
    fill(priv, SUM_N);
    fill(shared, SUM_N);
    double floor_ms[REPS], mproc_ms[REPS];
    for (int r = 0; r < REPS; r++)
        if (time_sums(priv, shared, &floor_ms[r], &mproc_ms[r]) != 0)
            return 1;
    free(priv);
    mproc_array_destroy(a);
    bench_report("sum 10^8 int64", "malloc (floor)",
                 bench_median(floor_ms, REPS), "ms");
    bench_report("sum 10^8 int64", "mproc", bench_median(mproc_ms, REPS), "ms");
    return 0;
}

static mproc_array *counter;

static int increment(void *arg, size_t len)
{
    (void)arg;
    (void)len;
    int64_t *v = mproc_array_data(counter);
    for (long i = 0; i < INCS; i++) {
        if (mproc_array_lock(counter, MPROC_FOREVER) != 0)
            return 1;
        *v += 1;
        if (mproc_array_unlock(counter) != 0)
            return 1;
    }
    return 0;
}

static int bench_value(void)
{
    if (mproc_value_create(&counter, sizeof(int64_t), MPROC_LOCK_RLOCK) != 0)
        return 1;
    double ns[REPS];
    for (int r = 0; r < REPS; r++) {
        *(int64_t *)mproc_array_data(counter) = 0;
        mproc_process *p[2];
        double t0 = bench_now();
        for (int i = 0; i < 2; i++)
            if (mproc_process_create(&p[i], increment, NULL, 0, NULL) != 0 ||
                mproc_process_start(p[i]) != 0)
                return 1;
        for (int i = 0; i < 2; i++) {
            int code = -1;
            mproc_process_join(p[i], MPROC_FOREVER);
            mproc_process_exitcode(p[i], &code);
            mproc_process_destroy(p[i]);
            if (code != 0)
                return 1;
        }
        ns[r] = (bench_now() - t0) / (2.0 * INCS) * 1e9;
        if (*(int64_t *)mproc_array_data(counter) != 2 * INCS)
            return 1;
    }
    mproc_array_destroy(counter);
    bench_report("Value += 1 under its lock, 2 processes", "mproc",
                 bench_median(ns, REPS), "ns");
    return 0;
}

int main(int argc, char **argv)
{
    bool all = argc < 2;
    int rc = 0;
    if (all || strcmp(argv[1], "sum") == 0)
        rc |= bench_sum();
    if (all || strcmp(argv[1], "value") == 0)
        rc |= bench_value();
    return rc;
}
