/* test_queue.c - Queue, SimpleQueue and JoinableQueue. */
#include "check_main.h"
#include "mproc.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------ */

static mproc_queue *make_queue(size_t maxsize, size_t capacity, bool joinable)
{
    mproc_queue_opts o = {
        .maxsize = maxsize, .capacity = capacity, .joinable = joinable};
    mproc_queue *q = NULL;
    ck_assert_int_eq(mproc_queue_create(&q, &o), 0);
    ck_assert_ptr_nonnull(q);
    return q;
}

static mproc_queue *volatile child_q; /* a child keeps it reachable */

/* What a child spawned by spawn_on runs: fn(q, arg). */
struct queue_call {
    int (*fn)(mproc_queue *, long);
    mproc_queue *q;
    long arg;
};

static int call_on_queue(void *arg)
{
    struct queue_call *c = arg;
    child_q = c->q;
    return c->fn(c->q, c->arg);
}

/* Runs fn(q, arg) in a forked child that exits with its value. */
static pid_t spawn_on(int (*fn)(mproc_queue *, long), mproc_queue *q, long arg)
{
    struct queue_call c = {fn, q, arg};
    return spawn(call_on_queue, &c);
}

/* Fills buf with bytes derived from seed (8 at a time). */
static void fill(unsigned char *buf, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(buf + i, &x, n - i < 8 ? n - i : 8);
    }
}

static bool check_fill(const unsigned char *buf, size_t n, uint64_t seed)
{
    unsigned char *want = malloc(n ? n : 1);
    fill(want, n, seed);
    bool ok = memcmp(want, buf, n) == 0;
    free(want);
    return ok;
}

static void roundtrip(mproc_queue *q, size_t n)
{
    unsigned char *in = malloc(n ? n : 1), *out = malloc(n ? n : 1);
    fill(in, n, n);
    ck_assert_int_eq(mproc_queue_put(q, in, n, MPROC_FOREVER), 0);
    size_t len = 12345;
    ck_assert_int_eq(mproc_queue_get(q, out, n, &len, 1.0 * TIME_SCALE), 0);
    ck_assert_uint_eq(len, n);
    ck_assert(memcmp(in, out, n) == 0);
    free(in);
    free(out);
}

/* Asserts that the next message is the one byte want. */
static void assert_next_byte(mproc_queue *q, char want)
{
    char c = 0;
    size_t len = 0;
    ck_assert_int_eq(mproc_queue_get_nowait(q, &c, 1, &len), 0);
    ck_assert_uint_eq(len, 1);
    ck_assert_int_eq(c, want);
}

/* Waits until the queue holds n messages. */
static void wait_qsize(mproc_queue *q, size_t n)
{
    WAIT_UNTIL(mproc_queue_qsize(q) == n);
}

/* ---- sizes and order ------------------------------------------------- */

START_TEST(queue_zero_byte_message_roundtrips)
{
    mproc_queue *q = make_queue(0, 0, false);
    ck_assert_int_eq(mproc_queue_put(q, NULL, 0, 0), 0);
    size_t len = 99;
    ck_assert_int_eq(mproc_queue_get(q, NULL, 0, &len, 0), 0);
    ck_assert_uint_eq(len, 0);
    mproc_queue_destroy(q);
}
END_TEST

START_TEST(queue_one_byte_message_roundtrips)
{
    mproc_queue *q = make_queue(0, 0, false);
    roundtrip(q, 1);
    mproc_queue_destroy(q);
}
END_TEST

START_TEST(queue_4mib_message_roundtrips)
{
    mproc_queue *q = make_queue(0, 0, false);
    roundtrip(q, 4u << 20);
    mproc_queue_destroy(q);
}
END_TEST

START_TEST(queue_64mib_message_roundtrips_in_one_process)
{
    mproc_queue *q = make_queue(0, 0, false);
    roundtrip(q, 64u << 20);
    roundtrip(q, 64u << 20); /* the ring's pages given back, taken again */
    mproc_queue_destroy(q);
}
END_TEST

START_TEST(queue_sizes_around_the_ring_wrap_roundtrip)
{
    mproc_queue *q = make_queue(4, 256, false);
    for (size_t n = 0; n <= 240; n += 7)
        roundtrip(q, n);
    mproc_queue_destroy(q);
}
END_TEST

static int put_big(mproc_queue *q, long n)
{
    unsigned char *buf = malloc((size_t)n);
    fill(buf, (size_t)n, 7);
    int rc = mproc_queue_put(q, buf, (size_t)n, 10.0 * TIME_SCALE);
    free(buf);
    return rc == 0 ? 0 : 1;
}

/* A child puts n bytes through a bounded queue; this process gets them. */
static void stream_through(size_t maxsize, size_t capacity, size_t n,
                           bool alloc)
{
    mproc_queue *q = make_queue(maxsize, capacity, false);
    pid_t pid = spawn_on(put_big, q, (long)n);
    void *data = alloc ? NULL : malloc(n);
    size_t len;
    if (alloc)
        ck_assert_int_eq(
            mproc_queue_get_alloc(q, &data, &len, 10.0 * TIME_SCALE), 0);
    else
        ck_assert_int_eq(mproc_queue_get(q, data, n, &len, 10.0 * TIME_SCALE),
                         0);
    ck_assert_uint_eq(len, n);
    ck_assert(check_fill(data, n, 7));
    free(data);
    ck_assert_int_eq(child_exit_status(pid), 0);
    mproc_queue_destroy(q);
}

START_TEST(queue_message_larger_than_capacity_streams_through)
{
    stream_through(2, 4096, 1000 * 1000 + 3, true);
}
END_TEST

/* Capacity 1 rounds up to the least ring (128 bytes): room for one piece
 * of a stream and the ABORT record kept free beside it. */
START_TEST(queue_smallest_ring_streams_a_message_through)
{
    stream_through(1, 1, 100 * 1000 + 5, false);
}
END_TEST

START_TEST(queue_64mib_message_streams_through_bounded_queue)
{
    stream_through(1, 0, 64u << 20, false);
}
END_TEST

START_TEST(queue_is_fifo_for_one_producer)
{
    mproc_queue *q = make_queue(0, 0, false);
    for (uint32_t i = 0; i < 1000; i++)
        ck_assert_int_eq(mproc_queue_put(q, &i, sizeof i, 0), 0);
    ck_assert_uint_eq(mproc_queue_qsize(q), 1000);
    for (uint32_t i = 0; i < 1000; i++) {
        uint32_t v;
        size_t len;
        ck_assert_int_eq(mproc_queue_get_nowait(q, &v, sizeof v, &len), 0);
        ck_assert_uint_eq(v, i);
    }
    mproc_queue_destroy(q);
}
END_TEST

START_TEST(queue_get_alloc_returns_a_buffer_to_free)
{
    mproc_queue *q = make_queue(0, 0, false);
    ck_assert_int_eq(mproc_queue_put(q, "hello", 5, 0), 0);
    ck_assert_int_eq(mproc_queue_put(q, NULL, 0, 0), 0);
    void *data = NULL;
    size_t len = 0;
    ck_assert_int_eq(mproc_queue_get_alloc(q, &data, &len, 0), 0);
    ck_assert_uint_eq(len, 5);
    ck_assert(memcmp(data, "hello", 5) == 0);
    free(data);
    data = NULL;
    ck_assert_int_eq(mproc_queue_get_alloc(q, &data, &len, 0), 0);
    ck_assert_uint_eq(len, 0);
    ck_assert_ptr_nonnull(data);
    free(data);
    ck_assert_int_eq(mproc_queue_get_alloc(q, &data, &len, 0), MPROC_EAGAIN);
    mproc_queue_destroy(q);
}
END_TEST

START_TEST(queue_emsgsize_keeps_message_then_get_succeeds)
{
    mproc_queue *q = make_queue(0, 0, false);
    ck_assert_int_eq(mproc_queue_put(q, "0123456789", 10, 0), 0);
    char buf[16];
    size_t len = 0;
    ck_assert_int_eq(mproc_queue_get(q, buf, 4, &len, 0), MPROC_EMSGSIZE);
    ck_assert_uint_eq(len, 10);
    ck_assert_uint_eq(mproc_queue_qsize(q), 1);
    ck_assert_int_eq(mproc_queue_get(q, buf, sizeof buf, &len, 0), 0);
    ck_assert_uint_eq(len, 10);
    ck_assert(memcmp(buf, "0123456789", 10) == 0);
    mproc_queue_destroy(q);
}
END_TEST

START_TEST(queue_emsgsize_on_a_streamed_message_keeps_it)
{
    mproc_queue *q = make_queue(1, 1024, false);
    const size_t n = 100000;
    pid_t pid = spawn_on(put_big, q, (long)n);
    char small[8];
    size_t len = 0;
    ck_assert_int_eq(
        mproc_queue_get(q, small, sizeof small, &len, 10.0 * TIME_SCALE),
        MPROC_EMSGSIZE);
    ck_assert_uint_eq(len, n);
    unsigned char *buf = malloc(n);
    ck_assert_int_eq(mproc_queue_get(q, buf, n, &len, 10.0 * TIME_SCALE), 0);
    ck_assert(check_fill(buf, n, 7));
    free(buf);
    ck_assert_int_eq(child_exit_status(pid), 0);
    mproc_queue_destroy(q);
}
END_TEST

