/*
 * test_pool_transport.c - the pool's seam: function references (kit
 * fnref), and the pool driven through a fake transport that runs tasks in
 * this process under a plan each test sets.
 *
 * The fake (the ops of pool/transport.h) keeps submitted tasks in a list
 * and runs them inside poll, in submission order, in the test process;
 * its arena is malloc'd memory, an offset being the block's address. The
 * plan makes it deliver each poll's completions last first, "kill" the
 * worker at one map item (the items before it run, then the task is
 * reported dead with a signal) a given number of times, report deaths as
 * a broken transport's, or hold every task until the test lets go (a
 * slow worker), or run only a few tasks a poll (workers that finish one
 * chunk at a time). It records what it saw: tasks submitted and the item
 * each starts at, the order of deliveries, the references it resolved.
 */
#include "check_main.h"
#include "kit/buf.h"
#include "kit/fnref.h"
#include "mproc.h"
#include "pool/transport.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- fnref ------------------------------------------------------------ */

static int forty_two(void)
{
    return 42;
}

typedef size_t (*strlen_fn)(const char *);

START_TEST(fnref_of_a_static_function_resolves_to_it)
{
    mproc__fnref ref;
    ck_assert_int_eq(mproc__fnref_of((void (*)(void))forty_two, &ref), 0);
    ck_assert_uint_eq(ref.zero, 0);
    ck_assert_ptr_nonnull(mproc__fnref_path(ref.object));
    void (*fn)(void) = NULL;
    ck_assert_int_eq(mproc__fnref_resolve(&ref, NULL, &fn), 0);
    ck_assert(fn == (void (*)(void))forty_two);
    ck_assert_int_eq(((int (*)(void))fn)(), 42);
}
END_TEST

START_TEST(fnref_of_a_libc_function_resolves_to_it)
{
    mproc__fnref ref, mine;
    ck_assert_int_eq(mproc__fnref_of((void (*)(void))strlen, &ref), 0);
    ck_assert_int_eq(mproc__fnref_of((void (*)(void))forty_two, &mine), 0);
    void (*fn)(void) = NULL;
    ck_assert_int_eq(mproc__fnref_resolve(&ref, NULL, &fn), 0);
    ck_assert(fn == (void (*)(void))strlen);
    ck_assert_uint_eq(((strlen_fn)fn)("abcd"), 4);
    /* two objects, two entries: the program and the C library */
    ck_assert_uint_ne(ref.object, mine.object);
}
END_TEST

START_TEST(fnref_of_a_non_function_address_fails_with_einval)
{
    mproc__fnref ref = {.object = 7, .offset = 9};
    int on_stack = 0;
    void *heap = malloc(1 << 20);
    ck_assert_ptr_nonnull(heap);
    ck_assert_int_eq(
        mproc__fnref_of((void (*)(void))(uintptr_t)&on_stack, &ref),
        MPROC_EINVAL);
    ck_assert_int_eq(mproc__fnref_of((void (*)(void))(uintptr_t)heap, &ref),
                     MPROC_EINVAL);
    ck_assert_int_eq(mproc__fnref_of(NULL, &ref), MPROC_EINVAL);
    ck_assert_uint_eq(ref.object, 7); /* untouched on failure */
    free(heap);
}
END_TEST

START_TEST(fnref_of_the_same_function_is_the_same_bytes)
{
    mproc__fnref a, b;
    ck_assert_int_eq(mproc__fnref_of((void (*)(void))forty_two, &a), 0);
    ck_assert_int_eq(mproc__fnref_of((void (*)(void))forty_two, &b), 0);
    ck_assert_int_eq(memcmp(&a, &b, sizeof a), 0);
}
END_TEST

START_TEST(fnref_resolves_by_index_in_a_forked_child)
{
    mproc__fnref ref;
    ck_assert_int_eq(mproc__fnref_of((void (*)(void))forty_two, &ref), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        void (*fn)(void) = NULL;
        if (mproc__fnref_resolve(&ref, NULL, &fn) != 0)
            _exit(1);
        _exit(((int (*)(void))fn)() == 42 ? 0 : 2);
    }
    ck_assert_int_eq(child_exit_status(pid), 0);
}
END_TEST

START_TEST(fnref_unknown_index_fails_with_enoent)
{
    mproc__fnref ref = {.object = MPROC__FNREF_OBJECTS - 1, .offset = 0};
    void (*fn)(void) = NULL;
    ck_assert_int_eq(mproc__fnref_resolve(&ref, NULL, &fn), -ENOENT);
    ck_assert_ptr_null(mproc__fnref_path(MPROC__FNREF_OBJECTS - 1));
    ck_assert_int_eq(mproc__fnref_resolve(NULL, NULL, &fn), MPROC_EINVAL);
}
END_TEST

