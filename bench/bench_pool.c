/*
 * bench_pool.c - Pool figures, per task: map of a trivial function over
 * 10^6 int64 with automatic chunks; map with chunksize 1 over 10^5 items;
 * apply_async + get one at a time and with 10^4 in flight, the latter
 * also taken as they finish (mproc_async_wait_any); and a
 * CPU-bound map (~1 us per item) as a time and as a speedup over the
 * serial loop, to set against OpenMP's (floor_openmp_pool.c). The pool has
 * mproc_cpu_count() workers, as CPython's Pool() does. Last, a pool's whole
 * life under each start method: create, map 1000 trivial tasks, close,
 * join.
 */
#include "bench.h"
#include "cpu_work.h"

#include <mproc.h>

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static int ident(const void *in, void *out)
{
    *(int64_t *)out = *(const int64_t *)in;
    return 0;
}

static int ident_task(const void *arg, size_t len, mproc_buf *result)
{
    return mproc_buf_append(result, arg, len);
}

static int cpu_item(const void *in, void *out)
{
    *(uint64_t *)out = cpu_work(*(const uint64_t *)in);
    return 0;
}

static mproc_pool *pool;

/* Seconds for one map of n items. */
static double map_once(mproc_map_fn fn, const int64_t *in, int64_t *out,
                       size_t n, size_t chunksize)
{
    double t0 = bench_now();
    if (mproc_pool_map(pool, fn, in, 8, out, 8, n, chunksize) < 0)
        exit(1);
    return bench_now() - t0;
}

static double apply_serial(size_t n)
{
    double t0 = bench_now();
    for (size_t i = 0; i < n; i++) {
        int64_t x = (int64_t)i, y;
        void *res;
        size_t len;
        if (mproc_pool_apply(pool, ident_task, &x, sizeof x, &res, &len) < 0 ||
            len != sizeof y)
            exit(1);
        memcpy(&y, res, sizeof y);
        free(res);
        if (y != x)
            exit(1);
    }
    return bench_now() - t0;
}

/* Seconds for n applies sent at once, then taken in order with get, or
 * (any) each as it is ready (mproc_async_wait_any), its place given to
 * the last one, as an as_completed loop would. */
static double apply_inflight(size_t n, bool any)
{
    mproc_async **r = malloc(n * sizeof *r);
    double t0 = bench_now();
    for (size_t i = 0; i < n; i++) {
        int64_t x = (int64_t)i;
        if (mproc_pool_apply_async(pool, ident_task, &x, sizeof x, &r[i]) < 0)
            exit(1);
    }
    for (size_t left = n; left > 0; left--) {
        int i = any ? mproc_async_wait_any(r, left, MPROC_FOREVER)
                    : (int)(n - left);
        int64_t y;
        size_t len;
        void *res;
        if (i < 0 || mproc_async_get(r[i], &res, &len, MPROC_FOREVER) < 0)
            exit(1);
        memcpy(&y, res, sizeof y);
        free(res);
        mproc_async_destroy(r[i]);
        if (any)
            r[i] = r[left - 1];
    }
    double dt = bench_now() - t0;
    free(r);
    return dt;
}

/* Milliseconds of a pool's life under method m: create, a map of 1000
 * one-item tasks, close, join, destroy. */
static double pool_life(mproc_start_method m)
{
    int64_t in[1000], out[1000];
    for (int i = 0; i < 1000; i++)
        in[i] = i;
    mproc_pool_opts o = {.start_method = m};
    mproc_pool *p;
    double t0 = bench_now();
    if (mproc_pool_create(&p, &o) < 0 ||
        mproc_pool_map(p, ident, in, 8, out, 8, 1000, 1) < 0 ||
        mproc_pool_close(p) < 0 || mproc_pool_join(p, MPROC_FOREVER) < 0)
        exit(1);
    mproc_pool_destroy(p);
    return (bench_now() - t0) * 1e3;
}

static void report_lives(void)
{
    static const struct {
        mproc_start_method m;
        const char *impl;
    } methods[] = {{MPROC_START_FORK, "mproc fork"},
                   {MPROC_START_FORKSERVER, "mproc forkserver"},
                   {MPROC_START_SPAWN, "mproc spawn"}};
    double v[3][REPS];
    for (int r = 0; r < REPS; r++)
        for (int k = 0; k < 3; k++)
            v[k][r] = pool_life(methods[k].m);
    for (int k = 0; k < 3; k++)
        bench_report("pool create+map 1000 tasks+close+join", methods[k].impl,
                     bench_median(v[k], REPS), "ms");
}

int main(int argc, char **argv)
{
    mproc_init(&argc, &argv);
    if (mproc_pool_create(&pool, NULL) < 0)
        return 1;
    size_t big = 1000000, n1 = 100000, ncpu = cpu_items();
    int64_t *in = malloc((ncpu > big ? ncpu : big) * 8);
    int64_t *out = malloc((ncpu > big ? ncpu : big) * 8);
    for (size_t i = 0; i < (ncpu > big ? ncpu : big); i++)
        in[i] = (int64_t)i;
    double v[REPS];

    map_once(ident, in, out, big, 0); /* warm the arena */
    for (int r = 0; r < REPS; r++)
        v[r] = map_once(ident, in, out, big, 0) / (double)big * 1e9;
    bench_report("pool map 10^6 int64, auto chunks (per item)", "mproc",
                 bench_median(v, REPS), "ns");

    for (int r = 0; r < REPS; r++)
        v[r] = map_once(ident, in, out, n1, 1) / (double)n1 * 1e6;
    bench_report("pool map chunksize=1, 10^5 items (per item)", "mproc",
                 bench_median(v, REPS), "us");

    apply_serial(1000);
    for (int r = 0; r < REPS; r++)
        v[r] = apply_serial(20000) / 20000 * 1e6;
    bench_report("pool apply_async+get, one at a time (per task)", "mproc",
                 bench_median(v, REPS), "us");

    for (int r = 0; r < REPS; r++)
        v[r] = apply_inflight(10000, false) / 10000 * 1e6;
    bench_report("pool apply_async, 10^4 in flight (per task)", "mproc",
                 bench_median(v, REPS), "us");

    for (int r = 0; r < REPS; r++)
        v[r] = apply_inflight(10000, true) / 10000 * 1e6;
    bench_report("pool apply_async, 10^4 in flight, taken by wait_any (per "
                 "task)",
                 "mproc", bench_median(v, REPS), "us");

    double ser[REPS], par[REPS];
    for (int r = 0; r < REPS; r++) {
        double t0 = bench_now();
        for (size_t i = 0; i < ncpu; i++)
            out[i] = (int64_t)cpu_work((uint64_t)in[i]);
        ser[r] = bench_now() - t0;
        par[r] = map_once(cpu_item, in, out, ncpu, 0);
        if ((uint64_t)out[ncpu - 1] != cpu_work(ncpu - 1))
            return 1;
    }
    double s = bench_median(ser, REPS), p = bench_median(par, REPS);
    bench_report(CPU_FIGURE, "mproc", p * 1e3, "ms");
    bench_report(CPU_SPEEDUP_FIGURE, "mproc", s / p, "x");

    mproc_pool_destroy(pool);
    free(in);
    free(out);
    report_lives();
    return 0;
}