/* ---- blocking and timeouts ---------------------------------------------- */

START_TEST(queue_get_nowait_on_empty_is_eagain)
{
    mproc_queue *q = make_queue(0, 0, false);
    char c;
    size_t len;
    ck_assert_int_eq(mproc_queue_get_nowait(q, &c, 1, &len), MPROC_EAGAIN);
    mproc_queue_destroy(q);
}
END_TEST

START_TEST(queue_get_times_out_when_empty)
{
    mproc_queue *q = make_queue(0, 0, false);
    char c;
    size_t len;
    double t0 = now_s();
    ck_assert_int_eq(mproc_queue_get(q, &c, 1, &len, 0.1), MPROC_ETIMEDOUT);
    double dt = now_s() - t0;
    ck_assert(dt >= 0.09 && dt < 2.0 * TIME_SCALE);
    mproc_queue_destroy(q);
}
END_TEST

START_TEST(queue_put_blocks_at_maxsize_with_both_timeout_codes)
{
    mproc_queue *q = make_queue(2, 0, false);
    ck_assert_int_eq(mproc_queue_put(q, "a", 1, 0), 0);
    ck_assert_int_eq(mproc_queue_put(q, "b", 1, 0), 0);
    ck_assert(mproc_queue_full(q));
    ck_assert_int_eq(mproc_queue_put_nowait(q, "c", 1), MPROC_EAGAIN);
    double t0 = now_s();
    ck_assert_int_eq(mproc_queue_put(q, "c", 1, 0.1), MPROC_ETIMEDOUT);
    ck_assert(now_s() - t0 >= 0.09);
    ck_assert_uint_eq(mproc_queue_qsize(q), 2);
    mproc_queue_destroy(q);
}
END_TEST

START_TEST(queue_put_blocks_when_ring_bytes_run_out)
{
    mproc_queue *q = make_queue(100, 256, false);
    char buf[100] = {0};
    ck_assert_int_eq(mproc_queue_put(q, buf, 100, 0), 0); /* 128 bytes */
    ck_assert_int_eq(mproc_queue_put(q, buf, 100, 0), 0); /* 256: full */
    ck_assert_int_eq(mproc_queue_put(q, buf, 0, 0), MPROC_EAGAIN);
    ck_assert(mproc_queue_full(q));
    mproc_queue_destroy(q);
}
END_TEST

/* In a child: waits (up to WAIT_S) until its parent, the test process,
 * sleeps on a futex, inside the queue call under test. */
static bool parent_sleeps(void)
{
    return blocked_within(getppid(), SYSCALLS(SYS_futex), WAIT_S);
}

static int get_one_once_parent_sleeps(mproc_queue *q, long unused)
{
    (void)unused;
    if (!parent_sleeps())
        return 2;
    char buf[8];
    size_t len;
    int rc = mproc_queue_get(q, buf, sizeof buf, &len, 5.0 * TIME_SCALE);
    return rc == 0 ? 0 : 1;
}

/* Puts "b" into the full queue q while a child gets one message once the
 * put sleeps: the put must wait for that get and then succeed. */
static void put_waits_for_a_get(mproc_queue *q)
{
    pid_t pid = spawn_on(get_one_once_parent_sleeps, q, 0);
    double t0 = now_s();
    ck_assert_int_eq(mproc_queue_put(q, "b", 1, 5.0 * TIME_SCALE), 0);
    ck_assert(now_s() - t0 < 4.0 * TIME_SCALE);
    ck_assert_int_eq(child_exit_status(pid), 0);
}

START_TEST(queue_blocked_put_wakes_when_a_get_makes_room)
{
    mproc_queue *q = make_queue(1, 0, false);
    ck_assert_int_eq(mproc_queue_put(q, "a", 1, 0), 0);
    put_waits_for_a_get(q);
    assert_next_byte(q, 'b');
    mproc_queue_destroy(q);
}
END_TEST

/* A producer that finds the queue full waits, while it spins, for room
 * for a batch of messages (32 here, maxsize / 8); one freed slot must
 * still let it in. */
START_TEST(queue_blocked_put_takes_a_single_freed_slot)
{
    mproc_queue *q = make_queue(256, 0, false);
    for (int i = 0; i < 256; i++)
        ck_assert_int_eq(mproc_queue_put(q, "a", 1, 0), 0);
    put_waits_for_a_get(q);
    ck_assert_uint_eq(mproc_queue_qsize(q), 256);
    ck_assert(mproc_queue_full(q));
    mproc_queue_destroy(q);
}
END_TEST

/* Puts "x"; first, if wait, waits until the parent sleeps (in a get). */
static int put_one(mproc_queue *q, long wait)
{
    if (wait && !parent_sleeps())
        return 2;
    return mproc_queue_put(q, "x", 1, 5.0 * TIME_SCALE) == 0 ? 0 : 1;
}

START_TEST(queue_blocked_get_wakes_when_a_put_arrives)
{
    mproc_queue *q = make_queue(0, 0, false);
    pid_t pid = spawn_on(put_one, q, 1);
    char c = 0;
    size_t len;
    ck_assert_int_eq(mproc_queue_get(q, &c, 1, &len, 5.0 * TIME_SCALE), 0);
    ck_assert_int_eq(c, 'x');
    ck_assert_int_eq(child_exit_status(pid), 0);
    mproc_queue_destroy(q);
}
END_TEST

START_TEST(queue_unbounded_put_too_big_for_ring_is_enomem)
{
    mproc_queue *q = make_queue(0, 65536, false);
    size_t n = 100000;
    unsigned char *buf = calloc(1, n);
    ck_assert_int_eq(mproc_queue_put(q, buf, n, MPROC_FOREVER), MPROC_ENOMEM);
    ck_assert_int_eq(mproc_queue_put(q, buf, 60000, MPROC_FOREVER), 0);
    ck_assert_int_eq(mproc_queue_put(q, buf, 60000, MPROC_FOREVER),
                     MPROC_ENOMEM);
    ck_assert_uint_eq(mproc_queue_qsize(q), 1);
    free(buf);
    mproc_queue_destroy(q);
}
END_TEST

START_TEST(queue_unbounded_queue_never_full)
{
    mproc_queue *q = make_queue(0, 0, false);
    for (int i = 0; i < 10000; i++)
        ck_assert_int_eq(mproc_queue_put(q, &i, sizeof i, 0), 0);
    ck_assert(!mproc_queue_full(q));
    ck_assert_uint_eq(mproc_queue_qsize(q), 10000);
    mproc_queue_destroy(q);
}
END_TEST