START_TEST(fnref_resolves_by_path_through_the_loader)
{
    mproc__fnref ref;
    ck_assert_int_eq(mproc__fnref_of((void (*)(void))strlen, &ref), 0);
    const char *path = mproc__fnref_path(ref.object);
    ck_assert_ptr_nonnull(path);
    ck_assert_int_eq(path[0], '/'); /* a shared object, by absolute path */
    /* Another spelling of the same file: not in the table by that name,
     * so the loader (dlopen) finds it; the index is then ignored. */
    char alias[4096];
    snprintf(alias, sizeof alias, "/.%s", path);
    ref.object = MPROC__FNREF_OBJECTS - 1;
    void (*fn)(void) = NULL;
    ck_assert_int_eq(mproc__fnref_resolve(&ref, alias, &fn), 0);
    ck_assert(fn == (void (*)(void))strlen);
    ck_assert_int_eq(mproc__fnref_resolve(&ref, "/nonexistent/libnone.so", &fn),
                     -ENOENT);
}
END_TEST

/* ---- the fake transport --------------------------------------------- */

#define MAX_LOG 256

/* What the test wants of the fake (its config), and what the fake saw. */
struct plan {
    bool reversed;     /* deliver each poll's completions last first */
    bool hold;         /* run nothing until the test clears it */
    bool broken;       /* report deaths as a broken transport's */
    uint64_t kill_at;  /* the map item whose worker dies ... */
    int deaths;        /* ... this many times, before it runs */
    int signal;        /* the signal it dies of */
    unsigned per_poll; /* run at most this many tasks a poll; 0: all */
    /* seen */
    unsigned submitted;
    uint64_t starts[MAX_LOG]; /* map: the item each submitted task starts at */
    unsigned delivered;
    uint64_t delivery[MAX_LOG]; /* map: `first` of each delivered task */
    unsigned resolved;          /* tasks run through their reference */
    mproc__fnref last_ref;
};

struct outcome {
    mproc__task task;
    int code, detail;
    uint64_t index;
    void *data;
    size_t len;
};

struct fake {
    struct plan *plan;
    mproc__transport_opts o;
    mproc__task *queue; /* submitted, not yet run */
    size_t len, cap;
    bool closed, terminated;
    mproc_buf buf;
};

static int fake_create(void **tp, const mproc__transport_opts *o, void *config)
{
    struct fake *f = calloc(1, sizeof *f);
    if (!f)
        return MPROC_ENOMEM;
    f->plan = config;
    f->o = *o;
    *tp = f;
    return 0;
}

static int fake_alloc(void *tp, size_t len, uint64_t *off)
{
    (void)tp;
    void *b = malloc(len ? len : 1);
    if (!b)
        return MPROC_ENOMEM;
    *off = (uint64_t)(uintptr_t)b;
    return 0;
}

static void fake_free(void *tp, uint64_t off, size_t len)
{
    (void)tp;
    (void)len;
    free((void *)(uintptr_t)off);
}

static void *fake_ptr(void *tp, uint64_t off)
{
    (void)tp;
    return (void *)(uintptr_t)off;
}

static int fake_submit(void *tp, const mproc__task *task, int *detail)
{
    struct fake *f = tp;
    (void)detail;
    if (f->len == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        mproc__task *q = realloc(f->queue, cap * sizeof *q);
        if (!q)
            return MPROC_ENOMEM;
        f->queue = q;
        f->cap = cap;
    }
    f->queue[f->len++] = *task;
    struct plan *pl = f->plan;
    if (pl->submitted < MAX_LOG)
        pl->starts[pl->submitted] = task->start;
    pl->submitted++;
    return 0;
}

/* A failed task's words, as a worker sends them with its failure. */
static void take_words(struct outcome *r, const mproc_buf *buf)
{
    char words[MPROC_ERROR_TEXT_MAX];
    size_t len = mproc__task_words(buf, words);
    if (!len)
        return;
    r->data = malloc(len);
    ck_assert_ptr_nonnull(r->data);
    memcpy(r->data, words, len);
    r->len = len;
}

/* Runs one task here, as a worker would, under the plan. */
static void run_task(struct fake *f, struct outcome *r)
{
    const mproc__task *t = &r->task;
    struct plan *pl = f->plan;
    void (*fn)(void);
    if (mproc__fnref_resolve(&t->fn, NULL, &fn) < 0) {
        r->code = -ENOENT;
        r->index = t->start;
        return;
    }
    pl->resolved++;
    pl->last_ref = t->fn;
    mproc__task_words_clear();
    if (t->kind == MPROC__TASK_MAP) {
        mproc_map_fn map = (mproc_map_fn)fn;
        const char *in = (const char *)(uintptr_t)t->in_off;
        char *out = (char *)(uintptr_t)t->out_off;
        for (uint64_t k = t->start; k < t->end; k++) {
            if (k == pl->kill_at && pl->deaths > 0) {
                pl->deaths--;
                r->code = MPROC_EWORKERDIED;
                r->detail = -pl->signal;
                r->index = k;
                return;
            }
            int st = map(in + (k - t->first) * t->in_size,
                         out + (k - t->first) * t->out_size);
            if (st) {
                r->code = MPROC_ETASKFAILED;
                r->detail = st;
                r->index = k;
                take_words(r, NULL);
                return;
            }
        }
        return;
    }
    mproc_task_fn task = (mproc_task_fn)fn;
    mproc__buf_reset(&f->buf);
    const void *arg = t->in_size ? (const void *)(uintptr_t)t->in_off : NULL;
    int st = task(arg, (size_t)t->in_size, &f->buf);
    if (st) {
        r->code = MPROC_ETASKFAILED;
        r->detail = st;
        take_words(r, &f->buf);
    } else if (f->buf.len) {
        r->data = malloc(f->buf.len);
        ck_assert_ptr_nonnull(r->data);
        memcpy(r->data, f->buf.data, f->buf.len);
        r->len = f->buf.len;
    }
}

