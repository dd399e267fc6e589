/* test_pool.c - Pool: map, imap, apply, results, crashes, lifecycle. */
#include "check_main.h"
#include "mproc.h"

#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* Shared scratch the workers write (mapped before the pool forks them). */
struct shared {
    _Atomic int inits;
    _Atomic int runs;
    _Atomic int attempts;
    _Atomic int stop;
    _Atomic int kills;
    _Atomic pid_t init_pids[1024];
    _Atomic pid_t init_ppids[1024]; /* their real parents (record_pid_init) */
    _Atomic int sleepers;
    _Atomic pid_t sleeper_pids[64];
};
static struct shared *sh;

static void setup(void)
{
    sh = shared_mem(sizeof *sh);
}

static void teardown(void)
{
    munmap(sh, sizeof *sh);
}

static mproc_pool *make_pool(int processes)
{
    mproc_pool *p;
    mproc_pool_opts o = {.processes = processes};
    ck_assert_int_eq(mproc_pool_create(&p, &o), 0);
    return p;
}

static int square(const void *in, void *out)
{
    int64_t x = *(const int64_t *)in;
    *(int64_t *)out = x * x;
    return 0;
}

static int fail_at_42(const void *in, void *out)
{
    int64_t x = *(const int64_t *)in;
    *(int64_t *)out = x;
    return x == 42 ? 7 : 0;
}

static int kill_at_5(const void *in, void *out)
{
    int64_t x = *(const int64_t *)in;
    if (x == 5)
        raise(SIGKILL);
    *(int64_t *)out = x * x;
    return 0;
}

static int64_t *iota(size_t n)
{
    int64_t *v = malloc(n * sizeof *v);
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < n; i++)
        v[i] = (int64_t)i;
    return v;
}

static void check_squares(const int64_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(out[i], (int64_t)(i * i));
}

/* A map over n items with the given chunksize gives squares, in order. */
static void map_squares(mproc_pool *p, size_t n, size_t chunksize)
{
    int64_t *in = iota(n), *out = calloc(n ? n : 1, sizeof *out);
    ck_assert_int_eq(mproc_pool_map(p, square, in, sizeof *in, out, sizeof *out,
                                    n, chunksize),
                     0);
    check_squares(out, n);
    free(in);
    free(out);
}

START_TEST(pool_map_returns_results_in_order)
{
    mproc_pool *p = make_pool(3);
    map_squares(p, 1000, 0);
    map_squares(p, 1000, 1);
    map_squares(p, 1000, 7);
    map_squares(p, 100000, 0);
    mproc_pool_destroy(p);
}
END_TEST

START_TEST(pool_map_of_nothing_returns_at_once)
{
    mproc_pool *p = make_pool(2);
    ck_assert_int_eq(mproc_pool_map(p, square, NULL, 8, NULL, 8, 0, 0), 0);
    mproc_pool_destroy(p);
}
END_TEST

START_TEST(pool_map_task_failure_reports_item_and_status)
{
    mproc_pool *p = make_pool(2);
    int64_t *in = iota(100), out[100];
    ck_assert_int_eq(mproc_pool_map(p, fail_at_42, in, 8, out, 8, 100, 10),
                     MPROC_ETASKFAILED);
    mproc_async *r;
    ck_assert_int_eq(
        mproc_pool_map_async(p, fail_at_42, in, 8, out, 8, 100, 10, &r), 0);
    ck_assert_int_eq(mproc_async_wait(r, MPROC_FOREVER), 0);
    ck_assert_int_eq(mproc_async_successful(r), 0);
    size_t index = 0;
    int detail = 0;
    ck_assert_int_eq(mproc_async_error(r, &index, &detail), MPROC_ETASKFAILED);
    ck_assert_uint_eq(index, 42);
    ck_assert_int_eq(detail, 7);
    ck_assert_int_eq(mproc_async_get(r, NULL, NULL, 0), MPROC_ETASKFAILED);
    mproc_async_destroy(r);
    map_squares(p, 100, 0);
    free(in);
    mproc_pool_destroy(p);
}
END_TEST

struct pair {
    int32_t a, b;
};

static int add_pair(const void *in, void *out)
{
    const struct pair *x = in;
    *(int32_t *)out = x->a + x->b;
    return 0;
}

START_TEST(pool_starmap_is_map_over_structs)
{
    mproc_pool *p = make_pool(2);
    struct pair in[50];
    int32_t out[50];
    for (int i = 0; i < 50; i++)
        in[i] = (struct pair){i, 1000 * i};
    ck_assert_int_eq(mproc_pool_map(p, add_pair, in, sizeof in[0], out,
                                    sizeof out[0], 50, 0),
                     0);
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(out[i], 1001 * i);
    mproc_pool_destroy(p);
}
END_TEST

START_TEST(pool_map_async_result_is_ready_after_get)
{
    mproc_pool *p = make_pool(2);
    int64_t *in = iota(500), out[500];
    mproc_async *r;
    ck_assert_int_eq(mproc_pool_map_async(p, square, in, 8, out, 8, 500, 3, &r),
                     0);
    memset(in, 0xff, 500 * 8); /* the input was copied at once */
    ck_assert_int_eq(mproc_async_get(r, NULL, NULL, MPROC_FOREVER), 0);
    ck_assert(mproc_async_ready(r));
    ck_assert_int_eq(mproc_async_successful(r), 1);
    ck_assert_int_eq(mproc_async_error(r, NULL, NULL), 0);
    check_squares(out, 500);
    mproc_async_destroy(r);
    free(in);
    mproc_pool_destroy(p);
}
END_TEST

START_TEST(pool_imap_yields_in_order)
{
    mproc_pool *p = make_pool(3);
    size_t n = 5000;
    int64_t *in = iota(n), y;
    mproc_iter *it;
    ck_assert_int_eq(mproc_pool_imap(p, square, in, 8, 8, n, 3, &it), 0);
    size_t index, k = 0;
    int rc;
    while ((rc = mproc_iter_next(it, &y, &index, MPROC_FOREVER)) == 0) {
        ck_assert_uint_eq(index, k);
        ck_assert_int_eq(y, (int64_t)(k * k));
        k++;
    }
    ck_assert_int_eq(rc, MPROC_EOF);
    ck_assert_uint_eq(k, n);
    ck_assert_int_eq(mproc_iter_next(it, &y, &index, 0), MPROC_EOF);
    mproc_iter_destroy(it);
    free(in);
    mproc_pool_destroy(p);
}
END_TEST

START_TEST(pool_imap_unordered_yields_every_item_once)
{
    mproc_pool *p = make_pool(3);
    size_t n = 3000;
    int64_t *in = iota(n), y;
    char *seen = calloc(n, 1);
    mproc_iter *it;
    ck_assert_int_eq(mproc_pool_imap_unordered(p, square, in, 8, 8, n, 0, &it),
                     0);
    size_t index, k = 0;
    while (mproc_iter_next(it, &y, &index, MPROC_FOREVER) == 0) {
        ck_assert_uint_lt(index, n);
        ck_assert(!seen[index]);
        seen[index] = 1;
        ck_assert_int_eq(y, (int64_t)(index * index));
        k++;
    }
    ck_assert_uint_eq(k, n);
    mproc_iter_destroy(it);
    free(seen);
    free(in);
    mproc_pool_destroy(p);
}
END_TEST

static int fail_at_7(const void *in, void *out)
{
    int64_t x = *(const int64_t *)in;
    *(int64_t *)out = x * x;
    return x == 7 ? 9 : 0;
}

/*
 * An imap (or imap_unordered) of 20 items in chunks of cs where item 7
 * fails, on one worker (chunks finish in order): the items before the
 * failed chunk come once each, none of that chunk, then the failure at
 * index 7, then MPROC_EOF for good. Python's
 * _TestPool.test_imap_handle_iterable_exception, at chunksizes 1, 2, 4.
 */