START_TEST(queue_qsize_empty_full_track_contents)
{
    mproc_queue *q = make_queue(3, 0, false);
    ck_assert(mproc_queue_empty(q));
    ck_assert(!mproc_queue_full(q));
    ck_assert_uint_eq(mproc_queue_qsize(q), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(mproc_queue_put(q, &i, sizeof i, 0), 0);
    ck_assert(!mproc_queue_empty(q));
    ck_assert(mproc_queue_full(q));
    ck_assert_uint_eq(mproc_queue_qsize(q), 3);
    int v;
    size_t len;
    ck_assert_int_eq(mproc_queue_get(q, &v, sizeof v, &len, 0), 0);
    ck_assert_uint_eq(mproc_queue_qsize(q), 2);
    ck_assert(!mproc_queue_full(q));
    mproc_queue_destroy(q);
}
END_TEST

/* ---- many processes ---------------------------------------------------- */

#define MP_PRODUCERS 3
#define MP_CONSUMERS 2
#define MP_ITEMS 2000

struct item {
    uint32_t producer, seq;
};

/* Shared tally of what the consumers received. */
static _Atomic uint32_t *tally;
static size_t mp_pad; /* bytes added to each message */

static int mp_producer(mproc_queue *q, long id)
{
    static unsigned char msg[sizeof(struct item) + 8192];
    for (uint32_t i = 0; i < MP_ITEMS; i++) {
        struct item it = {(uint32_t)id, i};
        memcpy(msg, &it, sizeof it);
        if (mproc_queue_put(q, msg, sizeof it + mp_pad, 10.0 * TIME_SCALE) != 0)
            return 1;
    }
    return 0;
}

static int mp_consumer(mproc_queue *q, long id)
{
    (void)id;
    int64_t last[MP_PRODUCERS];
    for (int p = 0; p < MP_PRODUCERS; p++)
        last[p] = -1;
    static unsigned char msg[sizeof(struct item) + 8192];
    for (;;) {
        struct item it;
        size_t len;
        int rc = mproc_queue_get(q, msg, sizeof msg, &len, 10.0 * TIME_SCALE);
        if (rc == MPROC_ESHUTDOWN)
            return 0;
        memcpy(&it, msg, sizeof it);
        if (rc != 0 || len != sizeof it + mp_pad ||
            it.producer >= MP_PRODUCERS || it.seq >= MP_ITEMS)
            return 1;
        if ((int64_t)it.seq <= last[it.producer])
            return 2; /* out of order for its producer */
        last[it.producer] = it.seq;
        atomic_fetch_add(&tally[it.producer * MP_ITEMS + it.seq], 1);
    }
}

static void run_exactly_once(size_t maxsize, size_t capacity, size_t pad)
{
    mp_pad = pad;
    size_t n = MP_PRODUCERS * MP_ITEMS;
    tally = shared_mem(n * sizeof(uint32_t));
    mproc_queue *q = make_queue(maxsize, capacity, false);
    pid_t prod[MP_PRODUCERS], cons[MP_CONSUMERS];
    for (int i = 0; i < MP_CONSUMERS; i++)
        cons[i] = spawn_on(mp_consumer, q, i);
    for (int i = 0; i < MP_PRODUCERS; i++)
        prod[i] = spawn_on(mp_producer, q, i);
    for (int i = 0; i < MP_PRODUCERS; i++)
        ck_assert_int_eq(child_exit_status(prod[i]), 0);
    ck_assert_int_eq(mproc_queue_shutdown(q, false), 0);
    for (int i = 0; i < MP_CONSUMERS; i++)
        ck_assert_int_eq(child_exit_status(cons[i]), 0);
    for (size_t i = 0; i < n; i++)
        ck_assert_uint_eq(tally[i], 1);
    munmap((void *)tally, n * sizeof(uint32_t));
    mproc_queue_destroy(q);
}

START_TEST(queue_three_producers_two_consumers_exactly_once_in_order)
{
    run_exactly_once(0, 0, 0);
}
END_TEST

START_TEST(queue_bounded_three_producers_two_consumers_exactly_once)
{
    run_exactly_once(16, 256, 0);
}
END_TEST

/* 24 MB through an unbounded queue: it runs empty past the start of its
 * ring many times, and jumps back to the warm pages there each time. */
START_TEST(queue_unbounded_jumps_back_to_warm_pages_exactly_once)
{
    run_exactly_once(0, 0, 4000);
}
END_TEST

START_TEST(queue_created_before_fork_is_shared_with_the_child)
{
    mproc_queue *q = make_queue(0, 0, false);
    pid_t pid = spawn_on(put_one, q, 0);
    ck_assert_int_eq(child_exit_status(pid), 0);
    assert_next_byte(q, 'x');
    mproc_queue_destroy(q);
}
END_TEST

/* ---- shutdown ----------------------------------------------------------- */

static int get_expect_shutdown(mproc_queue *q, long unused)
{
    (void)unused;
    char c;
    size_t len;
    int rc = mproc_queue_get(q, &c, 1, &len, 10.0 * TIME_SCALE);
    return rc == MPROC_ESHUTDOWN ? 0 : 1;
}

static int put_expect_shutdown(mproc_queue *q, long len)
{
    static unsigned char buf[1 << 16];
    int rc = mproc_queue_put(q, buf, (size_t)len, 10.0 * TIME_SCALE);
    return rc == MPROC_ESHUTDOWN ? 0 : 1;
}

/* Once the children a and b sleep in their calls on q, a shutdown of q
 * wakes both: each sees MPROC_ESHUTDOWN (and exits 0) within 2 s. */
static void shutdown_wakes(mproc_queue *q, pid_t a, pid_t b)
{
    wait_blocked(a, SYS_futex);
    wait_blocked(b, SYS_futex);
    double t0 = now_s();
    ck_assert_int_eq(mproc_queue_shutdown(q, false), 0);
    ck_assert_int_eq(child_exit_status(a), 0);
    ck_assert_int_eq(child_exit_status(b), 0);
    ck_assert(now_s() - t0 < 2.0 * TIME_SCALE);
}

START_TEST(queue_shutdown_wakes_blocked_getters)
{
    mproc_queue *q = make_queue(0, 0, false);
    pid_t a = spawn_on(get_expect_shutdown, q, 0);
    pid_t b = spawn_on(get_expect_shutdown, q, 0);
    shutdown_wakes(q, a, b);
    mproc_queue_destroy(q);
}
END_TEST

START_TEST(queue_shutdown_wakes_blocked_putters)
{
    mproc_queue *q = make_queue(1, 4096, false);
    ck_assert_int_eq(mproc_queue_put(q, "a", 1, 0), 0);
    pid_t a = spawn_on(put_expect_shutdown, q, 1);     /* waits for an item */
    pid_t b = spawn_on(put_expect_shutdown, q, 60000); /* a stream */
    shutdown_wakes(q, a, b);
    mproc_queue_destroy(q);
}
END_TEST

START_TEST(queue_shutdown_lets_gets_drain_then_fails_them)
{
    mproc_queue *q = make_queue(0, 0, false);
    ck_assert_int_eq(mproc_queue_put(q, "a", 1, 0), 0);
    ck_assert_int_eq(mproc_queue_put(q, "b", 1, 0), 0);
    ck_assert_int_eq(mproc_queue_shutdown(q, false), 0);
    ck_assert_int_eq(mproc_queue_put(q, "c", 1, 0), MPROC_ESHUTDOWN);
    char c;
    size_t len;
    ck_assert_int_eq(mproc_queue_get(q, &c, 1, &len, 0), 0);
    ck_assert_int_eq(c, 'a');
    ck_assert_int_eq(mproc_queue_get(q, &c, 1, &len, MPROC_FOREVER), 0);
    ck_assert_int_eq(c, 'b');
    ck_assert_int_eq(mproc_queue_get(q, &c, 1, &len, MPROC_FOREVER),
                     MPROC_ESHUTDOWN);
    ck_assert_int_eq(mproc_queue_shutdown(q, false), 0);
    mproc_queue_destroy(q);
}
END_TEST

START_TEST(queue_immediate_shutdown_discards_what_is_left)
{
    mproc_queue *q = make_queue(0, 0, true);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(mproc_queue_put(q, &i, sizeof i, 0), 0);
    int v;
    size_t len;
    ck_assert_int_eq(mproc_queue_get(q, &v, sizeof v, &len, 0), 0);
    ck_assert_int_eq(mproc_queue_shutdown(q, true), 0);
    ck_assert_uint_eq(mproc_queue_qsize(q), 0);
    ck_assert(mproc_queue_empty(q));
    ck_assert_int_eq(mproc_queue_get(q, &v, sizeof v, &len, 0),
                     MPROC_ESHUTDOWN);
    /* The one taken is not done yet; the four discarded are. */
    ck_assert_int_eq(mproc_queue_join(q, 0), MPROC_EAGAIN);
    ck_assert_int_eq(mproc_queue_task_done(q), 0);
    ck_assert_int_eq(mproc_queue_join(q, 0), 0);
    mproc_queue_destroy(q);
}
END_TEST

/* ---- JoinableQueue ------------------------------------------------------ */

static int worker_task_done(mproc_queue *q, long n)
{
    for (long i = 0; i < n; i++) {
        int v;
        size_t len;
        if (mproc_queue_get(q, &v, sizeof v, &len, 5.0 * TIME_SCALE) != 0)
            return 1;
        usleep(1000);
        if (mproc_queue_task_done(q) != 0)
            return 2;
    }
    return 0;
}

START_TEST(queue_join_returns_once_every_task_is_done)
{
    mproc_queue *q = make_queue(0, 0, true);
    ck_assert_int_eq(mproc_queue_join(q, 0), 0); /* nothing put */
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(mproc_queue_put(q, &i, sizeof i, 0), 0);
    pid_t pid = spawn_on(worker_task_done, q, 20);
    ck_assert_int_eq(mproc_queue_join(q, 10.0 * TIME_SCALE), 0);
    ck_assert_uint_eq(mproc_queue_qsize(q), 0);
    ck_assert_int_eq(child_exit_status(pid), 0);
    mproc_queue_destroy(q);
}
END_TEST

START_TEST(queue_join_times_out_while_tasks_are_pending)
{
    mproc_queue *q = make_queue(0, 0, true);
    ck_assert_int_eq(mproc_queue_put(q, "a", 1, 0), 0);
    ck_assert_int_eq(mproc_queue_join(q, 0), MPROC_EAGAIN);
    double t0 = now_s();
    ck_assert_int_eq(mproc_queue_join(q, 0.05), MPROC_ETIMEDOUT);
    ck_assert(now_s() - t0 >= 0.04);
    mproc_queue_destroy(q);
}
END_TEST

START_TEST(queue_too_many_task_done_calls_are_einval)
{
    mproc_queue *q = make_queue(0, 0, true);
    ck_assert_int_eq(mproc_queue_task_done(q), MPROC_EINVAL);
    ck_assert_int_eq(mproc_queue_put(q, "a", 1, 0), 0);
    ck_assert_int_eq(mproc_queue_task_done(q), 0);
    ck_assert_int_eq(mproc_queue_task_done(q), MPROC_EINVAL);
    ck_assert_int_eq(mproc_queue_join(q, 0), 0);
    mproc_queue_destroy(q);
}
END_TEST

START_TEST(queue_task_done_and_join_need_a_joinable_queue)
{
    mproc_queue *q = make_queue(0, 0, false);
    ck_assert_int_eq(mproc_queue_put(q, "a", 1, 0), 0);
    ck_assert_int_eq(mproc_queue_task_done(q), MPROC_EINVAL);
    ck_assert_int_eq(mproc_queue_join(q, 0), MPROC_EINVAL);
    mproc_queue_destroy(q);
}
END_TEST

/* ---- misuse ------------------------------------------------------------- */

START_TEST(queue_bad_arguments_are_einval)
{
    mproc_queue *q = NULL;
    ck_assert_int_eq(mproc_queue_create(NULL, NULL), MPROC_EINVAL);
    mproc_queue_opts o = {.capacity = (size_t)1 << 41};
    ck_assert_int_eq(mproc_queue_create(&q, &o), MPROC_EINVAL);
    ck_assert_ptr_null(q);
    q = make_queue(0, 0, false);
    char c;
    size_t len;
    ck_assert_int_eq(mproc_queue_put(NULL, "a", 1, 0), MPROC_EINVAL);
    ck_assert_int_eq(mproc_queue_put(q, NULL, 1, 0), MPROC_EINVAL);
    ck_assert_int_eq(mproc_queue_put(q, "a", 1, 0.0 / 0.0), MPROC_EINVAL);
    ck_assert_int_eq(mproc_queue_get(NULL, &c, 1, &len, 0), MPROC_EINVAL);
    ck_assert_int_eq(mproc_queue_get(q, &c, 1, NULL, 0), MPROC_EINVAL);
    ck_assert_int_eq(mproc_queue_get(q, NULL, 1, &len, 0), MPROC_EINVAL);
    ck_assert_int_eq(mproc_queue_get(q, &c, 1, &len, 0.0 / 0.0), MPROC_EINVAL);
    ck_assert_int_eq(mproc_queue_get_alloc(q, NULL, &len, 0), MPROC_EINVAL);
    ck_assert_int_eq(mproc_queue_shutdown(NULL, false), MPROC_EINVAL);
    ck_assert_int_eq(mproc_queue_task_done(NULL), MPROC_EINVAL);
    ck_assert_int_eq(mproc_queue_join(NULL, 0), MPROC_EINVAL);
    ck_assert_uint_eq(mproc_queue_qsize(NULL), 0);
    ck_assert_uint_eq(mproc_queue_qsize(q), 0);
    mproc_queue_destroy(q);
    mproc_queue_destroy(NULL);
}
END_TEST

START_TEST(queue_create_destroy_leaks_no_fd)
{
    int before = open_fds();
    for (int i = 0; i < 50; i++) {
        mproc_queue *q = make_queue((size_t)(i % 2), 0, i % 3 == 0);
        mproc_queue_destroy(q);
    }
    ck_assert_int_eq(open_fds(), before);
}
END_TEST

/* ---- references --------------------------------------------------------- */

/* What ref_queue_child is given: the queue's reference, a second queue's
 * for its answers, and what to do. */
struct queue_ref_arg {
    mproc_ref ref, back;
    long rounds;   /* messages to get from the parent and answer */
    long big;      /* then one message of this many bytes to put */
    bool joinable; /* mark each message got as done */
};

/*
 * Opens the queues from its argument bytes (nothing else of its parent),
 * answers each of rounds messages (a long i) with i + 1000000 on the
 * second, then puts one message of big bytes (fill with seed big) on the
 * first. Exits 0, or the step that failed.
 */
static int ref_queue_child(void *arg, size_t len)
{
    struct queue_ref_arg a;
    if (len != sizeof a)
        return 1;
    memcpy(&a, arg, sizeof a);
    mproc_queue *q, *back;
    if (mproc_queue_open(&q, a.ref) != 0 ||
        mproc_queue_open(&back, a.back) != 0)
        return 2;
    int rc = 0;
    for (long i = 0; i < a.rounds && rc == 0; i++) {
        long v = -1, reply = i + 1000000;
        size_t n = 0;
        if (mproc_queue_get(q, &v, sizeof v, &n, WAIT_S) != 0 ||
            n != sizeof v || v != i)
            rc = 3;
        else if (a.joinable && mproc_queue_task_done(q) != 0)
            rc = 4;
        else if (mproc_queue_put(back, &reply, sizeof reply, WAIT_S) != 0)
            rc = 5;
    }
    unsigned char *big = malloc((size_t)a.big + 1);
    fill(big, (size_t)a.big, (uint64_t)a.big);
    if (rc == 0 && mproc_queue_put(q, big, (size_t)a.big, WAIT_S) != 0)
        rc = 6;
    free(big);
    mproc_queue_destroy(q);
    mproc_queue_destroy(back);
    return rc;
}

/* Runs ref_queue_child on q's reference and plays the parent's part. */
static void exchange_with_child(mproc_queue *q, bool joinable)
{
    struct queue_ref_arg a = {
        .rounds = 200, .big = 3 << 20, .joinable = joinable};
    mproc_queue *back = make_queue(0, 1 << 20, false);
    ck_assert_int_eq(mproc_queue_ref(q, &a.ref), 0);
    ck_assert_int_eq(mproc_queue_ref(back, &a.back), 0);
    mproc_process *p = start_process(ref_queue_child, &a, sizeof a);
    for (long i = 0; i < a.rounds; i++) {
        long v = -1;
        size_t n = 0;
        ck_assert_int_eq(mproc_queue_put(q, &i, sizeof i, WAIT_S), 0);
        ck_assert_int_eq(mproc_queue_get(back, &v, sizeof v, &n, WAIT_S), 0);
        ck_assert_int_eq(v, i + 1000000);
    }
    void *big = NULL;
    size_t n = 0;
    ck_assert_int_eq(mproc_queue_get_alloc(q, &big, &n, WAIT_S), 0);
    ck_assert_uint_eq(n, (size_t)a.big);
    ck_assert(check_fill(big, n, (uint64_t)a.big));
    free(big);
    if (joinable)
        ck_assert_int_eq(mproc_queue_task_done(q), 0);
    ck_assert_int_eq(finish_process(p), 0);
    mproc_queue_destroy(back);
}

START_TEST(queue_opened_in_child_exchanges_messages_unbounded)
{
    mproc_queue *q = make_queue(0, 0, false);
    exchange_with_child(q, false);
    mproc_queue_destroy(q);
}
END_TEST

/* The 3 MiB message streams through a 64 KiB ring from the opened
 * handle. */
START_TEST(queue_opened_in_child_exchanges_messages_bounded)
{
    mproc_queue *q = make_queue(4, 64 << 10, false);
    exchange_with_child(q, false);
    mproc_queue_destroy(q);
}
END_TEST

START_TEST(queue_opened_in_child_keeps_it_joinable)
{
    mproc_queue *q = make_queue(0, 0, true);
    exchange_with_child(q, true);
    ck_assert_int_eq(mproc_queue_join(q, WAIT_S), 0);
    mproc_queue_destroy(q);
}
END_TEST

static mproc_queue *late_q;

static int queue_ref_now(mproc_ref *out)
{
    return mproc_queue_ref(late_q, out);
}

static int open_queue(mproc_ref ref)
{
    mproc_queue *q;
    int rc = mproc_queue_open(&q, ref);
    mproc_queue_destroy(rc == 0 ? q : NULL);
    return rc;
}

static void destroy_late_queue(void)
{
    mproc_queue_destroy(late_q);
}

START_TEST(queue_open_of_reference_not_given_is_enoent)
{
    late_q = make_queue(0, 0, false);
    assert_only_given_opens(queue_ref_now, open_queue, destroy_late_queue);
}
END_TEST

START_TEST(queue_open_as_another_kind_is_einval)
{
    mproc_queue *q = make_queue(0, 0, false);
    mproc_ref ref;
    ck_assert_int_eq(mproc_queue_ref(q, &ref), 0);
    assert_kind_kept(ref, open_queue);
    ck_assert_int_eq(mproc_queue_open(NULL, ref), MPROC_EINVAL);
    ck_assert_int_eq(mproc_queue_ref(q, NULL), MPROC_EINVAL);
    mproc_queue_destroy(q);
}
END_TEST

/* Destroying an opened handle closes only its own descriptor: the
 * creator's handle works on, and a child may still open the queue. */
START_TEST(queue_destroy_of_opened_handle_leaves_the_original)
{
    mproc_queue *q = make_queue(8, 4096, false), *o;
    mproc_ref ref;
    ck_assert_int_eq(mproc_queue_ref(q, &ref), 0);
    int fds = open_fds();
    ck_assert_int_eq(mproc_queue_open(&o, ref), 0);
    ck_assert_int_eq(open_fds(), fds + 1);
    ck_assert_int_eq(mproc_queue_put(o, "x", 1, 0), 0);
    mproc_queue_destroy(o);
    ck_assert_int_eq(open_fds(), fds);
    char c = 0;
    size_t n = 0;
    ck_assert_int_eq(mproc_queue_get(q, &c, 1, &n, 0), 0);
    ck_assert_int_eq(c, 'x');
    exchange_with_child(q, false);
    mproc_queue_destroy(q);
}
END_TEST

/* ---- crash consistency -------------------------------------------------- */

static int put_stream_forever(mproc_queue *q, long n)
{
    unsigned char *buf = calloc(1, (size_t)n);
    mproc_queue_put(q, buf, (size_t)n, MPROC_FOREVER);
    return 1; /* never gets here: no consumer takes the stream */
}

static int put_ok(mproc_queue *q, long unused)
{
    (void)unused;
    return mproc_queue_put(q, "ok", 2, 5.0 * TIME_SCALE) == 0 ? 0 : 1;
}

START_TEST(queue_producer_killed_mid_stream_is_withdrawn)
{
    mproc_queue *q = make_queue(4, 4096, false);
    pid_t pid = spawn_on(put_stream_forever, q, 100000);
    WAIT_UNTIL(mproc_queue_qsize(q) != 0); /* its first piece is in */
    kill(pid, SIGKILL);
    ck_assert_int_eq(child_exit_status(pid), 128 + SIGKILL);
    /* Whoever next needs the dead producer's lock (the get, waiting in the
     * stream, or the put) takes it over and withdraws the stream; the get
     * discards the pieces and gets the next message. */
    double t0 = now_s();
    pid = spawn_on(put_ok, q, 0);
    void *buf;
    size_t len;
    ck_assert_int_eq(mproc_queue_get_alloc(q, &buf, &len, 5.0 * TIME_SCALE), 0);
    ck_assert_uint_eq(len, 2);
    ck_assert(memcmp(buf, "ok", 2) == 0);
    free(buf);
    ck_assert(now_s() - t0 < 3.0 * TIME_SCALE);
    ck_assert_int_eq(child_exit_status(pid), 0);
    ck_assert_uint_eq(mproc_queue_qsize(q), 0);
    mproc_queue_destroy(q);
}
END_TEST

static int get_ok_after_stream(mproc_queue *q, long n)
{
    unsigned char *buf = malloc((size_t)n);
    size_t len;
    int rc = mproc_queue_get(q, buf, (size_t)n, &len, 10.0 * TIME_SCALE);
    rc = rc != 0 ? 1 : len != 2 || memcmp(buf, "ok", 2) != 0 ? 2 : 0;
    if (rc == 0 && mproc_queue_task_done(q) != 0)
        rc = 3;
    free(buf);
    return rc;
}

START_TEST(queue_getter_waiting_mid_stream_survives_producer_death)
{
    mproc_queue *q = make_queue(4, 4096, true);
    pid_t putter = spawn_on(put_stream_forever, q, 100000);
    WAIT_UNTIL(mproc_queue_qsize(q) != 0); /* its stream fills the ring */
    kill(putter, SIGSTOP);
    pid_t getter = spawn_on(get_ok_after_stream, q, 200000);
    wait_qsize(q, 0);                /* the getter is inside the stream */
    wait_blocked(getter, SYS_futex); /* waiting there for the next piece */
    kill(putter, SIGKILL);
    ck_assert_int_eq(child_exit_status(putter), 128 + SIGKILL);
    /* The getter notices the death and withdraws the stream, which then
     * counts as done. */
    ck_assert_int_eq(mproc_queue_join(q, WAIT_S), 0);
    ck_assert_int_eq(mproc_queue_put(q, "ok", 2, 5.0 * TIME_SCALE), 0);
    ck_assert_int_eq(child_exit_status(getter), 0);
    ck_assert_uint_eq(mproc_queue_qsize(q), 0);
    ck_assert_int_eq(mproc_queue_join(q, 0), 0); /* withdrawn counts done */
    mproc_queue_destroy(q);
}
END_TEST

/* ---- locks kept between calls (biased) ---------------------------------- */

/*
 * A process that takes a side's lock many times in a row keeps it between
 * its calls (on kernels with membarrier); these show that another process,
 * or another thread, still gets it at once, and that the keeper's death
 * frees it.
 */
#define KEPT 1000 /* calls in a row: well past the 64 that keep the lock */

static int put_then_idle(mproc_queue *q, long n)
{
    for (long i = 0; i < n; i++)
        if (mproc_queue_put(q, "a", 1, 5.0 * TIME_SCALE) != 0)
            return 1;
    pause(); /* alive and idle, keeping the producers' lock */
    return 0;
}

static int get_then_idle(mproc_queue *q, long n)
{
    char c;
    size_t len;
    for (long i = 0; i < n; i++)
        if (mproc_queue_get(q, &c, 1, &len, 5.0 * TIME_SCALE) != 0 || c != 'a')
            return 1;
    pause(); /* alive and idle, keeping the consumers' lock */
    return 0;
}

static void put_n(mproc_queue *q, char c, long n)
{
    for (long i = 0; i < n; i++)
        ck_assert_int_eq(mproc_queue_put(q, &c, 1, 1.0 * TIME_SCALE), 0);
}

static void get_n(mproc_queue *q, char want, long n)
{
    for (long i = 0; i < n; i++) {
        char c = 0;
        size_t len;
        ck_assert_int_eq(mproc_queue_get(q, &c, 1, &len, 1.0 * TIME_SCALE), 0);
        ck_assert_int_eq(c, want);
    }
}

START_TEST(queue_idle_producer_keeping_its_lock_does_not_block_a_put)
{
    mproc_queue *q = make_queue(2 * KEPT, 0, false);
    pid_t pid = spawn_on(put_then_idle, q, KEPT);
    wait_qsize(q, KEPT);
    double t0 = now_s();
    ck_assert_int_eq(mproc_queue_put(q, "b", 1, 2.0 * TIME_SCALE), 0);
    ck_assert(now_s() - t0 < 1.0 * TIME_SCALE);
    get_n(q, 'a', KEPT);
    get_n(q, 'b', 1);
    kill(pid, SIGKILL);
    ck_assert_int_eq(child_exit_status(pid), 128 + SIGKILL);
    mproc_queue_destroy(q);
}
END_TEST

START_TEST(queue_idle_consumer_keeping_its_lock_does_not_block_a_get)
{
    mproc_queue *q = make_queue(2 * KEPT, 0, false);
    put_n(q, 'a', KEPT);
    pid_t pid = spawn_on(get_then_idle, q, KEPT);
    wait_qsize(q, 0);
    put_n(q, 'b', 1);
    double t0 = now_s();
    get_n(q, 'b', 1);
    ck_assert(now_s() - t0 < 1.0 * TIME_SCALE);
    kill(pid, SIGKILL);
    ck_assert_int_eq(child_exit_status(pid), 128 + SIGKILL);
    mproc_queue_destroy(q);
}
END_TEST

START_TEST(queue_producer_killed_while_keeping_its_lock_frees_it)
{
    mproc_queue *q = make_queue(0, 0, false);
    pid_t pid = spawn_on(put_then_idle, q, KEPT);
    wait_qsize(q, KEPT);
    kill(pid, SIGKILL);
    ck_assert_int_eq(child_exit_status(pid), 128 + SIGKILL);
    ck_assert_int_eq(mproc_queue_put(q, "b", 1, 2.0 * TIME_SCALE), 0);
    get_n(q, 'a', KEPT);
    get_n(q, 'b', 1);
    ck_assert_uint_eq(mproc_queue_qsize(q), 0);
    mproc_queue_destroy(q);
}
END_TEST

#define BIG_KEPT ((size_t)256 << 20)

/* Resident shared memory (RssShmem) of process pid, in kB; -1 if unknown.
 * It grows as the process writes into fresh pages of a queue's ring. */
static long shmem_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (kb < 0 && fgets(line, sizeof line, f))
        if (sscanf(line, "RssShmem: %ld", &kb) != 1)
            kb = -1;
    fclose(f);
    return kb;
}