/* Runs what is queued (unless held) and delivers it, as the plan says. A
 * rerun the pool submits from the callback waits for the next poll. */
static int fake_poll(void *tp)
{
    struct fake *f = tp;
    struct plan *pl = f->plan;
    if (f->terminated || pl->hold || f->len == 0)
        return 0;
    size_t n = f->len;
    if (pl->per_poll && n > pl->per_poll)
        n = pl->per_poll;
    struct outcome *rs = calloc(n, sizeof *rs);
    ck_assert_ptr_nonnull(rs);
    for (size_t k = 0; k < n; k++)
        rs[k].task = f->queue[k];
    f->len -= n;
    memmove(f->queue, f->queue + n, f->len * sizeof *f->queue);
    for (size_t k = 0; k < n; k++)
        run_task(f, &rs[k]);
    for (size_t i = 0; i < n; i++) {
        struct outcome *r = &rs[pl->reversed ? n - 1 - i : i];
        mproc__done d = {.task = &r->task,
                         .code = r->code,
                         .detail = r->detail,
                         .index = r->index,
                         .broken = pl->broken,
                         .data = r->data,
                         .len = r->len};
        if (pl->delivered < MAX_LOG)
            pl->delivery[pl->delivered] = r->task.first;
        pl->delivered++;
        f->o.done(f->o.ctx, &d);
        free(r->data);
    }
    free(rs);
    return (int)n;
}

/* Nothing to wait for but a held task (or nothing at all): nap 1 ms. */
static void fake_sleep(void *tp, int64_t deadline)
{
    struct fake *f = tp;
    if (f->len && !f->plan->hold)
        return;
    int64_t ns = deadline - mproc__now();
    if (ns > 1000000)
        ns = 1000000;
    if (ns > 0)
        nanosleep(&(struct timespec){0, (long)ns}, NULL);
}

static void fake_close(void *tp)
{
    ((struct fake *)tp)->closed = true;
}

static void fake_terminate(void *tp)
{
    struct fake *f = tp;
    f->terminated = true;
    f->len = 0;
}

static bool fake_joined(void *tp)
{
    struct fake *f = tp;
    return f->terminated || (f->closed && f->len == 0);
}

static void fake_destroy(void *tp)
{
    struct fake *f = tp;
    if (!f)
        return;
    free(f->queue);
    mproc__buf_free(&f->buf);
    free(f);
}

static const mproc__transport_ops fake_transport = {
    .name = "fake",
    .create = fake_create,
    .alloc = fake_alloc,
    .free = fake_free,
    .ptr = fake_ptr,
    .submit = fake_submit,
    .poll = fake_poll,
    .sleep = fake_sleep,
    .close = fake_close,
    .terminate = fake_terminate,
    .joined = fake_joined,
    .destroy = fake_destroy,
};

static struct plan plan;

/* A pool of one (fake) worker over the plan, with these retries. */
static mproc_pool *fake_pool(unsigned retries)
{
    mproc_pool *p;
    mproc_pool_opts o = {.processes = 1, .retries = retries};
    ck_assert_int_eq(mproc__pool_create_with(&p, &o, &fake_transport, &plan),
                     0);
    return p;
}

static void plan_reset(void)
{
    memset(&plan, 0, sizeof plan);
    plan.kill_at = UINT64_MAX;
}

#define N 32

static int runs[N]; /* how often each item's function ran */

static int count_square(const void *in, void *out)
{
    int64_t x = *(const int64_t *)in;
    runs[x]++;
    *(int64_t *)out = x * x;
    return 0;
}

static void iota_n(int64_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (int64_t)i;
}

/* A map of N items in chunks of 8 (items 8..15 form the second chunk). */
static int map_n(mproc_pool *p, int64_t *out, size_t *index, int *detail)
{
    int64_t in[N];
    iota_n(in, N);
    mproc_async *r;
    ck_assert_int_eq(
        mproc_pool_map_async(p, count_square, in, 8, out, 8, N, 8, &r), 0);
    ck_assert_int_eq(mproc_async_wait(r, 10.0), 0);
    int rc = mproc_async_error(r, index, detail);
    mproc_async_destroy(r);
    return rc;
}

START_TEST(pool_worker_dying_mid_chunk_fails_the_map_at_that_item)
{
    plan_reset();
    plan.kill_at = 13;
    plan.deaths = 1;
    plan.signal = SIGSEGV;
    mproc_pool *p = fake_pool(0);
    int64_t out[N];
    size_t index = 0;
    int detail = 0;
    ck_assert_int_eq(map_n(p, out, &index, &detail), MPROC_EWORKERDIED);
    ck_assert_uint_eq(index, 13);
    ck_assert_int_eq(detail, -SIGSEGV);
    for (int i = 8; i < 13; i++) /* the chunk's items before it, once */
        ck_assert_int_eq(runs[i], 1);
    ck_assert_int_eq(runs[13], 0);
    ck_assert_uint_eq(plan.submitted, N / 8); /* no rerun */
    mproc_pool_destroy(p);
}
END_TEST