static void imap_fails_at_7(bool ordered, size_t cs)
{
    mproc_pool *p = make_pool(1);
    size_t n = 20, before = 7 / cs * cs;
    int64_t *in = iota(n), y;
    mproc_iter *it;
    ck_assert_int_eq(
        ordered ? mproc_pool_imap(p, fail_at_7, in, 8, 8, n, cs, &it)
                : mproc_pool_imap_unordered(p, fail_at_7, in, 8, 8, n, cs, &it),
        0);
    size_t index, k = 0;
    int rc;
    while ((rc = mproc_iter_next(it, &y, &index, 10.0)) == 0) {
        ck_assert_uint_eq(index, k); /* one worker: in order either way */
        ck_assert_int_eq(y, (int64_t)(k * k));
        k++;
    }
    ck_assert_uint_eq(k, before);
    ck_assert_int_eq(rc, MPROC_ETASKFAILED);
    ck_assert_uint_eq(index, 7);
    size_t at = 0;
    int detail = 0;
    ck_assert_int_eq(mproc_iter_error(it, &at, &detail), MPROC_ETASKFAILED);
    ck_assert_uint_eq(at, 7);
    ck_assert_int_eq(detail, 9);
    ck_assert_int_eq(mproc_iter_next(it, &y, &index, 10.0), MPROC_EOF);
    ck_assert_int_eq(mproc_iter_next(it, &y, &index, 0), MPROC_EOF);
    ck_assert_int_eq(mproc_iter_error(it, NULL, NULL), MPROC_ETASKFAILED);
    mproc_iter_destroy(it);
    map_squares(p, 100, 0); /* the pool goes on */
    free(in);
    mproc_pool_destroy(p);
}

START_TEST(pool_imap_failure_ends_the_iteration_at_chunksize_1)
{
    imap_fails_at_7(true, 1);
}
END_TEST

START_TEST(pool_imap_failure_ends_the_iteration_at_chunksize_2)
{
    imap_fails_at_7(true, 2);
}
END_TEST

START_TEST(pool_imap_failure_ends_the_iteration_at_chunksize_4)
{
    imap_fails_at_7(true, 4);
}
END_TEST

START_TEST(pool_imap_unordered_failure_ends_the_iteration_at_chunksize_1)
{
    imap_fails_at_7(false, 1);
}
END_TEST

START_TEST(pool_imap_unordered_failure_ends_the_iteration_at_chunksize_2)
{
    imap_fails_at_7(false, 2);
}
END_TEST

START_TEST(pool_imap_unordered_failure_ends_the_iteration_at_chunksize_4)
{
    imap_fails_at_7(false, 4);
}
END_TEST

/* Two workers, chunks finishing in any order: whatever came before the
 * failure is outside the failed chunk and right, and nothing after it. */
START_TEST(pool_imap_unordered_failure_ends_the_iteration_on_many_workers)
{
    mproc_pool *p = make_pool(2);
    size_t n = 100;
    int64_t *in = iota(n), y;
    mproc_iter *it;
    ck_assert_int_eq(
        mproc_pool_imap_unordered(p, fail_at_42, in, 8, 8, n, 4, &it), 0);
    size_t index;
    int rc;
    while ((rc = mproc_iter_next(it, &y, &index, 10.0)) == 0) {
        ck_assert(index < 40 || index >= 44);
        ck_assert_int_eq(y, (int64_t)index);
    }
    ck_assert_int_eq(rc, MPROC_ETASKFAILED);
    ck_assert_uint_eq(index, 42);
    ck_assert_int_eq(mproc_iter_next(it, &y, &index, 10.0), MPROC_EOF);
    mproc_iter_destroy(it);
    free(in);
    mproc_pool_destroy(p);
}
END_TEST

/* ---- a failing task's words ---------------------------------------- */

/* arg: how many bytes of words to write before failing (0: none). */
static int fail_saying(const void *arg, size_t arglen, mproc_buf *result)
{
    uint32_t n;
    if (arglen != sizeof n)
        return 1;
    memcpy(&n, arg, sizeof n);
    if (n) {
        char *d = mproc_buf_reserve(result, n);
        if (!d)
            return 2;
        for (uint32_t i = 0; i < n; i++)
            d[i] = (char)('a' + i % 26);
    }
    return 5;
}

static void check_cut(const char *text, size_t len)
{
    size_t marker = strlen(MPROC_ERROR_TEXT_CUT);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(len, MPROC_ERROR_TEXT_MAX);
    ck_assert_uint_eq(strlen(text), len);
    ck_assert_str_eq(text + len - marker, MPROC_ERROR_TEXT_CUT);
    for (size_t i = 0; i < len - marker; i++)
        ck_assert_int_eq(text[i], 'a' + (int)(i % 26));
}

START_TEST(pool_apply_failure_returns_the_words_the_task_wrote)
{
    mproc_pool *p = make_pool(2);
    uint32_t n = 11;
    mproc_async *r;
    ck_assert_int_eq(mproc_pool_apply_async(p, fail_saying, &n, 4, &r), 0);
    ck_assert_int_eq(mproc_async_get(r, NULL, NULL, 10.0), MPROC_ETASKFAILED);
    size_t len = 99;
    const char *text = mproc_async_error_text(r, &len);
    ck_assert_str_eq(text, "abcdefghijk");
    ck_assert_uint_eq(len, 11);
    ck_assert_ptr_eq(mproc_async_error_text(r, NULL), text); /* owned by r */
    mproc_async_destroy(r);
    /* apply hands the words over in place of the result */
    void *res = NULL;
    len = 0;
    ck_assert_int_eq(mproc_pool_apply(p, fail_saying, &n, 4, &res, &len),
                     MPROC_ETASKFAILED);
    ck_assert_str_eq(res, "abcdefghijk");
    ck_assert_uint_eq(len, 11);
    free(res);
    mproc_pool_destroy(p);
}
END_TEST

START_TEST(pool_apply_failure_words_over_the_bound_are_cut_and_marked)
{
    mproc_pool *p = make_pool(2);
    uint32_t sizes[] = {MPROC_ERROR_TEXT_MAX + 1, 1 << 20};
    for (int k = 0; k < 2; k++) {
        mproc_async *r;
        ck_assert_int_eq(
            mproc_pool_apply_async(p, fail_saying, &sizes[k], 4, &r), 0);
        ck_assert_int_eq(mproc_async_wait(r, 10.0), 0);
        size_t len = 0;
        const char *text = mproc_async_error_text(r, &len);
        check_cut(text, len);
        mproc_async_destroy(r);
    }
    /* exactly the bound: kept whole, no marker */
    uint32_t n = MPROC_ERROR_TEXT_MAX;
    void *res = NULL;
    size_t len = 0;
    ck_assert_int_eq(mproc_pool_apply(p, fail_saying, &n, 4, &res, &len),
                     MPROC_ETASKFAILED);
    ck_assert_uint_eq(len, MPROC_ERROR_TEXT_MAX);
    ck_assert_int_eq(((char *)res)[len - 1], 'a' + (int)((len - 1) % 26));
    free(res);
    mproc_pool_destroy(p);
}
END_TEST

static int say_and_succeed(const void *arg, size_t arglen, mproc_buf *result)
{
    (void)arg;
    (void)arglen;
    (void)result;
    mproc_task_error("not a failure");
    return 0;
}

static int fail_with_task_error(const void *arg, size_t arglen,
                                mproc_buf *result)
{
    (void)arg;
    (void)arglen;
    mproc_buf_append(result, "the buffer", 10);
    mproc_task_error("bad argument %d of %s", 3, "f");
    return 1;
}

START_TEST(pool_failure_without_words_has_no_text)
{
    mproc_pool *p = make_pool(1); /* one worker: the tasks share a thread */
    mproc_async *r;
    uint32_t zero = 0;
    ck_assert_int_eq(mproc_pool_apply(p, say_and_succeed, NULL, 0, NULL, NULL),
                     0);
    ck_assert_int_eq(mproc_pool_apply_async(p, fail_saying, &zero, 4, &r), 0);
    ck_assert_int_eq(mproc_async_wait(r, 10.0), 0);
    ck_assert_int_eq(mproc_async_error(r, NULL, NULL), MPROC_ETASKFAILED);
    size_t len = 99;
    /* the words of the task before are not this one's */
    ck_assert_ptr_null(mproc_async_error_text(r, &len));
    ck_assert_uint_eq(len, 0);
    mproc_async_destroy(r);
    void *res = &res;
    ck_assert_int_eq(mproc_pool_apply(p, fail_saying, &zero, 4, &res, &len),
                     MPROC_ETASKFAILED);
    ck_assert_ptr_null(res);
    ck_assert_uint_eq(len, 0);
    /* a success has none, a pending result none yet, a dead worker none */
    ck_assert_int_eq(mproc_pool_apply_async(p, say_and_succeed, NULL, 0, &r),
                     0);
    ck_assert_int_eq(mproc_async_get(r, NULL, NULL, 10.0), 0);
    ck_assert_ptr_null(mproc_async_error_text(r, &len));
    mproc_async_destroy(r);
    ck_assert_ptr_null(mproc_async_error_text(NULL, &len));
    ck_assert_uint_eq(len, 0);
    mproc_pool_destroy(p);
}
END_TEST