static _Atomic long *shmem_before_big; /* put_then_big's, in kB */

static int put_then_big(mproc_queue *q, long n)
{
    unsigned char *big = malloc(BIG_KEPT);
    if (!big)
        return 2;
    memset(big, 'x', BIG_KEPT);
    for (long i = 0; i < n; i++)
        if (mproc_queue_put(q, "a", 1, 5.0 * TIME_SCALE) != 0)
            return 1;
    *shmem_before_big = shmem_kb(getpid());
    mproc_queue_put(q, big, BIG_KEPT,
                    5.0 * TIME_SCALE); /* killed in the middle */
    pause();
    return 0;
}

START_TEST(queue_producer_killed_inside_a_put_while_keeping_its_lock)
{
    mproc_queue *q = make_queue(0, 0, false);
    shmem_before_big = shared_mem(sizeof *shmem_before_big);
    *shmem_before_big = -1;
    pid_t pid = spawn_on(put_then_big, q, KEPT);
    wait_qsize(q, KEPT);
    /* Into the copy of the big message: its first MiB is in the ring. */
    WAIT_UNTIL(*shmem_before_big >= 0 &&
               shmem_kb(pid) >= *shmem_before_big + 1024);
    kill(pid, SIGKILL);
    ck_assert_int_eq(child_exit_status(pid), 128 + SIGKILL);
    ck_assert_int_eq(mproc_queue_put(q, "b", 1, 5.0 * TIME_SCALE), 0);
    get_n(q, 'a', KEPT);
    void *m;
    size_t len;
    ck_assert_int_eq(mproc_queue_get_alloc(q, &m, &len, 1.0 * TIME_SCALE), 0);
    if (len == BIG_KEPT) { /* it was in whole before the kill */
        ck_assert(((unsigned char *)m)[BIG_KEPT - 1] == 'x');
        free(m);
        ck_assert_int_eq(mproc_queue_get_alloc(q, &m, &len, 1.0 * TIME_SCALE),
                         0);
    }
    ck_assert_uint_eq(len, 1);
    ck_assert_int_eq(*(char *)m, 'b');
    free(m);
    ck_assert_uint_eq(mproc_queue_qsize(q), 0);
    mproc_queue_destroy(q);
    munmap((void *)shmem_before_big, sizeof *shmem_before_big);
}
END_TEST