START_TEST(pool_map_fills_out_in_order_when_results_arrive_reversed)
{
    plan_reset();
    plan.reversed = true;
    mproc_pool *p = fake_pool(0);
    int64_t out[N];
    ck_assert_int_eq(map_n(p, out, NULL, NULL), 0);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(out[i], (int64_t)i * i);
    ck_assert_uint_eq(plan.delivered, N / 8);
    ck_assert_uint_eq(plan.delivery[0], N - 8); /* the last chunk came first */
    mproc_pool_destroy(p);
}
END_TEST

/* The items an imap of 4 items (one per chunk) yields, in yield order. */
static void imap_4(bool ordered, int64_t got[4])
{
    plan_reset();
    plan.reversed = true;
    mproc_pool *p = fake_pool(0);
    int64_t in[4], y;
    iota_n(in, 4);
    mproc_iter *it;
    ck_assert_int_eq(
        ordered
            ? mproc_pool_imap(p, count_square, in, 8, 8, 4, 1, &it)
            : mproc_pool_imap_unordered(p, count_square, in, 8, 8, 4, 1, &it),
        0);
    size_t index;
    for (int k = 0; k < 4; k++) {
        ck_assert_int_eq(mproc_iter_next(it, &y, &index, 10.0), 0);
        ck_assert_int_eq(y, (int64_t)(index * index));
        got[k] = (int64_t)index;
    }
    ck_assert_int_eq(mproc_iter_next(it, &y, &index, 10.0), MPROC_EOF);
    ck_assert_uint_eq(plan.delivered, 4);
    ck_assert_uint_eq(plan.delivery[0], 3); /* delivered last first */
    mproc_iter_destroy(it);
    mproc_pool_destroy(p);
}

START_TEST(pool_imap_yields_in_order_when_results_arrive_reversed)
{
    int64_t got[4];
    imap_4(true, got);
    for (int k = 0; k < 4; k++)
        ck_assert_int_eq(got[k], k);
}
END_TEST

START_TEST(pool_imap_unordered_yields_in_completion_order)
{
    int64_t got[4];
    imap_4(false, got);
    for (int k = 0; k < 4; k++)
        ck_assert_int_eq(got[k], 3 - k);
}
END_TEST

static int square_fail_at_7(const void *in, void *out)
{
    int64_t x = *(const int64_t *)in;
    *(int64_t *)out = x * x;
    return x == 7 ? 9 : 0;
}

/* An imap of 20 items in chunks of 2, item 7 failing, the window's four
 * chunks (items 0-7) delivered last first: how many items come before the
 * failure, which must be item 7 and end the iteration. */
static size_t imap_fail_reversed(bool ordered)
{
    plan_reset();
    plan.reversed = true;
    mproc_pool *p = fake_pool(0);
    int64_t in[20], y;
    iota_n(in, 20);
    mproc_iter *it;
    ck_assert_int_eq(
        ordered ? mproc_pool_imap(p, square_fail_at_7, in, 8, 8, 20, 2, &it)
                : mproc_pool_imap_unordered(p, square_fail_at_7, in, 8, 8, 20,
                                            2, &it),
        0);
    size_t index, k = 0;
    int rc;
    while ((rc = mproc_iter_next(it, &y, &index, 10.0)) == 0) {
        ck_assert_uint_eq(index, k);
        ck_assert_int_eq(y, (int64_t)(k * k));
        k++;
    }
    ck_assert_int_eq(rc, MPROC_ETASKFAILED);
    ck_assert_uint_eq(index, 7);
    unsigned sent = plan.submitted;
    ck_assert_int_eq(mproc_iter_next(it, &y, &index, 10.0), MPROC_EOF);
    ck_assert_int_eq(mproc_iter_next(it, &y, &index, 0), MPROC_EOF);
    ck_assert_uint_eq(plan.submitted, sent); /* nothing sent after it */
    mproc_iter_destroy(it);
    mproc_pool_destroy(p);
    return k;
}

START_TEST(pool_imap_failure_ends_the_iteration_after_the_chunks_before_it)
{
    ck_assert_uint_eq(imap_fail_reversed(true), 6);
}
END_TEST

START_TEST(pool_imap_unordered_failure_that_finishes_first_ends_at_once)
{
    /* the failed chunk was delivered first: nothing comes before it */
    ck_assert_uint_eq(imap_fail_reversed(false), 0);
    ck_assert_uint_eq(plan.submitted, 4);
}
END_TEST

static int square_fail_at_13_saying(const void *in, void *out)
{
    int64_t x = *(const int64_t *)in;
    *(int64_t *)out = x * x;
    if (x != 13)
        return 0;
    mproc_task_error("%lld is unlucky", (long long)x);
    return 4;
}

static int fail_with_words(const void *arg, size_t arglen, mproc_buf *result)
{
    mproc_buf_append(result, arg, arglen);
    return 1;
}

/* The words cross the transport with the failure, whichever transport:
 * here the fake's, with deliveries reversed. */