START_TEST(pool_task_error_text_replaces_the_buffer_as_the_words)
{
    mproc_pool *p = make_pool(2);
    mproc_async *r;
    ck_assert_int_eq(
        mproc_pool_apply_async(p, fail_with_task_error, NULL, 0, &r), 0);
    ck_assert_int_eq(mproc_async_wait(r, 10.0), 0);
    size_t len;
    ck_assert_str_eq(mproc_async_error_text(r, &len), "bad argument 3 of f");
    ck_assert_uint_eq(len, strlen("bad argument 3 of f"));
    mproc_async_destroy(r);
    mproc_pool_destroy(p);
}
END_TEST

static int fail_at_42_saying(const void *in, void *out)
{
    int64_t x = *(const int64_t *)in;
    *(int64_t *)out = x;
    if (x == 42)
        mproc_task_error("item %lld: no answer", (long long)x);
    if (x == 43) { /* words over the bound */
        char long_words[2 * MPROC_ERROR_TEXT_MAX];
        for (size_t i = 0; i < sizeof long_words - 1; i++)
            long_words[i] = (char)('a' + i % 26);
        long_words[sizeof long_words - 1] = 0;
        mproc_task_error("%s", long_words);
    }
    return x == 42 || x == 43 ? 7 : 0;
}

START_TEST(pool_map_failure_returns_the_words_of_the_failed_item)
{
    mproc_pool *p = make_pool(2);
    int64_t *in = iota(100), out[100];
    mproc_async *r;
    /* items 42 and 43 fail in one chunk: 42 is the map's failure */
    ck_assert_int_eq(
        mproc_pool_map_async(p, fail_at_42_saying, in, 8, out, 8, 100, 10, &r),
        0);
    ck_assert_int_eq(mproc_async_wait(r, 10.0), 0);
    size_t index = 0, len = 0;
    ck_assert_int_eq(mproc_async_error(r, &index, NULL), MPROC_ETASKFAILED);
    ck_assert_uint_eq(index, 42);
    ck_assert_str_eq(mproc_async_error_text(r, &len), "item 42: no answer");
    ck_assert_uint_eq(len, strlen("item 42: no answer"));
    mproc_async_destroy(r);
    /* a map function that says nothing: no text */
    ck_assert_int_eq(
        mproc_pool_map_async(p, fail_at_42, in, 8, out, 8, 100, 10, &r), 0);
    ck_assert_int_eq(mproc_async_wait(r, 10.0), 0);
    ck_assert_ptr_null(mproc_async_error_text(r, &len));
    mproc_async_destroy(r);
    /* words over the bound, from mproc_task_error: cut and marked */
    ck_assert_int_eq(mproc_pool_map_async(p, fail_at_42_saying, in + 43, 8, out,
                                          8, 10, 0, &r),
                     0);
    ck_assert_int_eq(mproc_async_wait(r, 10.0), 0);
    const char *text = mproc_async_error_text(r, &len);
    check_cut(text, len);
    mproc_async_destroy(r);
    free(in);
    mproc_pool_destroy(p);
}
END_TEST

START_TEST(pool_imap_failure_returns_the_words_of_the_failed_item)
{
    mproc_pool *p = make_pool(2);
    int64_t *in = iota(100), y;
    size_t len = 99;
    for (int ordered = 0; ordered < 2; ordered++) {
        mproc_iter *it;
        ck_assert_int_eq(
            ordered
                ? mproc_pool_imap(p, fail_at_42_saying, in, 8, 8, 100, 3, &it)
                : mproc_pool_imap_unordered(p, fail_at_42_saying, in, 8, 8, 100,
                                            3, &it),
            0);
        ck_assert_ptr_null(mproc_iter_error_text(it, &len));
        ck_assert_uint_eq(len, 0);
        int rc;
        size_t index;
        while ((rc = mproc_iter_next(it, &y, &index, 10.0)) == 0)
            ;
        ck_assert_int_eq(rc, MPROC_ETASKFAILED);
        ck_assert_uint_eq(index, 42);
        ck_assert_str_eq(mproc_iter_error_text(it, &len), "item 42: no answer");
        ck_assert_uint_eq(len, strlen("item 42: no answer"));
        ck_assert_int_eq(mproc_iter_next(it, &y, &index, 10.0), MPROC_EOF);
        ck_assert_str_eq(mproc_iter_error_text(it, NULL), "item 42: no answer");
        mproc_iter_destroy(it);
    }
    ck_assert_ptr_null(mproc_iter_error_text(NULL, &len));
    free(in);
    mproc_pool_destroy(p);
}
END_TEST

static int count_runs(const void *in, void *out)
{
    atomic_fetch_add(&sh->runs, 1);
    *(int64_t *)out = *(const int64_t *)in;
    return 0;
}

START_TEST(pool_imap_does_not_run_ahead_of_its_consumer)
{
    mproc_pool *p = make_pool(2);
    size_t n = 100000;
    int64_t *in = iota(n), y;
    mproc_iter *it;
    ck_assert_int_eq(mproc_pool_imap(p, count_runs, in, 8, 8, n, 10, &it), 0);
    usleep(200000);
    ck_assert_int_eq(mproc_iter_next(it, &y, NULL, MPROC_FOREVER), 0);
    usleep(200000);
    /* a window of 4 * processes chunks of 10 items, plus one refill */
    ck_assert_int_le(atomic_load(&sh->runs), 4 * 2 * 10 + 10);
    mproc_iter_destroy(it);
    free(in);
    mproc_pool_destroy(p);
}
END_TEST

static int repeat_byte(const void *arg, size_t arglen, mproc_buf *result)
{
    /* arg: a byte and a count; the result is the byte repeated */
    unsigned char c;
    uint32_t count;
    if (arglen != 1 + sizeof count)
        return 1;
    memcpy(&c, arg, 1);
    memcpy(&count, (const char *)arg + 1, sizeof count);
    if (count > 16) {
        void *d = mproc_buf_reserve(result, count - 16);
        if (!d)
            return 2;
        memset(d, c, count - 16);
        count = 16;
    }
    for (uint32_t i = 0; i < count; i++)
        if (mproc_buf_append(result, &c, 1) < 0)
            return 2;
    return 0;
}

static void expect_repeat(mproc_pool *p, unsigned char c, uint32_t count)
{
    char arg[5];
    arg[0] = (char)c;
    memcpy(arg + 1, &count, 4);
    void *res = NULL;
    size_t len = 99;
    ck_assert_int_eq(mproc_pool_apply(p, repeat_byte, arg, 5, &res, &len), 0);
    ck_assert_uint_eq(len, count);
    uint32_t bad = 0;
    for (uint32_t i = 0; i < count; i++)
        bad += ((unsigned char *)res)[i] != c;
    ck_assert_uint_eq(bad, 0);
    free(res);
}

START_TEST(pool_apply_returns_variable_size_results)
{
    mproc_pool *p = make_pool(2);
    expect_repeat(p, 'a', 0);
    expect_repeat(p, 'b', 1);
    expect_repeat(p, 'c', 1000);
    expect_repeat(p, 'd', 3u << 20);
    mproc_pool_destroy(p);
}
END_TEST

static int too_big(const void *arg, size_t arglen, mproc_buf *result)
{
    (void)arg;
    (void)arglen;
    return mproc_buf_reserve(result, (size_t)65 << 20) ? 0 : 2;
}

START_TEST(pool_apply_result_over_the_ring_fails_with_emsgsize)
{
    mproc_pool *p = make_pool(1);
    ck_assert_int_eq(mproc_pool_apply(p, too_big, NULL, 0, NULL, NULL),
                     MPROC_EMSGSIZE);
    expect_repeat(p, 'z', 100);
    mproc_pool_destroy(p);
}
END_TEST