/* Two threads of one process put through one handle: first one alone,
 * long enough to keep the lock, then both at once. */
#define THREAD_MSGS 20000

struct thread_put {
    mproc_queue *q;
    uint32_t id;
    pthread_barrier_t *both;
};

static char put_failed[] = "put failed";

static void *put_numbered(void *arg)
{
    struct thread_put *t = arg;
    for (uint32_t i = 0; i < THREAD_MSGS; i++) {
        if (i == KEPT && t->id == 0)
            pthread_barrier_wait(t->both);
        if (i == 0 && t->id == 1)
            pthread_barrier_wait(t->both);
        uint32_t m[2] = {t->id, i};
        if (mproc_queue_put(t->q, m, sizeof m, 10.0 * TIME_SCALE) != 0)
            return put_failed;
    }
    return NULL;
}

static int get_numbered(mproc_queue *q, long n)
{
    uint32_t next[2] = {0, 0};
    for (long i = 0; i < n; i++) {
        uint32_t m[2];
        size_t len;
        if (mproc_queue_get(q, m, sizeof m, &len, 10.0 * TIME_SCALE) != 0)
            return 1;
        if (len != sizeof m || m[0] > 1 || m[1] != next[m[0]]++)
            return 2; /* lost, repeated or out of order */
    }
    return next[0] == THREAD_MSGS && next[1] == THREAD_MSGS ? 0 : 3;
}