START_TEST(pool_failed_task_words_cross_the_transport)
{
    plan_reset();
    plan.reversed = true;
    mproc_pool *p = fake_pool(0);
    int64_t in[N], out[N];
    iota_n(in, N);
    mproc_async *r;
    ck_assert_int_eq(mproc_pool_map_async(p, square_fail_at_13_saying, in, 8,
                                          out, 8, N, 8, &r),
                     0);
    ck_assert_int_eq(mproc_async_wait(r, 10.0), 0);
    size_t len = 0, index = 0;
    ck_assert_int_eq(mproc_async_error(r, &index, NULL), MPROC_ETASKFAILED);
    ck_assert_uint_eq(index, 13);
    ck_assert_str_eq(mproc_async_error_text(r, &len), "13 is unlucky");
    ck_assert_uint_eq(len, 13);
    mproc_async_destroy(r);
    void *res = NULL;
    ck_assert_int_eq(
        mproc_pool_apply(p, fail_with_words, "no disk", 7, &res, &len),
        MPROC_ETASKFAILED);
    ck_assert_str_eq(res, "no disk");
    ck_assert_uint_eq(len, 7);
    free(res);
    mproc_iter *it;
    ck_assert_int_eq(
        mproc_pool_imap(p, square_fail_at_13_saying, in, 8, 8, N, 4, &it), 0);
    int64_t y;
    while (mproc_iter_next(it, &y, &index, 10.0) == 0)
        ;
    ck_assert_uint_eq(index, 13);
    ck_assert_str_eq(mproc_iter_error_text(it, &len), "13 is unlucky");
    mproc_iter_destroy(it);
    mproc_pool_destroy(p);
}
END_TEST

START_TEST(pool_retry_reruns_a_dead_chunk_from_the_dead_item)
{
    plan_reset();
    plan.kill_at = 13;
    plan.deaths = 1;
    plan.signal = SIGKILL;
    mproc_pool *p = fake_pool(1);
    int64_t out[N];
    ck_assert_int_eq(map_n(p, out, NULL, NULL), 0);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(out[i], (int64_t)i * i);
        ck_assert_int_eq(runs[i], 1); /* 8..12 not again: no rerun from 8 */
    }
    ck_assert_uint_eq(plan.submitted, N / 8 + 1);
    ck_assert_uint_eq(plan.starts[N / 8], 13);
    mproc_pool_destroy(p);
}
END_TEST

START_TEST(pool_retry_budget_spent_fails_the_map)
{
    plan_reset();
    plan.kill_at = 13;
    plan.deaths = 3;
    plan.signal = SIGKILL;
    mproc_pool *p = fake_pool(2);
    int64_t out[N];
    size_t index = 0;
    int detail = 0;
    ck_assert_int_eq(map_n(p, out, &index, &detail), MPROC_EWORKERDIED);
    ck_assert_uint_eq(index, 13);
    ck_assert_int_eq(detail, -SIGKILL);
    ck_assert_int_eq(plan.deaths, 0); /* the run and both reruns died */
    ck_assert_uint_eq(plan.submitted, N / 8 + 2);
    mproc_pool_destroy(p);
}
END_TEST

START_TEST(pool_does_not_rerun_a_death_in_a_broken_transport)
{
    plan_reset();
    plan.kill_at = 13;
    plan.deaths = 1;
    plan.signal = SIGKILL;
    plan.broken = true;
    mproc_pool *p = fake_pool(3);
    int64_t out[N];
    size_t index = 0;
    ck_assert_int_eq(map_n(p, out, &index, NULL), MPROC_EWORKERDIED);
    ck_assert_uint_eq(index, 13);
    ck_assert_uint_eq(plan.submitted, N / 8);
    mproc_pool_destroy(p);
}
END_TEST

static int echo(const void *arg, size_t arglen, mproc_buf *result)
{
    return mproc_buf_append(result, arg, arglen);
}

START_TEST(pool_async_wait_times_out_while_the_worker_is_slow)
{
    plan_reset();
    plan.hold = true;
    mproc_pool *p = fake_pool(0);
    mproc_async *r;
    ck_assert_int_eq(mproc_pool_apply_async(p, echo, "hi", 2, &r), 0);
    double t0 = now_s();
    ck_assert_int_eq(mproc_async_wait(r, 0.05), MPROC_ETIMEDOUT);
    ck_assert_double_ge(now_s() - t0, 0.04);
    ck_assert(!mproc_async_ready(r));
    ck_assert_uint_eq(plan.resolved, 0);
    plan.hold = false; /* the worker gets to it */
    void *res = NULL;
    size_t len = 0;
    ck_assert_int_eq(mproc_async_get(r, &res, &len, 10.0), 0);
    ck_assert_uint_eq(len, 2);
    ck_assert_int_eq(memcmp(res, "hi", 2), 0);
    free(res);
    mproc_async_destroy(r);
    mproc_pool_destroy(p);
}
END_TEST

static int answer(const void *arg, size_t arglen, mproc_buf *result)
{
    (void)arg;
    (void)arglen;
    return mproc_buf_append(result, "42", 2);
}