START_TEST(pool_apply_large_results_wrap_the_result_ring)
{
    mproc_pool *p = make_pool(1);
    for (int i = 0; i < 16; i++) /* 80 MiB through a 64 MiB ring */
        expect_repeat(p, (unsigned char)i, (5u << 20) + (uint32_t)i * 13);
    mproc_pool_destroy(p);
}
END_TEST

static int mark_run(const void *arg, size_t arglen, mproc_buf *result)
{
    (void)arg;
    (void)arglen;
    (void)result;
    atomic_fetch_add(&sh->runs, 1);
    return 0;
}

static int echo(const void *arg, size_t arglen, mproc_buf *result)
{
    return mproc_buf_append(result, arg, arglen);
}

/* Regression: workers marked awake by the parent once went back to sleep
 * unseen, and a later task waited for ever. */
START_TEST(pool_many_sequential_applies_never_stall)
{
    mproc_pool *p = make_pool(2);
    double t0 = now_s();
    for (int i = 0; i < 5000; i++) {
        void *res;
        size_t len;
        ck_assert_int_eq(mproc_pool_apply(p, echo, &i, sizeof i, &res, &len),
                         0);
        ck_assert_int_eq(*(int *)res, i);
        free(res);
    }
    ck_assert_double_lt(now_s() - t0, 30.0 * TIME_SCALE);
    mproc_pool_destroy(p);
}
END_TEST

START_TEST(pool_apply_async_runs_while_the_caller_sleeps)
{
    mproc_pool *p = make_pool(2);
    mproc_async *r[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(mproc_pool_apply_async(p, mark_run, NULL, 0, &r[i]),
                         0);
    for (int k = 0; k < 200 * TIME_SCALE && atomic_load(&sh->runs) < 4; k++)
        usleep(10000);
    ck_assert_int_eq(atomic_load(&sh->runs), 4); /* no pool call meanwhile */
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(mproc_async_get(r[i], NULL, NULL, MPROC_FOREVER), 0);
        mproc_async_destroy(r[i]);
    }
    mproc_pool_destroy(p);
}
END_TEST

static int sleep_300ms(const void *arg, size_t arglen, mproc_buf *result)
{
    (void)arg;
    (void)arglen;
    usleep(300000);
    return mproc_buf_append(result, "ok", 2);
}

START_TEST(pool_async_get_times_out_then_succeeds)
{
    mproc_pool *p = make_pool(1);
    mproc_async *r;
    ck_assert_int_eq(mproc_pool_apply_async(p, sleep_300ms, NULL, 0, &r), 0);
    void *res = (void *)1;
    size_t len = 5;
    ck_assert_int_eq(mproc_async_get(r, &res, &len, 0), MPROC_EAGAIN);
    ck_assert_ptr_null(res);
    double t0 = now_s();
    ck_assert_int_eq(mproc_async_get(r, &res, &len, 0.05), MPROC_ETIMEDOUT);
    ck_assert_double_ge(now_s() - t0, 0.04);
    ck_assert(!mproc_async_ready(r));
    ck_assert_int_eq(mproc_async_successful(r), MPROC_EAGAIN);
    ck_assert_int_eq(mproc_async_error(r, NULL, NULL), MPROC_EAGAIN);
    ck_assert_int_eq(mproc_async_get(r, &res, &len, 5.0 * TIME_SCALE), 0);
    ck_assert_uint_eq(len, 2);
    ck_assert_int_eq(memcmp(res, "ok", 2), 0);
    free(res);
    mproc_async_destroy(r);
    mproc_pool_destroy(p);
}
END_TEST

static int sleep_30s(const void *arg, size_t arglen, mproc_buf *result)
{
    (void)arg;
    (void)arglen;
    (void)result;
    sleep(30);
    return 0;
}

START_TEST(pool_wait_any_returns_the_ready_one_of_a_mix)
{
    mproc_pool *p = make_pool(3);
    mproc_async *r[3];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(mproc_pool_apply_async(p, sleep_30s, NULL, 0, &r[i]),
                         0);
    ck_assert_int_eq(mproc_async_wait_any(r, 2, 0), MPROC_EAGAIN);
    double t0 = now_s();
    ck_assert_int_eq(mproc_async_wait_any(r, 2, 0.05), MPROC_ETIMEDOUT);
    ck_assert_double_ge(now_s() - t0, 0.04);
    ck_assert_int_eq(mproc_pool_apply_async(p, echo, "hi", 2, &r[2]), 0);
    ck_assert_int_eq(mproc_async_wait_any(r, 3, 5.0 * TIME_SCALE), 2);
    ck_assert_int_eq(mproc_async_wait_any(r, 3, 0), 2); /* still ready */
    mproc_pool *other = make_pool(1);
    mproc_async *mixed[2] = {r[0], NULL};
    ck_assert_int_eq(mproc_pool_apply_async(other, echo, "x", 1, &mixed[1]), 0);
    ck_assert_int_eq(mproc_async_wait(mixed[1], 5.0 * TIME_SCALE), 0);
    ck_assert_int_eq(mproc_async_wait_any(mixed, 2, 0), MPROC_EINVAL);
    mproc_async_destroy(mixed[1]);
    mproc_pool_destroy(other);
    void *res;
    size_t len;
    ck_assert_int_eq(mproc_async_get(r[2], &res, &len, 0), 0);
    ck_assert_uint_eq(len, 2);
    free(res);
    mproc_async_destroy(r[2]);
    r[2] = NULL; /* taken: skipped from now on */
    ck_assert_int_eq(mproc_async_wait_any(r, 3, 0), MPROC_EAGAIN);
    ck_assert_int_eq(mproc_async_wait_any(r, 3, 0.02), MPROC_ETIMEDOUT);
    mproc_async *none[2] = {NULL, NULL};
    ck_assert_int_eq(mproc_async_wait_any(none, 2, 0), MPROC_EINVAL);
    ck_assert_int_eq(mproc_async_wait_any(NULL, 0, 0), MPROC_EINVAL);
    ck_assert_int_eq(mproc_async_wait_any(r, 2, NAN), MPROC_EINVAL);
    mproc_pool_destroy(p);
    for (int i = 0; i < 2; i++)
        mproc_async_destroy(r[i]);
}
END_TEST

