/*
 * pool_crash.c - a worker crash, reported and survived.
 *
 * With Python's Pool, a worker killed in the middle of a task (by the OOM
 * killer, a segfault in a C extension, os._exit) leaves map() waiting
 * for ever. Here the task's item fails with MPROC_EWORKERDIED and the
 * worker's fate (-9: SIGKILL), the pool forks a replacement, and the
 * next map runs as if nothing happened. With opts.retries the crashed
 * item would simply be run again.
 */
#include <mproc.h>

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

static int fragile_square(const void *in, void *out)
{
    int64_t x = *(const int64_t *)in;
    if (x == 13)
        raise(SIGKILL); /* the worker dies here, mid-task */
    *(int64_t *)out = x * x;
    return 0;
}

static int square(const void *in, void *out)
{
    int64_t x = *(const int64_t *)in;
    *(int64_t *)out = x * x;
    return 0;
}

int main(void)
{
    mproc_pool *p;
    mproc_pool_opts opts = {.processes = 2};
    if (mproc_pool_create(&p, &opts) < 0)
        return 1;

    int64_t in[20], out[20];
    for (int i = 0; i < 20; i++)
        in[i] = i;

    mproc_async *r;
    if (mproc_pool_map_async(p, fragile_square, in, sizeof in[0], out,
                             sizeof out[0], 20, 4, &r) < 0)
        return 1;
    size_t index;
    int detail;
    int rc = mproc_async_get(r, NULL, NULL, MPROC_FOREVER);
    int why = mproc_async_error(r, &index, &detail);
    printf("map: %s, item %zu, worker exit code %d\n", mproc_err_name(rc),
           index, detail);
    mproc_async_destroy(r);

    /* The pool replaced the dead worker and goes on. */
    rc = mproc_pool_map(p, square, in, sizeof in[0], out, sizeof out[0], 20, 0);
    printf("next map: %s, 19*19 = %lld\n", mproc_err_name(rc),
           (long long)out[19]);

    mproc_pool_close(p);
    mproc_pool_join(p, MPROC_FOREVER);
    mproc_pool_destroy(p);
    return why == MPROC_EWORKERDIED && index == 13 && detail == -SIGKILL &&
                   rc == 0 && out[19] == 361
               ? 0
               : 1;
}