START_TEST(pool_apply_function_reaches_the_worker_as_a_fnref)
{
    plan_reset();
    mproc_pool *p = fake_pool(0);
    void *res = NULL;
    size_t len = 0;
    ck_assert_int_eq(mproc_pool_apply(p, answer, NULL, 0, &res, &len), 0);
    ck_assert_uint_eq(len, 2);
    ck_assert_int_eq(memcmp(res, "42", 2), 0);
    free(res);
    ck_assert_uint_eq(plan.resolved, 1);
    mproc__fnref want;
    ck_assert_int_eq(mproc__fnref_of((void (*)(void))answer, &want), 0);
    ck_assert_int_eq(memcmp(&plan.last_ref, &want, sizeof want), 0);
    void (*fn)(void) = NULL;
    ck_assert_int_eq(mproc__fnref_resolve(&plan.last_ref, NULL, &fn), 0);
    ck_assert(fn == (void (*)(void))answer);
    mproc_pool_destroy(p);
}
END_TEST

START_TEST(pool_function_in_no_loaded_object_fails_with_einval)
{
    plan_reset();
    mproc_pool *p = fake_pool(0);
    void *heap = malloc(4096);
    ck_assert_ptr_nonnull(heap);
    mproc_async *r;
    ck_assert_int_eq(
        mproc_pool_apply_async(p, (mproc_task_fn)(uintptr_t)heap, NULL, 0, &r),
        MPROC_EINVAL);
    int64_t x = 1, y;
    mproc_map_fn bad = (mproc_map_fn)(uintptr_t)heap;
    ck_assert_int_eq(mproc_pool_map(p, bad, &x, 8, &y, 8, 1, 0), MPROC_EINVAL);
    mproc_iter *it;
    ck_assert_int_eq(mproc_pool_imap(p, bad, &x, 8, 8, 1, 0, &it),
                     MPROC_EINVAL);
    ck_assert_uint_eq(plan.submitted, 0);
    /* the pool goes on, and a good function after a bad one works */
    ck_assert_int_eq(mproc_pool_apply(p, answer, NULL, 0, NULL, NULL), 0);
    free(heap);
    mproc_pool_destroy(p);
}
END_TEST

/* ---- progress ----------------------------------------------------------- */

/* Starts a map of fn over the items 0..N-1 in chunks of 8 into out (the
 * input is copied at once). */
static mproc_async *map_async_n(mproc_pool *p, mproc_map_fn fn, int64_t *out)
{
    int64_t in[N];
    iota_n(in, N);
    mproc_async *r;
    ck_assert_int_eq(mproc_pool_map_async(p, fn, in, 8, out, 8, N, 8, &r), 0);
    return r;
}

/* Reads r's progress (one poll: one chunk under plan.per_poll 1) and checks
 * it against the last reading: total fixed, done never going back. */
static size_t progress_step(mproc_async *r, size_t last, size_t total)
{
    size_t done = 99, tot = 99;
    ck_assert_int_eq(mproc_async_progress(r, &done, &tot), 0);
    ck_assert_uint_eq(tot, total);
    ck_assert_uint_ge(done, last);
    ck_assert_uint_le(done, total);
    return done;
}

/* Whether r is ready, without letting the fake run anything more. */
static bool ready_now(mproc_async *r)
{
    bool hold = plan.hold;
    plan.hold = true;
    bool ready = mproc_async_ready(r);
    plan.hold = hold;
    return ready;
}

START_TEST(pool_map_progress_grows_a_chunk_at_a_time_to_total)
{
    plan_reset();
    plan.per_poll = 1;
    mproc_pool *p = fake_pool(0);
    int64_t out[N];
    mproc_async *r = map_async_n(p, count_square, out);
    size_t done = 0, seen[8], k = 0;
    while (k < 8 && (done = progress_step(r, done, N)) < N) {
        ck_assert(!ready_now(r)); /* not all in: not ready */
        seen[k++] = done;
    }
    ck_assert_uint_eq(done, N);
    ck_assert(ready_now(r)); /* total exactly when ready */
    ck_assert_uint_eq(k, 3);
    for (size_t i = 0; i < k; i++)
        ck_assert_uint_eq(seen[i], 8 * (i + 1));
    ck_assert_int_eq(mproc_async_get(r, NULL, NULL, 0), 0);
    ck_assert_uint_eq(progress_step(r, N, N), N); /* stays there */
    mproc_async_destroy(r);
    mproc_pool_destroy(p);
}
END_TEST

START_TEST(pool_map_progress_under_a_retried_death_never_goes_back)
{
    plan_reset();
    plan.per_poll = 1;
    plan.kill_at = 13; /* the second chunk's worker dies there, once */
    plan.deaths = 1;
    plan.signal = SIGKILL;
    mproc_pool *p = fake_pool(1);
    int64_t out[N];
    mproc_async *r = map_async_n(p, count_square, out);
    /* chunk 0 in; chunk 1 dies and is resubmitted (counts nothing); chunks
     * 2 and 3 in; the rerun of chunk 1 in: the whole chunk counts once */
    static const size_t want[] = {8, 8, 16, 24, N};
    size_t done = 0;
    for (size_t i = 0; i < 5; i++) {
        done = progress_step(r, done, N);
        ck_assert_uint_eq(done, want[i]);
        ck_assert(ready_now(r) == (i == 4));
    }
    ck_assert_int_eq(mproc_async_get(r, NULL, NULL, 0), 0);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(out[i], (int64_t)i * i);
    ck_assert_uint_eq(plan.submitted, N / 8 + 1);
    mproc_async_destroy(r);
    mproc_pool_destroy(p);
}
END_TEST