START_TEST(pool_wait_any_returns_results_of_a_terminated_pool_cancelled)
{
    mproc_pool *p = make_pool(2);
    mproc_async *r[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(mproc_pool_apply_async(p, sleep_30s, NULL, 0, &r[i]),
                         0);
    ck_assert_int_eq(mproc_async_wait_any(r, 4, 0), MPROC_EAGAIN);
    ck_assert_int_eq(mproc_pool_terminate(p), 0);
    double t0 = now_s();
    for (int left = 4; left > 0; left--) {
        int i = mproc_async_wait_any(r, 4, 5.0 * TIME_SCALE);
        ck_assert_int_ge(i, 0);
        ck_assert_int_lt(i, 4);
        ck_assert_int_eq(mproc_async_get(r[i], NULL, NULL, 0), MPROC_ECANCELED);
        mproc_async_destroy(r[i]);
        r[i] = NULL;
    }
    ck_assert_double_lt(now_s() - t0, 1.0 * TIME_SCALE);
    ck_assert_int_eq(mproc_async_wait_any(r, 4, 0), MPROC_EINVAL);
    mproc_pool_destroy(p);
}
END_TEST

START_TEST(pool_wait_any_takes_every_result_once_as_they_finish)
{
    enum { N = 200 };
    mproc_pool *p = make_pool(2);
    mproc_async *r[N];
    bool seen[N] = {false};
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(mproc_pool_apply_async(p, echo, &i, sizeof i, &r[i]),
                         0);
    for (int k = 0; k < N; k++) {
        int i = mproc_async_wait_any(r, N, 10.0 * TIME_SCALE);
        ck_assert_int_ge(i, 0);
        ck_assert(!seen[i]);
        seen[i] = true;
        void *res;
        size_t len;
        ck_assert_int_eq(mproc_async_get(r[i], &res, &len, 0), 0);
        ck_assert_uint_eq(len, sizeof i);
        ck_assert_int_eq(*(int *)res, i);
        free(res);
        mproc_async_destroy(r[i]);
        r[i] = NULL;
    }
    mproc_pool_destroy(p);
}
END_TEST

static int kill_self(const void *arg, size_t arglen, mproc_buf *result)
{
    (void)arg;
    (void)arglen;
    mproc_buf_append(result, "lost", 4);
    mproc_task_error("lost with the worker");
    raise(SIGKILL);
    return 0;
}

START_TEST(pool_task_that_kills_its_worker_fails_with_workerdied)
{
    mproc_pool *p = make_pool(2);
    double t0 = now_s();
    ck_assert_int_eq(mproc_pool_apply(p, kill_self, NULL, 0, NULL, NULL),
                     MPROC_EWORKERDIED);
    ck_assert_double_lt(now_s() - t0, 5.0 * TIME_SCALE);
    mproc_async *r;
    ck_assert_int_eq(mproc_pool_apply_async(p, kill_self, NULL, 0, &r), 0);
    int detail = 0;
    ck_assert_int_eq(mproc_async_wait(r, MPROC_FOREVER), 0);
    ck_assert_int_eq(mproc_async_error(r, NULL, &detail), MPROC_EWORKERDIED);
    ck_assert_int_eq(detail, -SIGKILL);
    ck_assert_ptr_null(mproc_async_error_text(r, NULL)); /* no words */
    mproc_async_destroy(r);
    map_squares(p, 1000, 0); /* the pool replaced its worker */
    mproc_pool_destroy(p);
}
END_TEST

START_TEST(pool_map_item_that_kills_its_worker_is_named)
{
    mproc_pool *p = make_pool(2);
    int64_t *in = iota(20), out[20];
    mproc_async *r;
    ck_assert_int_eq(
        mproc_pool_map_async(p, kill_at_5, in, 8, out, 8, 20, 4, &r), 0);
    size_t index = 0;
    int detail = 0;
    ck_assert_int_eq(mproc_async_wait(r, MPROC_FOREVER), 0);
    ck_assert_int_eq(mproc_async_error(r, &index, &detail), MPROC_EWORKERDIED);
    ck_assert_uint_eq(index, 5);
    ck_assert_int_eq(detail, -SIGKILL);
    mproc_async_destroy(r);
    map_squares(p, 1000, 0);
    free(in);
    mproc_pool_destroy(p);
}
END_TEST

static int exit_7(const void *arg, size_t arglen, mproc_buf *result)
{
    (void)arg;
    (void)arglen;
    (void)result;
    _exit(7);
}

START_TEST(pool_worker_exit_fails_task_with_its_exit_code)
{
    mproc_pool *p = make_pool(1);
    mproc_async *r;
    ck_assert_int_eq(mproc_pool_apply_async(p, exit_7, NULL, 0, &r), 0);
    int detail = 0;
    ck_assert_int_eq(mproc_async_get(r, NULL, NULL, MPROC_FOREVER),
                     MPROC_EWORKERDIED);
    ck_assert_int_eq(mproc_async_error(r, NULL, &detail), MPROC_EWORKERDIED);
    ck_assert_int_eq(detail, 7);
    mproc_async_destroy(r);
    map_squares(p, 100, 1);
    mproc_pool_destroy(p);
}
END_TEST

static int crash_first_time(const void *arg, size_t arglen, mproc_buf *result)
{
    (void)arg;
    (void)arglen;
    if (atomic_fetch_add(&sh->attempts, 1) == 0)
        raise(SIGKILL);
    return mproc_buf_append(result, "x", 1);
}

START_TEST(pool_retries_rerun_a_crashed_task)
{
    mproc_pool *p;
    mproc_pool_opts o = {.processes = 2, .retries = 1};
    ck_assert_int_eq(mproc_pool_create(&p, &o), 0);
    size_t len = 0;
    void *res = NULL;
    ck_assert_int_eq(mproc_pool_apply(p, crash_first_time, NULL, 0, &res, &len),
                     0);
    ck_assert_uint_eq(len, 1);
    ck_assert_int_eq(atomic_load(&sh->attempts), 2);
    free(res);
    mproc_pool_destroy(p);
    /* without retries the same crash fails the task */
    atomic_store(&sh->attempts, 0);
    p = make_pool(2);
    ck_assert_int_eq(mproc_pool_apply(p, crash_first_time, NULL, 0, NULL, NULL),
                     MPROC_EWORKERDIED);
    mproc_pool_destroy(p);
}
END_TEST

static int crash_item_5_once(const void *in, void *out)
{
    int64_t x = *(const int64_t *)in;
    if (x == 5 && atomic_fetch_add(&sh->attempts, 1) == 0)
        raise(SIGKILL);
    *(int64_t *)out = x * x;
    return 0;
}

START_TEST(pool_retries_rerun_a_crashed_map_chunk)
{
    mproc_pool *p;
    mproc_pool_opts o = {.processes = 2, .retries = 2};
    ck_assert_int_eq(mproc_pool_create(&p, &o), 0);
    int64_t *in = iota(50), out[50];
    ck_assert_int_eq(mproc_pool_map(p, crash_item_5_once, in, 8, out, 8, 50, 8),
                     0);
    check_squares(out, 50);
    free(in);
    mproc_pool_destroy(p);
}
END_TEST

/* Watches r's progress until it is done, as a progress bar would, never
 * calling another pool function: the count must never go back, and reach
 * total exactly when r is ready. */
static void watch_progress(mproc_async *r, size_t n)
{
    size_t last = 0, done, total;
    double t0 = now_s();
    for (;;) {
        ck_assert_int_eq(mproc_async_progress(r, &done, &total), 0);
        ck_assert_uint_eq(total, n);
        ck_assert_uint_ge(done, last);
        ck_assert_uint_le(done, n);
        last = done;
        if (done == n)
            break;
        ck_assert_double_lt(now_s() - t0, 30.0);
        usleep(200);
    }
    ck_assert(mproc_async_ready(r));
    ck_assert_int_eq(mproc_async_successful(r), 1);
}

START_TEST(pool_map_progress_advances_outside_pool_calls_to_total)
{
    mproc_pool *p = make_pool(2);
    size_t n = 20000;
    int64_t *in = iota(n), *out = calloc(n, sizeof *out);
    mproc_async *r;
    ck_assert_int_eq(mproc_pool_map_async(p, square, in, sizeof *in, out,
                                          sizeof *out, n, 100, &r),
                     0);
    watch_progress(r, n);
    check_squares(out, n);
    mproc_async_destroy(r);
    free(in);
    free(out);
    mproc_pool_destroy(p);
}
END_TEST

START_TEST(pool_map_progress_under_a_crashed_chunk_with_retries_ends_at_total)
{
    mproc_pool *p;
    mproc_pool_opts o = {.processes = 2, .retries = 2};
    ck_assert_int_eq(mproc_pool_create(&p, &o), 0);
    int64_t *in = iota(50), out[50];
    mproc_async *r;
    ck_assert_int_eq(
        mproc_pool_map_async(p, crash_item_5_once, in, 8, out, 8, 50, 8, &r),
        0);
    watch_progress(r, 50);
    ck_assert_int_ge(atomic_load(&sh->attempts), 2); /* it died, and reran */
    check_squares(out, 50);
    mproc_async_destroy(r);
    free(in);
    mproc_pool_destroy(p);
}
END_TEST

START_TEST(pool_imap_progress_reaches_total_on_real_workers)
{
    mproc_pool *p = make_pool(2);
    size_t n = 1000, done = 0, total = 0, last = 0, got = 0, index;
    int64_t *in = iota(n), y;
    for (int ordered = 0; ordered < 2; ordered++) {
        mproc_iter *it;
        ck_assert_int_eq(
            ordered ? mproc_pool_imap(p, square, in, 8, 8, n, 7, &it)
                    : mproc_pool_imap_unordered(p, square, in, 8, 8, n, 7, &it),
            0);
        last = got = 0;
        while (mproc_iter_next(it, &y, &index, 10.0) == 0) {
            got++;
            ck_assert_int_eq(mproc_iter_progress(it, &done, &total), 0);
            ck_assert_uint_eq(total, n);
            ck_assert_uint_ge(done, last);
            ck_assert_uint_ge(done, got);
            last = done;
        }
        ck_assert_uint_eq(got, n);
        ck_assert_int_eq(mproc_iter_progress(it, &done, &total), 0);
        ck_assert_uint_eq(done, n);
        mproc_iter_destroy(it);
    }
    free(in);
    mproc_pool_destroy(p);
}
END_TEST

static int my_pid(const void *arg, size_t arglen, mproc_buf *result)
{
    (void)arg;
    (void)arglen;
    pid_t pid = getpid();
    return mproc_buf_append(result, &pid, sizeof pid);
}

static pid_t apply_pid(mproc_pool *p)
{
    void *res;
    size_t len;
    ck_assert_int_eq(mproc_pool_apply(p, my_pid, NULL, 0, &res, &len), 0);
    ck_assert_uint_eq(len, sizeof(pid_t));
    pid_t pid;
    memcpy(&pid, res, sizeof pid);
    free(res);
    return pid;
}

START_TEST(pool_maxtasksperchild_gives_fresh_workers)
{
    mproc_pool *p;
    mproc_pool_opts o = {.processes = 1, .maxtasksperchild = 1};
    ck_assert_int_eq(mproc_pool_create(&p, &o), 0);
    pid_t a = apply_pid(p), b = apply_pid(p), c = apply_pid(p);
    ck_assert_int_ne(a, b);
    ck_assert_int_ne(b, c);
    ck_assert_int_ne(a, c);
    mproc_pool_destroy(p);
    /* without it, one worker serves them all */
    p = make_pool(1);
    a = apply_pid(p);
    ck_assert_int_eq(apply_pid(p), a);
    mproc_pool_destroy(p);
}
END_TEST

static int record_init(void *arg, size_t arglen)
{
    if (arglen != 6 || memcmp(arg, "hello", 6) != 0)
        return 1;
    int k = atomic_fetch_add(&sh->inits, 1);
    if (k < 1024)
        atomic_store(&sh->init_pids[k], getpid());
    return 0;
}

static bool pid_initialised(pid_t pid)
{
    int n = atomic_load(&sh->inits);
    for (int i = 0; i < n && i < 1024; i++)
        if (atomic_load(&sh->init_pids[i]) == pid)
            return true;
    return false;
}

START_TEST(pool_initializer_runs_once_in_each_worker)
{
    mproc_pool *p;
    mproc_pool_opts o = {.processes = 2,
                         .initializer = record_init,
                         .initarg = "hello",
                         .initarglen = 6};
    ck_assert_int_eq(mproc_pool_create(&p, &o), 0);
    for (int i = 0; i < 20; i++)
        ck_assert(pid_initialised(apply_pid(p)));
    ck_assert_int_eq(mproc_pool_close(p), 0);
    ck_assert_int_eq(mproc_pool_join(p, 10.0 * TIME_SCALE), 0);
    ck_assert_int_eq(atomic_load(&sh->inits), 2);
    mproc_pool_destroy(p);
}
END_TEST

START_TEST(pool_initializer_runs_in_replacement_workers)
{
    mproc_pool *p;
    mproc_pool_opts o = {.processes = 1,
                         .initializer = record_init,
                         .initarg = "hello",
                         .initarglen = 6,
                         .maxtasksperchild = 1};
    ck_assert_int_eq(mproc_pool_create(&p, &o), 0);
    for (int i = 0; i < 4; i++)
        ck_assert(pid_initialised(apply_pid(p)));
    mproc_pool_destroy(p);
    int n = atomic_load(&sh->inits);
    ck_assert_int_ge(n, 4);
    for (int i = 0; i < n; i++) /* once each: no pid twice */
        for (int k = i + 1; k < n; k++)
            ck_assert_int_ne(sh->init_pids[i], sh->init_pids[k]);
}
END_TEST

static int failing_init(void *arg, size_t arglen)
{
    (void)arg;
    (void)arglen;
    return 3;
}

START_TEST(pool_failing_initializer_fails_tasks_instead_of_hanging)
{
    mproc_pool *p;
    mproc_pool_opts o = {.processes = 2, .initializer = failing_init};
    ck_assert_int_eq(mproc_pool_create(&p, &o), 0);
    mproc_async *r;
    int rc = mproc_pool_apply_async(p, mark_run, NULL, 0, &r);
    if (rc == 0) {
        int detail = 0;
        ck_assert_int_eq(mproc_async_get(r, NULL, NULL, 10.0 * TIME_SCALE),
                         MPROC_EWORKERDIED);
        ck_assert_int_eq(mproc_async_error(r, NULL, &detail),
                         MPROC_EWORKERDIED);
        ck_assert_int_eq(detail, 3);
        mproc_async_destroy(r);
    }
    ck_assert_int_eq(mproc_pool_apply(p, mark_run, NULL, 0, NULL, NULL),
                     MPROC_EWORKERDIED);
    ck_assert_int_eq(atomic_load(&sh->runs), 0);
    mproc_pool_destroy(p);
}
END_TEST

/* Sleeps 30 s, having recorded its worker's PID. */
static int sleep_long(const void *in, void *out)
{
    (void)in;
    (void)out;
    int k = atomic_fetch_add(&sh->sleepers, 1);
    atomic_store(&sh->sleeper_pids[k % 64], getpid());
    sleep(30);
    return 0;
}

START_TEST(pool_terminate_during_long_tasks_returns_quickly)
{
    mproc_pool *p = make_pool(2);
    int64_t *in = iota(8), out[8];
    mproc_async *r;
    ck_assert_int_eq(
        mproc_pool_map_async(p, sleep_long, in, 8, out, 8, 8, 1, &r), 0);
    for (int i = 0; i < 2; i++) { /* both workers are in it, asleep */
        WAIT_UNTIL(atomic_load(&sh->sleeper_pids[i]) != 0);
        wait_blocked(atomic_load(&sh->sleeper_pids[i]), SYS_clock_nanosleep,
                     SYS_nanosleep);
    }
    double t0 = now_s();
    ck_assert_int_eq(mproc_pool_terminate(p), 0);
    ck_assert_double_lt(now_s() - t0, 2.0 * TIME_SCALE);
    ck_assert_int_eq(mproc_async_get(r, NULL, NULL, 1.0 * TIME_SCALE),
                     MPROC_ECANCELED);
    ck_assert_int_eq(mproc_pool_join(p, 1.0 * TIME_SCALE), 0);
    ck_assert_int_eq(mproc_pool_map(p, square, in, 8, out, 8, 8, 0),
                     MPROC_EINVAL);
    mproc_async_destroy(r);
    free(in);
    mproc_pool_destroy(p);
}
END_TEST

static int sleep_50ms(const void *arg, size_t arglen, mproc_buf *result)
{
    (void)arg;
    (void)arglen;
    (void)result;
    usleep(50000);
    atomic_fetch_add(&sh->runs, 1);
    return 0;
}

START_TEST(pool_close_then_join_finishes_queued_tasks)
{
    mproc_pool *p = make_pool(2);
    mproc_async *r[6];
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(mproc_pool_apply_async(p, sleep_50ms, NULL, 0, &r[i]),
                         0);
    ck_assert_int_eq(mproc_pool_join(p, 1.0), MPROC_EINVAL); /* running */
    ck_assert_int_eq(mproc_pool_close(p), 0);
    mproc_async *late;
    ck_assert_int_eq(mproc_pool_apply_async(p, sleep_50ms, NULL, 0, &late),
                     MPROC_EINVAL);
    ck_assert_int_eq(mproc_pool_join(p, 10.0 * TIME_SCALE), 0);
    ck_assert_int_eq(atomic_load(&sh->runs), 6);
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(mproc_async_successful(r[i]), 1);
        mproc_async_destroy(r[i]);
    }
    mproc_pool_destroy(p);
}
END_TEST

