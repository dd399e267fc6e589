/*
 * pool_map.c - the Python docs' first Pool example, in C:
 *
 *     from multiprocessing import Pool
 *
 *     def f(x):
 *         return x*x
 *
 *     if __name__ == '__main__':
 *         with Pool(5) as p:
 *             print(p.map(f, [1, 2, 3]))
 *
 * prints [1, 4, 9]. Then the same function through imap_unordered and
 * apply_async, as the docs' longer Pool example does.
 */
#include <mproc.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int f(const void *in, void *out)
{
    int64_t x = *(const int64_t *)in;
    *(int64_t *)out = x * x;
    return 0;
}

/* apply form: the argument and the result are bytes. */
static int f_task(const void *arg, size_t arglen, mproc_buf *result)
{
    int64_t x, y;
    if (arglen != sizeof x)
        return 1;
    memcpy(&x, arg, sizeof x);
    y = x * x;
    return mproc_buf_append(result, &y, sizeof y);
}

int main(void)
{
    mproc_pool *p;
    mproc_pool_opts opts = {.processes = 5};
    int rc = mproc_pool_create(&p, &opts);
    if (rc < 0) {
        fprintf(stderr, "pool: %s\n", mproc_strerror(rc));
        return 1;
    }

    int64_t in[] = {1, 2, 3}, out[3];
    rc = mproc_pool_map(p, f, in, sizeof in[0], out, sizeof out[0], 3, 0);
    if (rc < 0)
        return 1;
    printf("[%lld, %lld, %lld]\n", (long long)out[0], (long long)out[1],
           (long long)out[2]);

    /* imap_unordered over range(10): results in whatever order they end. */
    int64_t range[10];
    for (int i = 0; i < 10; i++)
        range[i] = i;
    mproc_iter *it;
    if (mproc_pool_imap_unordered(p, f, range, sizeof range[0], sizeof range[0],
                                  10, 1, &it) < 0)
        return 1;
    int64_t sum = 0, y;
    size_t index;
    while ((rc = mproc_iter_next(it, &y, &index, MPROC_FOREVER)) == 0)
        sum += y;
    mproc_iter_destroy(it);
    printf("sum of squares below 10: %lld\n", (long long)sum);

    /* apply_async(f, (20,)).get(timeout=1) */
    int64_t x = 20;
    mproc_async *r;
    void *res;
    size_t len;
    if (mproc_pool_apply_async(p, f_task, &x, sizeof x, &r) < 0 ||
        mproc_async_get(r, &res, &len, 1.0) < 0)
        return 1;
    memcpy(&y, res, sizeof y);
    printf("f(20) = %lld\n", (long long)y);
    free(res);
    mproc_async_destroy(r);

    mproc_pool_close(p);
    mproc_pool_join(p, MPROC_FOREVER);
    mproc_pool_destroy(p);
    return sum == 285 && y == 400 ? 0 : 1;
}