START_TEST(queue_two_threads_on_one_handle_each_put_exactly_once_in_order)
{
    mproc_queue *q = make_queue(256, 0, false);
    pid_t getter = spawn_on(get_numbered, q, 2 * THREAD_MSGS);
    pthread_barrier_t both;
    pthread_barrier_init(&both, NULL, 2);
    struct thread_put t[2] = {{q, 0, &both}, {q, 1, &both}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, put_numbered, &t[i]), 0);
    for (int i = 0; i < 2; i++) {
        void *err;
        pthread_join(th[i], &err);
        ck_assert_msg(err == NULL, "%s", (char *)err);
    }
    ck_assert_int_eq(child_exit_status(getter), 0);
    pthread_barrier_destroy(&both);
    mproc_queue_destroy(q);
}
END_TEST

/*
 * The stress test: rounds of producers and consumers of checksummed
 * messages of random sizes (some streamed through a small ring), one of
 * them SIGKILLed at a random moment each round. Every message a producer
 * finished putting is received exactly once, unless the killed consumer
 * took it; none is received twice or torn; order per producer holds; and
 * the queue goes on working for the next round.
 */
#define ST_ROUNDS 220
#define ST_PRODUCERS 3
#define ST_CONSUMERS 2
#define ST_MSGS 150
#define ST_MAX 6000

struct st_hdr {
    uint32_t round, producer, seq, len;
    uint64_t sum;
};

struct st_board {
    _Atomic uint32_t round;
    _Atomic uint8_t got[ST_PRODUCERS][ST_MSGS];
    _Atomic uint8_t put[ST_PRODUCERS][ST_MSGS];
};

static struct st_board *board;