START_TEST(pool_destroy_leaves_held_results_cancelled)
{
    mproc_pool *p = make_pool(1);
    mproc_async *r;
    ck_assert_int_eq(mproc_pool_apply_async(p, sleep_300ms, NULL, 0, &r), 0);
    mproc_pool_destroy(p);
    ck_assert(mproc_async_ready(r));
    ck_assert_int_eq(mproc_async_get(r, NULL, NULL, 0), MPROC_ECANCELED);
    mproc_async_destroy(r);
}
END_TEST

START_TEST(pool_dropping_a_pending_result_is_safe)
{
    mproc_pool *p = make_pool(2);
    int64_t *in = iota(10000), *out = malloc(10000 * 8);
    mproc_async *r;
    ck_assert_int_eq(
        mproc_pool_map_async(p, square, in, 8, out, 8, 10000, 10, &r), 0);
    mproc_async_destroy(r);
    free(out);
    mproc_iter *it;
    ck_assert_int_eq(mproc_pool_imap(p, square, in, 8, 8, 10000, 10, &it), 0);
    mproc_iter_destroy(it);
    map_squares(p, 1000, 3);
    free(in);
    mproc_pool_destroy(p);
}
END_TEST

static int my_name(const void *arg, size_t arglen, mproc_buf *result)
{
    (void)arg;
    (void)arglen;
    const char *n = mproc_current_process_name();
    return mproc_buf_append(result, n, strlen(n) + 1);
}