/* A map whose second chunk fails (task failure at 13, or a death with no
 * retries): the count stops at the chunk before it, short of total, and
 * stays there while the rest come in. */
static void map_progress_stops_at_failure(bool death)
{
    plan_reset();
    plan.per_poll = 1;
    if (death) {
        plan.kill_at = 13;
        plan.deaths = 1;
        plan.signal = SIGKILL;
    }
    mproc_pool *p = fake_pool(0);
    int64_t out[N];
    mproc_async *r =
        map_async_n(p, death ? count_square : square_fail_at_13_saying, out);
    ck_assert_uint_eq(progress_step(r, 0, N), 8);
    ck_assert(!ready_now(r));
    for (int i = 0; i < 4; i++) /* the failure, then chunks 2 and 3 */
        ck_assert_uint_eq(progress_step(r, 8, N), 8);
    ck_assert(ready_now(r));
    ck_assert_int_eq(mproc_async_error(r, NULL, NULL),
                     death ? MPROC_EWORKERDIED : MPROC_ETASKFAILED);
    ck_assert_uint_eq(plan.delivered, N / 8); /* all came in */
    ck_assert_uint_eq(progress_step(r, 8, N), 8);
    mproc_async_destroy(r);
    mproc_pool_destroy(p);
}

START_TEST(pool_map_progress_stops_short_of_total_at_a_task_failure)
{
    map_progress_stops_at_failure(false);
}
END_TEST

START_TEST(pool_map_progress_stops_short_of_total_at_a_death_without_retries)
{
    map_progress_stops_at_failure(true);
}
END_TEST

START_TEST(pool_apply_progress_is_0_of_1_then_1_of_1)
{
    plan_reset();
    plan.hold = true;
    mproc_pool *p = fake_pool(0);
    mproc_async *r, *bad;
    ck_assert_int_eq(mproc_pool_apply_async(p, echo, "hi", 2, &r), 0);
    ck_assert_int_eq(mproc_pool_apply_async(p, fail_with_words, "x", 1, &bad),
                     0);
    ck_assert_uint_eq(progress_step(r, 0, 1), 0);
    ck_assert_uint_eq(progress_step(bad, 0, 1), 0);
    plan.hold = false;
    ck_assert_uint_eq(progress_step(r, 0, 1), 1);
    ck_assert(ready_now(r));
    ck_assert(ready_now(bad));
    ck_assert_uint_eq(progress_step(bad, 0, 1), 0); /* failed: not counted */
    mproc_async_destroy(bad);
    mproc_async_destroy(r);
    mproc_pool_destroy(p);
}
END_TEST

/* An imap of 20 items in chunks of 2 (a window of 4 chunks), one chunk
 * coming in a poll: progress never goes back, is never behind what was
 * yielded, and is total exactly once every chunk is in. */
static void imap_progress(bool ordered)
{
    plan_reset();
    plan.per_poll = 1;
    mproc_pool *p = fake_pool(0);
    int64_t in[20], y;
    iota_n(in, 20);
    mproc_iter *it;
    ck_assert_int_eq(
        ordered
            ? mproc_pool_imap(p, count_square, in, 8, 8, 20, 2, &it)
            : mproc_pool_imap_unordered(p, count_square, in, 8, 8, 20, 2, &it),
        0);
    size_t done = 0, total = 0, yielded = 0, index;
    int rc;
    for (;;) {
        size_t d;
        ck_assert_int_eq(mproc_iter_progress(it, &d, &total), 0);
        ck_assert_uint_eq(total, 20);
        ck_assert_uint_ge(d, done);
        ck_assert_uint_ge(d, yielded);
        ck_assert_uint_le(d, 20);
        ck_assert_uint_eq(d % 2, 0); /* a chunk at a time */
        done = d;
        if ((rc = mproc_iter_next(it, &y, &index, 10.0)) != 0)
            break;
        yielded++;
    }
    ck_assert_int_eq(rc, MPROC_EOF);
    ck_assert_uint_eq(yielded, 20);
    ck_assert_uint_eq(done, 20);
    ck_assert_int_eq(mproc_iter_progress(it, &done, NULL), 0);
    ck_assert_uint_eq(done, 20);
    mproc_iter_destroy(it);
    mproc_pool_destroy(p);
}

START_TEST(pool_imap_progress_grows_to_total)
{
    imap_progress(true);
}
END_TEST

START_TEST(pool_imap_unordered_progress_grows_to_total)
{
    imap_progress(false);
}
END_TEST