static uint64_t fnv(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static uint64_t st_rand(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static int st_producer(mproc_queue *q, long id)
{
    uint32_t round = atomic_load(&board->round);
    uint64_t x = round * 7919u + (uint64_t)id + 1;
    unsigned char *buf = malloc(ST_MAX);
    for (uint32_t seq = 0; seq < ST_MSGS; seq++) {
        size_t len = sizeof(struct st_hdr) + (st_rand(&x) % 8 == 0
                                                  ? 4100 + st_rand(&x) % 1800
                                                  : st_rand(&x) % 300);
        struct st_hdr h = {round, (uint32_t)id, seq, (uint32_t)len, 0};
        fill(buf + sizeof h, len - sizeof h, st_rand(&x));
        h.sum = fnv(buf + sizeof h, len - sizeof h);
        memcpy(buf, &h, sizeof h);
        if (mproc_queue_put(q, buf, len, MPROC_FOREVER) != 0)
            return 10;
        atomic_store(&board->put[id][seq], 1);
    }
    free(buf);
    return 0;
}

static int st_consumer(mproc_queue *q, long id)
{
    (void)id;
    uint32_t round = atomic_load(&board->round);
    int last[ST_PRODUCERS] = {-1, -1, -1};
    unsigned char *buf = malloc(ST_MAX);
    for (;;) {
        size_t len;
        int rc = mproc_queue_get(q, buf, ST_MAX, &len, MPROC_FOREVER);
        if (rc != 0)
            return 20;
        if (len == 0)
            return 0; /* stop */
        struct st_hdr h;
        if (len < sizeof h)
            return 21;
        memcpy(&h, buf, sizeof h);
        if (h.len != len || h.sum != fnv(buf + sizeof h, len - sizeof h))
            return 22; /* torn or corrupted */
        if (h.round != round)
            continue; /* a rolled-forward message of a killed producer */
        if (h.producer >= ST_PRODUCERS || h.seq >= ST_MSGS)
            return 23;
        if ((int)h.seq <= last[h.producer])
            return 24;
        last[h.producer] = (int)h.seq;
        if (atomic_fetch_add(&board->got[h.producer][h.seq], 1) != 0)
            return 25; /* delivered twice */
    }
}

START_TEST(queue_survives_random_sigkill_of_producers_and_consumers)
{
    board = shared_mem(sizeof *board);
    mproc_queue *q = make_queue(8, 4096, false);
    uint64_t x = (uint64_t)getpid() * 2654435761u + 12345;
    int killed_inside = 0;
    for (uint32_t round = 1; round <= ST_ROUNDS; round++) {
        /* Leftover stop messages of a round whose consumer was killed. */
        char c;
        size_t len;
        while (mproc_queue_get(q, &c, 1, &len, 0) == 0)
            ;
        memset((void *)board, 0, sizeof *board);
        atomic_store(&board->round, round);
        pid_t pid[ST_PRODUCERS + ST_CONSUMERS];
        for (int i = 0; i < ST_CONSUMERS; i++)
            pid[ST_PRODUCERS + i] = spawn_on(st_consumer, q, i);
        for (int i = 0; i < ST_PRODUCERS; i++)
            pid[i] = spawn_on(st_producer, q, i);
        int victim = (int)(st_rand(&x) % (ST_PRODUCERS + ST_CONSUMERS));
        usleep((useconds_t)(st_rand(&x) % 8000));
        kill(pid[victim], SIGKILL);

        int status[ST_PRODUCERS + ST_CONSUMERS];
        for (int i = 0; i < ST_PRODUCERS; i++)
            status[i] = child_exit_status(pid[i]);
        for (int i = 0; i < ST_CONSUMERS; i++)
            ck_assert_int_eq(mproc_queue_put(q, NULL, 0, MPROC_FOREVER), 0);
        for (int i = 0; i < ST_CONSUMERS; i++)
            status[ST_PRODUCERS + i] = child_exit_status(pid[ST_PRODUCERS + i]);
        for (int i = 0; i < ST_PRODUCERS + ST_CONSUMERS; i++) {
            if (status[i] == 128 + SIGKILL && i == victim) {
                killed_inside++;
                continue;
            }
            ck_assert_msg(status[i] == 0, "round %u: process %d exit %d", round,
                          i, status[i]);
        }
        bool consumer_died =
            victim >= ST_PRODUCERS && status[victim] == 128 + SIGKILL;
        int missing = 0;
        for (int p = 0; p < ST_PRODUCERS; p++) {
            bool in_flight_seen = false;
            for (int s = 0; s < ST_MSGS; s++) {
                uint8_t got = atomic_load(&board->got[p][s]);
                ck_assert_uint_le(got, 1);
                if (atomic_load(&board->put[p][s])) {
                    missing += got == 0;
                } else if (!in_flight_seen) {
                    in_flight_seen = true; /* may or may not have arrived */
                } else {
                    ck_assert_msg(got == 0, "round %u: never put, got", round);
                }
            }
        }
        ck_assert_msg(missing <= (consumer_died ? 1 : 0),
                      "round %u: %d messages lost", round, missing);
    }
    /* Still a working queue. */
    char c;
    size_t len;
    while (mproc_queue_get(q, &c, 1, &len, 0) == 0)
        ;
    ck_assert_int_eq(mproc_queue_put(q, "z", 1, 1.0 * TIME_SCALE), 0);
    ck_assert_int_eq(mproc_queue_get(q, &c, 1, &len, 1.0 * TIME_SCALE), 0);
    ck_assert_int_eq(c, 'z');
    ck_assert_uint_eq(mproc_queue_qsize(q), 0);
    ck_assert_int_gt(killed_inside, ST_ROUNDS / 2);
    mproc_queue_destroy(q);
    munmap(board, sizeof *board);
}
END_TEST

/*
 * Kill storms: one side killed at a random instant inside its calls, and
 * nobody of that side calling after it; the other side, waiting, settles
 * what it left. Each round a victim process (one thread, which keeps its
 * side's lock between calls, or two threads on one handle, so the lock is
 * taken plainly) puts or gets numbered messages of random sizes as fast as
 * it can while the survivor (a worker process) gets or puts them; the
 * victim is SIGKILLed at a random moment, once warm, and reaped. The
 * rounds run KS_WORKERS at a time, as a round mostly waits.
 *
 * A killed producer: the survivor drains with a 200 ms timeout, checking
 * that each message is whole and comes in order, and that every put that
 * returned arrived. Once the victim is dead it gets with a 20 ms timeout
 * (less than a slice) until one times out; a 200 ms get must then time
 * out too: a wait settles before it times out. Then qsize and empty say the
 * queue is empty, and a probe put and got back is the probe itself: nothing the
 * dead producer committed turns up after the drain (it once did, shown only by
 * the probe's put taking the lock over). fresh: a new queue each round, the
 * dead producer the only one it ever had; else one queue for all of a
 * worker's rounds.
 *
 * A killed consumer: the survivor puts into a queue of KS_HOLD items until
 * a put times out (20 ms once the victim is dead; then a 200 ms put must
 * time out too); the queue must then be full: the room of
 * a get the dead consumer committed was given back. It drains the queue
 * and checks that it held the last KS_HOLD messages put, whole and in
 * order, and that the dead consumer took what its returned gets took,
 * plus at most one in flight per thread; then the probe.
 */
#define KS_ROUNDS 200
#define KS_WORKERS 16
#define KS_MAX 2000 /* the largest payload */
#define KS_POOL (KS_MAX + 8192)
#define KS_WARM 100 /* calls of each victim thread before the kill may come */
#define KS_WAIT_S (0.2 * TIME_SCALE)
#define KS_SHORT_S 0.02
#define KS_HOLD 1024 /* maxsize of a killed consumer's queue */

static unsigned char ks_pool[KS_POOL]; /* payloads are slices of it */

struct ks_hdr {
    uint32_t thread, seq, len, unused;
};

#define KS_BUF (sizeof(struct ks_hdr) + KS_MAX)

/* What a victim and its survivor share in a round. */
struct ks_board {
    _Atomic uint32_t returned[2]; /* the victim's calls that returned */
    _Atomic uint32_t failed_round, failed_code;
};

struct ks_plan {
    bool consumer_dies, kept, fresh;
    int worker;
    struct ks_board *board;
};

/* The payload of message seq of a thread: its length and its slice. */
static size_t ks_len(uint32_t thread, uint32_t seq, size_t *off)
{
    uint64_t x = ((uint64_t)thread << 32 | seq) * 0x9E3779B97F4A7C15ull;
    x ^= x >> 29;
    *off = (size_t)(x >> 40) % (KS_POOL - KS_MAX);
    return x % 8 == 0 ? (size_t)(x >> 8) % (KS_MAX + 1)
                      : (size_t)(x >> 8) % 200;
}

/* Writes message seq of a thread into buf; returns its length. */
static size_t ks_message(unsigned char *buf, uint32_t thread, uint32_t seq)
{
    size_t off, n = ks_len(thread, seq, &off);
    struct ks_hdr h = {thread, seq, (uint32_t)n, 0};
    memcpy(buf, &h, sizeof h);
    memcpy(buf + sizeof h, ks_pool + off, n);
    return sizeof h + n;
}

/* Whether the len bytes in buf are a whole message; its header in *h. */
static bool ks_whole(const unsigned char *buf, size_t len, struct ks_hdr *h)
{
    size_t off;
    if (len < sizeof *h)
        return false;
    memcpy(h, buf, sizeof *h);
    return h->thread <= 1 && h->len == ks_len(h->thread, h->seq, &off) &&
           len == sizeof *h + h->len &&
           memcmp(buf + sizeof *h, ks_pool + off, h->len) == 0;
}

struct ks_thread {
    mproc_queue *q;
    struct ks_board *board;
    uint32_t thread;
};

static void *ks_put_forever(void *arg)
{
    struct ks_thread *t = arg;
    unsigned char *buf = malloc(KS_BUF);
    for (uint32_t seq = 0;; seq++) {
        size_t len = ks_message(buf, t->thread, seq);
        if (mproc_queue_put(t->q, buf, len, MPROC_FOREVER) != 0)
            _exit(30);
        atomic_store(&t->board->returned[t->thread], seq + 1);
    }
    return NULL;
}

static void *ks_get_forever(void *arg)
{
    struct ks_thread *t = arg;
    unsigned char *buf = malloc(KS_BUF);
    for (uint32_t n = 1;; n++) {
        size_t len;
        if (mproc_queue_get(t->q, buf, KS_BUF, &len, MPROC_FOREVER) != 0)
            _exit(31);
        atomic_store(&t->board->returned[t->thread], n);
    }
    return NULL;
}

/* The victim, until it is killed: fn in one thread, or two. */
static int ks_victim(mproc_queue *q, struct ks_board *bd, bool kept,
                     void *(*fn)(void *))
{
    static struct ks_thread t[2];
    t[0] = (struct ks_thread){q, bd, 0};
    t[1] = (struct ks_thread){q, bd, 1};
    pthread_t th;
    if (!kept && pthread_create(&th, NULL, fn, &t[1]) != 0)
        return 32;
    fn(&t[0]);
    return 33;
}

/* Kills the victim at a random moment once it is warm, and reaps it. */
struct ks_kill {
    pid_t pid;
    bool kept;
    struct ks_board *board;
    useconds_t delay;
    int status;
    _Atomic bool done;
};

static void *ks_killer(void *arg)
{
    struct ks_kill *k = arg;
    double t0 = now_s();
    while ((atomic_load(&k->board->returned[0]) < KS_WARM ||
            (!k->kept && atomic_load(&k->board->returned[1]) < KS_WARM)) &&
           now_s() - t0 < WAIT_S)
        usleep(50);
    usleep(k->delay);
    kill(k->pid, SIGKILL);
    k->status = child_exit_status(k->pid);
    atomic_store(&k->done, true);
    return NULL;
}

/* The survivor's timeout: KS_WAIT_S while the victim may live, then
 * KS_SHORT_S, less than a slice: a wait settles before it times out. */
static double ks_timeout(bool dead)
{
    return dead ? KS_SHORT_S : KS_WAIT_S;
}

/* The victim's calls that returned, over its threads. */
static uint32_t ks_returned(const struct ks_kill *k)
{
    return atomic_load(&k->board->returned[0]) +
           atomic_load(&k->board->returned[1]);
}

/* A killed producer's survivor: takes messages until a get begun after
 * the death times out; returns 0 or what went wrong. */
static int ks_drain(mproc_queue *q, struct ks_kill *k)
{
    unsigned char *buf = malloc(KS_BUF);
    uint32_t next[2] = {0, 0};
    int rc = 0;
    size_t len;
    for (;;) {
        bool dead = atomic_load(&k->done);
        struct ks_hdr h;
        int got = mproc_queue_get(q, buf, KS_BUF, &len, ks_timeout(dead));
        if (got == MPROC_ETIMEDOUT && dead)
            break;
        if (got == MPROC_ETIMEDOUT)
            continue;
        if (got != 0 || !ks_whole(buf, len, &h)) {
            rc = 40; /* torn */
            break;
        }
        if (h.seq != next[h.thread]++) {
            rc = 41; /* out of order or repeated */
            break;
        }
    }
    for (uint32_t t = 0; rc == 0 && t < 2; t++)
        if (next[t] < atomic_load(&k->board->returned[t]))
            rc = 42; /* a put that returned never arrived */
    if (rc == 0 &&
        mproc_queue_get(q, buf, KS_BUF, &len, KS_WAIT_S) != MPROC_ETIMEDOUT)
        rc = 47; /* a short get timed out without settling */
    free(buf);
    return rc;
}

/* A killed consumer's survivor: puts messages until a put begun after the
 * death times out, then takes what the queue holds and checks it; returns
 * 0 or what went wrong. */
static int ks_fill(mproc_queue *q, struct ks_kill *k)
{
    unsigned char *buf = malloc(KS_BUF);
    uint32_t sent = 0, held = 0;
    int rc = 0;
    for (;;) {
        bool dead = atomic_load(&k->done);
        int put =
            mproc_queue_put(q, buf, ks_message(buf, 0, sent), ks_timeout(dead));
        if (put == MPROC_ETIMEDOUT && dead)
            break;
        if (put != 0 && put != MPROC_ETIMEDOUT) {
            rc = 43;
            break;
        }
        sent += put == 0;
    }
    if (rc == 0 && mproc_queue_put(q, buf, ks_message(buf, 0, sent),
                                   KS_WAIT_S) != MPROC_ETIMEDOUT)
        rc = 47; /* a short put timed out without settling */
    if (rc == 0 && (mproc_queue_qsize(q) != KS_HOLD || !mproc_queue_full(q)))
        rc = 44; /* room a dead consumer took and never gave back */
    size_t len;
    while (rc == 0 && mproc_queue_get_nowait(q, buf, KS_BUF, &len) == 0) {
        struct ks_hdr h;
        if (!ks_whole(buf, len, &h) || h.seq != sent - KS_HOLD + held++)
            rc = 45; /* torn, out of order or lost */
    }
    uint32_t taken = sent - held, returned = ks_returned(k);
    if (rc == 0 && (held != KS_HOLD || taken < returned ||
                    taken > returned + (k->kept ? 1 : 2)))
        rc = 46;
    free(buf);
    return rc;
}

/* After a round: the queue is empty, and a probe comes back itself. */
static int ks_probe(mproc_queue *q)
{
    char probe[64];
    size_t len;
    if (mproc_queue_qsize(q) != 0 || !mproc_queue_empty(q))
        return 50;
    if (mproc_queue_put(q, "probe", 5, 1.0 * TIME_SCALE) != 0 ||
        mproc_queue_get(q, probe, sizeof probe, &len, 1.0 * TIME_SCALE) != 0)
        return 51;
    if (len != 5 || memcmp(probe, "probe", 5) != 0)
        return 52; /* something of the dead process's came first */
    return mproc_queue_get_nowait(q, probe, sizeof probe, &len) == MPROC_EAGAIN
               ? 0
               : 53;
}

/* One round; returns 0 or what went wrong. */
static int ks_round(mproc_queue *q, const struct ks_plan *plan, uint64_t *x)
{
    struct ks_board *bd = plan->board;
    atomic_store(&bd->returned[0], 0);
    atomic_store(&bd->returned[1], 0);
    pid_t pid = fork();
    if (pid < 0)
        return 60;
    if (pid == 0)
        _exit(ks_victim(q, bd, plan->kept,
                        plan->consumer_dies ? ks_get_forever : ks_put_forever));
    struct ks_kill k = {pid, plan->kept, bd, (useconds_t)(st_rand(x) % 3000),
                        0,   false};
    pthread_t killer;
    if (pthread_create(&killer, NULL, ks_killer, &k) != 0)
        return 61;
    int rc = plan->consumer_dies ? ks_fill(q, &k) : ks_drain(q, &k);
    pthread_join(killer, NULL);
    if (rc == 0 && k.status != 128 + SIGKILL)
        rc = 62;
    return rc ? rc : ks_probe(q);
}

static mproc_queue *ks_queue(const struct ks_plan *plan)
{
    mproc_queue_opts o = {.maxsize = plan->consumer_dies ? KS_HOLD
                                     : plan->fresh       ? 0
                                                         : 1024};
    mproc_queue *q = NULL;
    return mproc_queue_create(&q, &o) == 0 ? q : NULL;
}

static int ks_worker(void *arg)
{
    const struct ks_plan *plan = arg;
    uint64_t x = (uint64_t)getpid() * 2654435761u + 1;
    mproc_queue *q = plan->fresh ? NULL : ks_queue(plan);
    for (int round = plan->worker; round < KS_ROUNDS; round += KS_WORKERS) {
        if (plan->fresh)
            q = ks_queue(plan);
        if (!q)
            return 63;
        child_q = q;
        int rc = ks_round(q, plan, &x);
        if (rc) {
            atomic_store(&plan->board->failed_round, (uint32_t)round);
            atomic_store(&plan->board->failed_code, (uint32_t)rc);
            return rc;
        }
        if (plan->fresh)
            mproc_queue_destroy(q);
    }
    if (!plan->fresh)
        mproc_queue_destroy(q);
    return 0;
}

static void kill_storm(bool consumer_dies, bool kept, bool fresh)
{
    fill(ks_pool, KS_POOL, 1);
    struct ks_board *boards = shared_mem(KS_WORKERS * sizeof *boards);
    pid_t pid[KS_WORKERS];
    for (int w = 0; w < KS_WORKERS; w++) {
        struct ks_plan plan = {consumer_dies, kept, fresh, w, &boards[w]};
        pid[w] = spawn(ks_worker, &plan);
    }
    for (int w = 0; w < KS_WORKERS; w++) {
        int status = child_exit_status(pid[w]);
        ck_assert_msg(status == 0, "round %u: failure %d (exit %d)",
                      atomic_load(&boards[w].failed_round),
                      (int)atomic_load(&boards[w].failed_code), status);
    }
    munmap(boards, KS_WORKERS * sizeof *boards);
}

START_TEST(queue_waiting_consumer_settles_a_killed_keepers_last_put)
{
    kill_storm(false, true, false);
}
END_TEST

START_TEST(queue_waiting_consumer_settles_a_killed_producers_last_put)
{
    kill_storm(false, false, false);
}
END_TEST

START_TEST(queue_killed_only_producer_keeping_its_lock_still_delivers)
{
    kill_storm(false, true, true);
}
END_TEST

START_TEST(queue_killed_only_producer_still_delivers)
{
    kill_storm(false, false, true);
}
END_TEST

START_TEST(queue_waiting_producer_settles_a_killed_keepers_last_get)
{
    kill_storm(true, true, false);
}
END_TEST

START_TEST(queue_waiting_producer_settles_a_killed_consumers_last_get)
{
    kill_storm(true, false, false);
}
END_TEST

int main(int argc, char **argv)
{
    test_init(&argc, &argv, NULL);
    Suite *s = suite_create("queue");
    TCase *tc = tcase_create("queue");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, queue_zero_byte_message_roundtrips);
    tcase_add_test(tc, queue_one_byte_message_roundtrips);
    tcase_add_test(tc, queue_4mib_message_roundtrips);
    tcase_add_test(tc, queue_64mib_message_roundtrips_in_one_process);
    tcase_add_test(tc, queue_sizes_around_the_ring_wrap_roundtrip);
    tcase_add_test(tc, queue_message_larger_than_capacity_streams_through);
    tcase_add_test(tc, queue_smallest_ring_streams_a_message_through);
    tcase_add_test(tc, queue_64mib_message_streams_through_bounded_queue);
    tcase_add_test(tc, queue_is_fifo_for_one_producer);
    tcase_add_test(tc, queue_get_alloc_returns_a_buffer_to_free);
    tcase_add_test(tc, queue_emsgsize_keeps_message_then_get_succeeds);
    tcase_add_test(tc, queue_emsgsize_on_a_streamed_message_keeps_it);
    tcase_add_test(tc, queue_get_nowait_on_empty_is_eagain);
    tcase_add_test(tc, queue_get_times_out_when_empty);
    tcase_add_test(tc, queue_put_blocks_at_maxsize_with_both_timeout_codes);
    tcase_add_test(tc, queue_put_blocks_when_ring_bytes_run_out);
    tcase_add_test(tc, queue_blocked_put_wakes_when_a_get_makes_room);
    tcase_add_test(tc, queue_blocked_put_takes_a_single_freed_slot);
    tcase_add_test(tc, queue_blocked_get_wakes_when_a_put_arrives);
    tcase_add_test(tc, queue_unbounded_put_too_big_for_ring_is_enomem);
    tcase_add_test(tc, queue_unbounded_queue_never_full);
    tcase_add_test(tc, queue_qsize_empty_full_track_contents);
    tcase_add_test(tc,
                   queue_three_producers_two_consumers_exactly_once_in_order);
    tcase_add_test(tc,
                   queue_bounded_three_producers_two_consumers_exactly_once);
    tcase_add_test(tc, queue_unbounded_jumps_back_to_warm_pages_exactly_once);
    tcase_add_test(tc, queue_created_before_fork_is_shared_with_the_child);
    tcase_add_test(tc, queue_shutdown_wakes_blocked_getters);
    tcase_add_test(tc, queue_shutdown_wakes_blocked_putters);
    tcase_add_test(tc, queue_shutdown_lets_gets_drain_then_fails_them);
    tcase_add_test(tc, queue_immediate_shutdown_discards_what_is_left);
    tcase_add_test(tc, queue_join_returns_once_every_task_is_done);
    tcase_add_test(tc, queue_join_times_out_while_tasks_are_pending);
    tcase_add_test(tc, queue_too_many_task_done_calls_are_einval);
    tcase_add_test(tc, queue_task_done_and_join_need_a_joinable_queue);
    tcase_add_test(tc, queue_bad_arguments_are_einval);
    tcase_add_test(tc, queue_create_destroy_leaks_no_fd);
    tcase_add_test(tc, queue_opened_in_child_exchanges_messages_unbounded);
    tcase_add_test(tc, queue_opened_in_child_exchanges_messages_bounded);
    tcase_add_test(tc, queue_opened_in_child_keeps_it_joinable);
    tcase_add_test(tc, queue_open_of_reference_not_given_is_enoent);
    tcase_add_test(tc, queue_open_as_another_kind_is_einval);
    tcase_add_test(tc, queue_destroy_of_opened_handle_leaves_the_original);
    tcase_add_test(tc, queue_producer_killed_mid_stream_is_withdrawn);
    tcase_add_test(tc, queue_getter_waiting_mid_stream_survives_producer_death);
    tcase_add_test(tc,
                   queue_idle_producer_keeping_its_lock_does_not_block_a_put);
    tcase_add_test(tc,
                   queue_idle_consumer_keeping_its_lock_does_not_block_a_get);
    tcase_add_test(tc, queue_producer_killed_while_keeping_its_lock_frees_it);
    tcase_add_test(tc,
                   queue_producer_killed_inside_a_put_while_keeping_its_lock);
    tcase_add_test(
        tc, queue_two_threads_on_one_handle_each_put_exactly_once_in_order);
    suite_add_tcase(s, tc);

    TCase *stress = tcase_create("queue_stress");
    tcase_set_tags(stress, "stress");
    tcase_set_timeout(stress, 60);
    tcase_add_test(stress,
                   queue_survives_random_sigkill_of_producers_and_consumers);
    tcase_add_test(stress,
                   queue_waiting_consumer_settles_a_killed_keepers_last_put);
    tcase_add_test(stress,
                   queue_waiting_consumer_settles_a_killed_producers_last_put);
    tcase_add_test(stress,
                   queue_killed_only_producer_keeping_its_lock_still_delivers);
    tcase_add_test(stress, queue_killed_only_producer_still_delivers);
    tcase_add_test(stress,
                   queue_waiting_producer_settles_a_killed_keepers_last_get);
    tcase_add_test(stress,
                   queue_waiting_producer_settles_a_killed_consumers_last_get);
    suite_add_tcase(s, stress);
    return run_suite(s);
}