START_TEST(pool_workers_are_named_as_python_names_them)
{
    mproc_pool *p = make_pool(2);
    void *res;
    size_t len;
    const char *prefix = test_method() == MPROC_START_SPAWN ? "SpawnPoolWorker-"
                         : test_method() == MPROC_START_FORKSERVER
                             ? "ForkServerPoolWorker-"
                             : "ForkPoolWorker-";
    ck_assert_int_eq(mproc_pool_apply(p, my_name, NULL, 0, &res, &len), 0);
    ck_assert_int_eq(strncmp(res, prefix, strlen(prefix)), 0);
    free(res);
    mproc_pool_destroy(p);
}
END_TEST

START_TEST(pool_misuse_returns_einval)
{
    mproc_pool *p;
    mproc_pool_opts bad = {.processes = -1};
    ck_assert_int_eq(mproc_pool_create(&p, &bad), MPROC_EINVAL);
    ck_assert_int_eq(mproc_pool_create(NULL, NULL), MPROC_EINVAL);
    p = make_pool(1);
    mproc_async *r;
    int64_t x = 1;
    ck_assert_int_eq(mproc_pool_map(p, NULL, &x, 8, &x, 8, 1, 0), MPROC_EINVAL);
    ck_assert_int_eq(mproc_pool_map(p, square, NULL, 8, &x, 8, 1, 0),
                     MPROC_EINVAL);
    ck_assert_int_eq(mproc_pool_apply_async(p, NULL, NULL, 0, &r),
                     MPROC_EINVAL);
    ck_assert_int_eq(mproc_pool_apply_async(p, my_pid, NULL, 3, &r),
                     MPROC_EINVAL);
    ck_assert_int_eq(mproc_async_get(NULL, NULL, NULL, 0), MPROC_EINVAL);
    ck_assert_int_eq(mproc_iter_next(NULL, NULL, NULL, 0), MPROC_EINVAL);
    ck_assert_int_eq(mproc_pool_join(NULL, 0), MPROC_EINVAL);
    ck_assert_int_eq(mproc_buf_append(NULL, "a", 1), MPROC_EINVAL);
    ck_assert_ptr_null(mproc_buf_reserve(NULL, 1));
    mproc_pool_destroy(p);
    mproc_pool_destroy(NULL);
    mproc_async_destroy(NULL);
    mproc_iter_destroy(NULL);
}
END_TEST

START_TEST(pool_destroy_leaves_no_fds_or_children)
{
    int fds = open_fds();
    mproc_pool *p = make_pool(3);
    map_squares(p, 100, 0);
    mproc_pool_destroy(p);
    ck_assert_int_eq(open_fds(), fds);
    ck_assert_int_eq(mproc_active_children(NULL, 0), 0);
}
END_TEST

/* Counts this process's mappings whose line names `name`, and how many of
 * them are left out of core dumps ("dd" in their smaps VmFlags). */
static int mappings_named(const char *name, int *nodump)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    ck_assert_ptr_nonnull(f);
    char line[512], perms[8];
    unsigned long lo, hi;
    int n = 0;
    bool in = false;
    *nodump = 0;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3) {
            in = strstr(line, name) != NULL;
            n += in;
        } else if (in && strncmp(line, "VmFlags:", 8) == 0) {
            *nodump += strstr(line, " dd") != NULL;
        }
    }
    fclose(f);
    return n;
}

START_TEST(pool_rings_and_arena_stay_out_of_core_dumps)
{
    mproc_pool *p = make_pool(2);
    int nodump;
    /* the control mapping: header and slots dumped, the rings not */
    ck_assert_int_ge(mappings_named("mproc-pool (", &nodump), 2);
    ck_assert_int_ge(nodump, 1);
    int n = mappings_named("mproc-pool-arena", &nodump);
    ck_assert_int_ge(n, 1);
    ck_assert_int_eq(nodump, n);
    mproc_pool_destroy(p);
}
END_TEST

static mproc_pool *left_alive; /* reachable: no leak to report at exit */

/*
 * A program that exits with its pool alive (never destroyed): the workers,
 * daemons, are stopped and reaped at exit, and the program ends promptly.
 * Under valgrind this also guards the memcheck annotations: the leak scans
 * at the program's exit and at each SIGTERM'd worker's skip the pool's
 * sparse arena and rings (each scan of them took minutes and gigabytes).
 */
START_TEST(pool_program_exiting_with_a_live_pool_exits_promptly)
{
    double t0 = now_s();
    pid_t k = fork();
    ck_assert_int_ge(k, 0);
    if (k == 0) {
        mproc_pool_opts o = {.processes = 2,
                             .initializer = record_init,
                             .initarg = "hello",
                             .initarglen = 6};
        int64_t in[100], out[100];
        for (int i = 0; i < 100; i++)
            in[i] = i;
        if (mproc_pool_create(&left_alive, &o) < 0 ||
            mproc_pool_map(left_alive, square, in, 8, out, 8, 100, 10) < 0 ||
            out[99] != 99 * 99)
            _exit(1);
        double t1 = now_s(); /* both workers known before the exit */
        while (atomic_load(&sh->inits) < 2 && now_s() - t1 < 10.0 * TIME_SCALE)
            usleep(1000);
        exit(0);
    }
    ck_assert_int_eq(child_exit_status(k), 0);
    ck_assert_double_lt(now_s() - t0, 20.0 * TIME_SCALE);
    ck_assert_int_eq(atomic_load(&sh->inits), 2);
    for (int i = 0; i < 2; i++) /* reaped, not left running */
        ck_assert_int_ne(kill(atomic_load(&sh->init_pids[i]), 0), 0);
}
END_TEST

/* ---- stress: workers killed at random points --------------------------- */

static int record_pid_init(void *arg, size_t arglen)
{
    (void)arg;
    (void)arglen;
    int k = atomic_fetch_add(&sh->inits, 1);
    atomic_store(&sh->init_ppids[k % 1024], getppid());
    atomic_store(&sh->init_pids[k % 1024], getpid());
    return 0;
}

static int busy_square(const void *in, void *out)
{
    int64_t x = *(const int64_t *)in, y = x;
    for (int i = 0; i < 1000; i++) {
        y = (y * 31 + 7) % 1000003;
        __asm__ volatile("" : "+r"(y)); /* keep the work */
    }
    *(int64_t *)out = x * x + (y & 0);
    return 0;
}

static int square_task(const void *arg, size_t arglen, mproc_buf *result)
{
    int64_t x;
    if (arglen != sizeof x)
        return 1;
    memcpy(&x, arg, sizeof x);
    x *= x;
    return mproc_buf_append(result, &x, sizeof x);
}

/* Whether pid is a child of parent (so not a recycled stranger). */
static bool child_of(pid_t pid, pid_t parent)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *rp = strrchr(buf, ')');
    int ppid = 0;
    char st;
    return rp && sscanf(rp + 1, " %c %d", &st, &ppid) == 2 && ppid == parent;
}

/* Kills a random worker of parent every few milliseconds until told (a
 * worker's real parent is the pool's process, or under forkserver the
 * server, as the worker recorded). */
static void killer(pid_t parent)
{
    unsigned seed = (unsigned)getpid();
    while (!atomic_load(&sh->stop)) {
        usleep(2000 + rand_r(&seed) % 8000);
        int n = atomic_load(&sh->inits);
        if (n == 0)
            continue;
        /* one of the latest workers: most older ones have died */
        int k = n - 1 - (int)(rand_r(&seed) % (unsigned)(n < 6 ? n : 6));
        pid_t pid = atomic_load(&sh->init_pids[k % 1024]);
        pid_t ppid = atomic_load(&sh->init_ppids[k % 1024]);
        if (pid > 0 && pid != parent && child_of(pid, ppid) &&
            kill(pid, SIGKILL) == 0)
            atomic_fetch_add(&sh->kills, 1);
    }
    _exit(0);
}