START_TEST(pool_imap_progress_stops_at_the_failure_it_returns)
{
    plan_reset();
    plan.per_poll = 1;
    mproc_pool *p = fake_pool(0);
    int64_t in[N], y;
    iota_n(in, N);
    mproc_iter *it;
    ck_assert_int_eq(
        mproc_pool_imap(p, square_fail_at_13_saying, in, 8, 8, N, 4, &it), 0);
    size_t index, done = 0, total = 0;
    while (mproc_iter_next(it, &y, &index, 10.0) == 0)
        ;
    ck_assert_uint_eq(index, 13);
    ck_assert_int_eq(mproc_iter_progress(it, &done, &total), 0);
    ck_assert_uint_eq(total, N);
    ck_assert_uint_lt(done, N);
    ck_assert_uint_ge(done, 12); /* items 0-11 came in before it */
    size_t after;
    for (int i = 0; i < 8; i++) { /* the chunks still out come in */
        ck_assert_int_eq(mproc_iter_progress(it, &after, NULL), 0);
        ck_assert_uint_eq(after, done);
    }
    mproc_iter_destroy(it);
    mproc_pool_destroy(p);
}
END_TEST

START_TEST(pool_progress_misuse_and_after_the_pool_is_gone)
{
    size_t done = 7, total = 7;
    ck_assert_int_eq(mproc_async_progress(NULL, &done, &total), MPROC_EINVAL);
    ck_assert_uint_eq(done, 0);
    ck_assert_uint_eq(total, 0);
    done = total = 7;
    ck_assert_int_eq(mproc_iter_progress(NULL, &done, &total), MPROC_EINVAL);
    ck_assert_uint_eq(done + total, 0);
    plan_reset();
    mproc_pool *p = fake_pool(0);
    int64_t out[N];
    mproc_async *r = map_async_n(p, count_square, out), *empty;
    ck_assert_int_eq(
        mproc_pool_map_async(p, count_square, NULL, 8, NULL, 8, 0, 0, &empty),
        0);
    ck_assert_int_eq(mproc_async_progress(empty, &done, &total), 0);
    ck_assert_uint_eq(done + total, 0); /* 0 of 0, ready */
    ck_assert(mproc_async_ready(empty));
    ck_assert_int_eq(mproc_async_progress(r, NULL, NULL), 0);
    ck_assert_int_eq(mproc_async_wait(r, 10.0), 0);
    mproc_pool_destroy(p);
    ck_assert_int_eq(mproc_async_progress(r, &done, &total), 0);
    ck_assert_uint_eq(done, N);
    ck_assert_uint_eq(total, N);
    mproc_async_destroy(empty);
    mproc_async_destroy(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pool_transport");
    TCase *fr = tcase_create("fnref");
    tcase_add_test(fr, fnref_of_a_static_function_resolves_to_it);
    tcase_add_test(fr, fnref_of_a_libc_function_resolves_to_it);
    tcase_add_test(fr, fnref_of_a_non_function_address_fails_with_einval);
    tcase_add_test(fr, fnref_of_the_same_function_is_the_same_bytes);
    tcase_add_test(fr, fnref_resolves_by_index_in_a_forked_child);
    tcase_add_test(fr, fnref_unknown_index_fails_with_enoent);
    tcase_add_test(fr, fnref_resolves_by_path_through_the_loader);
    suite_add_tcase(s, fr);

    TCase *tc = tcase_create("fake");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, pool_worker_dying_mid_chunk_fails_the_map_at_that_item);
    tcase_add_test(tc,
                   pool_map_fills_out_in_order_when_results_arrive_reversed);
    tcase_add_test(tc, pool_imap_yields_in_order_when_results_arrive_reversed);
    tcase_add_test(tc, pool_imap_unordered_yields_in_completion_order);
    tcase_add_test(
        tc, pool_imap_failure_ends_the_iteration_after_the_chunks_before_it);
    tcase_add_test(
        tc, pool_imap_unordered_failure_that_finishes_first_ends_at_once);
    tcase_add_test(tc, pool_failed_task_words_cross_the_transport);
    tcase_add_test(tc, pool_retry_reruns_a_dead_chunk_from_the_dead_item);
    tcase_add_test(tc, pool_retry_budget_spent_fails_the_map);
    tcase_add_test(tc, pool_does_not_rerun_a_death_in_a_broken_transport);
    tcase_add_test(tc, pool_async_wait_times_out_while_the_worker_is_slow);
    tcase_add_test(tc, pool_apply_function_reaches_the_worker_as_a_fnref);
    tcase_add_test(tc, pool_function_in_no_loaded_object_fails_with_einval);
    tcase_add_test(tc, pool_map_progress_grows_a_chunk_at_a_time_to_total);
    tcase_add_test(tc, pool_map_progress_under_a_retried_death_never_goes_back);
    tcase_add_test(tc,
                   pool_map_progress_stops_short_of_total_at_a_task_failure);
    tcase_add_test(
        tc, pool_map_progress_stops_short_of_total_at_a_death_without_retries);
    tcase_add_test(tc, pool_apply_progress_is_0_of_1_then_1_of_1);
    tcase_add_test(tc, pool_imap_progress_grows_to_total);
    tcase_add_test(tc, pool_imap_unordered_progress_grows_to_total);
    tcase_add_test(tc, pool_imap_progress_stops_at_the_failure_it_returns);
    tcase_add_test(tc, pool_progress_misuse_and_after_the_pool_is_gone);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