START_TEST(pool_survives_random_worker_kills)
{
    mproc_pool *p;
    mproc_pool_opts o = {.processes = 3, .initializer = record_pid_init};
    unsigned rounds_ok = 0, rounds_failed = 0, lost = 0;
    for (int variant = 0; variant < 2; variant++) {
        o.retries = variant ? 3 : 0;
        ck_assert_int_eq(mproc_pool_create(&p, &o), 0);
        atomic_store(&sh->stop, 0);
        pid_t parent = getpid(), k = fork();
        ck_assert_int_ge(k, 0);
        if (k == 0)
            killer(parent);
        size_t n = 20000;
        int64_t *in = iota(n), *out = malloc(n * 8), y;
        double t0 = now_s();
        while (now_s() - t0 < 4.0) {
            memset(out, 0, n * 8);
            int rc = mproc_pool_map(p, busy_square, in, 8, out, 8, n, 64);
            if (rc == 0) {
                check_squares(out, n);
                rounds_ok++;
            } else {
                ck_assert_int_eq(rc, MPROC_EWORKERDIED);
                rounds_failed++;
            }
            mproc_iter *it;
            ck_assert_int_eq(
                mproc_pool_imap_unordered(p, busy_square, in, 8, 8, n, 32, &it),
                0);
            size_t index;
            while ((rc = mproc_iter_next(it, &y, &index, MPROC_FOREVER)) !=
                   MPROC_EOF) {
                if (rc == 0)
                    ck_assert_int_eq(y, (int64_t)(index * index));
                else {
                    ck_assert_int_eq(rc, MPROC_EWORKERDIED);
                    lost++;
                }
            }
            mproc_iter_destroy(it);
            mproc_async *r[64];
            for (int i = 0; i < 64; i++) {
                int64_t x = i;
                ck_assert_int_eq(
                    mproc_pool_apply_async(p, square_task, &x, 8, &r[i]), 0);
            }
            for (int i = 0; i < 64; i++) {
                void *res;
                size_t len;
                rc = mproc_async_get(r[i], &res, &len, MPROC_FOREVER);
                if (rc == 0) {
                    ck_assert_uint_eq(len, 8);
                    memcpy(&y, res, 8);
                    ck_assert_int_eq(y, (int64_t)i * i);
                    free(res);
                } else {
                    ck_assert_int_eq(rc, MPROC_EWORKERDIED);
                    lost++;
                }
                mproc_async_destroy(r[i]);
            }
        }
        atomic_store(&sh->stop, 1);
        ck_assert_int_eq(waitpid(k, NULL, 0), k);
        /* Quiet again: the pool is whole. */
        map_squares(p, 10000, 0);
        free(in);
        free(out);
        mproc_pool_destroy(p);
    }
    ck_assert_uint_gt(rounds_ok + rounds_failed, 2);
    ck_assert_int_gt(atomic_load(&sh->kills), 10);
    fprintf(stderr,
            "stress: %u maps whole, %u failed, %u items lost, %d kills\n",
            rounds_ok, rounds_failed, lost, atomic_load(&sh->kills));
}
END_TEST

int main(int argc, char **argv)
{
    test_init(&argc, &argv, setup);
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("pool");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, pool_map_returns_results_in_order);
    tcase_add_test(tc, pool_map_of_nothing_returns_at_once);
    tcase_add_test(tc, pool_map_task_failure_reports_item_and_status);
    tcase_add_test(tc, pool_starmap_is_map_over_structs);
    tcase_add_test(tc, pool_map_async_result_is_ready_after_get);
    tcase_add_test(tc, pool_imap_yields_in_order);
    tcase_add_test(tc, pool_imap_unordered_yields_every_item_once);
    tcase_add_test(tc, pool_imap_failure_ends_the_iteration_at_chunksize_1);
    tcase_add_test(tc, pool_imap_failure_ends_the_iteration_at_chunksize_2);
    tcase_add_test(tc, pool_imap_failure_ends_the_iteration_at_chunksize_4);
    tcase_add_test(
        tc, pool_imap_unordered_failure_ends_the_iteration_at_chunksize_1);
    tcase_add_test(
        tc, pool_imap_unordered_failure_ends_the_iteration_at_chunksize_2);
    tcase_add_test(
        tc, pool_imap_unordered_failure_ends_the_iteration_at_chunksize_4);
    tcase_add_test(
        tc, pool_imap_unordered_failure_ends_the_iteration_on_many_workers);
    tcase_add_test(tc, pool_imap_does_not_run_ahead_of_its_consumer);
    tcase_add_test(tc, pool_apply_failure_returns_the_words_the_task_wrote);
    tcase_add_test(tc,
                   pool_apply_failure_words_over_the_bound_are_cut_and_marked);
    tcase_add_test(tc, pool_failure_without_words_has_no_text);
    tcase_add_test(tc, pool_task_error_text_replaces_the_buffer_as_the_words);
    tcase_add_test(tc, pool_map_failure_returns_the_words_of_the_failed_item);
    tcase_add_test(tc, pool_imap_failure_returns_the_words_of_the_failed_item);
    tcase_add_test(tc, pool_apply_returns_variable_size_results);
    tcase_add_test(tc, pool_apply_large_results_wrap_the_result_ring);
    tcase_add_test(tc, pool_apply_result_over_the_ring_fails_with_emsgsize);
    tcase_add_test(tc, pool_many_sequential_applies_never_stall);
    tcase_add_test(tc, pool_apply_async_runs_while_the_caller_sleeps);
    tcase_add_test(tc, pool_async_get_times_out_then_succeeds);
    tcase_add_test(tc, pool_wait_any_returns_the_ready_one_of_a_mix);
    tcase_add_test(
        tc, pool_wait_any_returns_results_of_a_terminated_pool_cancelled);
    tcase_add_test(tc, pool_wait_any_takes_every_result_once_as_they_finish);
    tcase_add_test(tc, pool_task_that_kills_its_worker_fails_with_workerdied);
    tcase_add_test(tc, pool_map_item_that_kills_its_worker_is_named);
    tcase_add_test(tc, pool_worker_exit_fails_task_with_its_exit_code);
    tcase_add_test(tc, pool_retries_rerun_a_crashed_task);
    tcase_add_test(tc, pool_retries_rerun_a_crashed_map_chunk);
    tcase_add_test(tc, pool_map_progress_advances_outside_pool_calls_to_total);
    tcase_add_test(
        tc, pool_map_progress_under_a_crashed_chunk_with_retries_ends_at_total);
    tcase_add_test(tc, pool_imap_progress_reaches_total_on_real_workers);
    tcase_add_test(tc, pool_maxtasksperchild_gives_fresh_workers);
    tcase_add_test(tc, pool_initializer_runs_once_in_each_worker);
    tcase_add_test(tc, pool_initializer_runs_in_replacement_workers);
    tcase_add_test(tc, pool_failing_initializer_fails_tasks_instead_of_hanging);
    tcase_add_test(tc, pool_terminate_during_long_tasks_returns_quickly);
    tcase_add_test(tc, pool_close_then_join_finishes_queued_tasks);
    tcase_add_test(tc, pool_destroy_leaves_held_results_cancelled);
    tcase_add_test(tc, pool_dropping_a_pending_result_is_safe);
    tcase_add_test(tc, pool_workers_are_named_as_python_names_them);
    tcase_add_test(tc, pool_misuse_returns_einval);
    tcase_add_test(tc, pool_destroy_leaves_no_fds_or_children);
    tcase_add_test(tc, pool_program_exiting_with_a_live_pool_exits_promptly);
    tcase_add_test(tc, pool_rings_and_arena_stay_out_of_core_dumps);
    suite_add_tcase(s, tc);

    TCase *st = tcase_create("stress");
    tcase_set_tags(st, "stress");
    tcase_add_checked_fixture(st, setup, teardown);
    tcase_set_timeout(st, 50);
    tcase_add_test(st, pool_survives_random_worker_kills);
    suite_add_tcase(s, st);
    return run_suite(s);
}
