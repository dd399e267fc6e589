/*
 * bench_queue.c - Queue throughput (1->1, 2->2, 4->4 processes, 64-byte
 * messages), blocking ping-pong round trip over two queues, and 64 MiB
 * messages, for mproc. The peers (bench/peer_boost_queue.cpp,
 * bench/py/bench_queue.py) and the floors (bench/floor_ring.c,
 * floor_futex_pingpong.c, floor_memcpy.c) print the same figures; the 1->1
 * figure also runs the bare ring itself, alternately with mproc.
 *
 * Throughput queues are bounded (maxsize 1024, default 1 MiB ring), as
 * Boost's message_queue is; the 64 MiB figure uses Queue() (unbounded, the
 * message stored whole) and, as a second row, a bounded queue through
 * whose 1 MiB ring the message streams.
 */
#include "bench.h"
#include "ring.h"

#include <mproc.h>

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MSG 64
#define N_THROUGHPUT 2000000L
#define N_PINGPONG 100000L
#define BIG ((size_t)64 << 20)

static mproc_queue *bounded(size_t maxsize)
{
    mproc_queue_opts o = {.maxsize = maxsize};
    mproc_queue *q;
    if (mproc_queue_create(&q, &o) != 0)
        exit(1);
    return q;
}

/* Messages per second of P producers and C consumers moving n messages. */
static double throughput(int producers, int consumers, long n)
{
    mproc_queue *q = bounded(1024);
    pid_t pids[16];
    double t0 = bench_now();
    for (int i = 0; i < consumers; i++) {
        if ((pids[i] = fork()) == 0) {
            char buf[MSG];
            size_t len;
            do {
                if (mproc_queue_get(q, buf, sizeof buf, &len, -1) != 0)
                    _exit(1);
            } while (len != 0);
            _exit(0);
        }
    }
    for (int i = 0; i < producers; i++) {
        if ((pids[consumers + i] = fork()) == 0) {
            char buf[MSG];
            memset(buf, 1, sizeof buf);
            for (long k = 0; k < n / producers; k++)
                if (mproc_queue_put(q, buf, sizeof buf, -1) != 0)
                    _exit(1);
            _exit(0);
        }
    }
    for (int i = 0; i < producers; i++)
        waitpid(pids[consumers + i], NULL, 0);
    for (int i = 0; i < consumers; i++)
        mproc_queue_put(q, NULL, 0, -1); /* stop */
    for (int i = 0; i < consumers; i++)
        waitpid(pids[i], NULL, 0);
    double dt = bench_now() - t0;
    mproc_queue_destroy(q);
    return (double)(n / producers * producers) / dt;
}

/* Microseconds per round trip: put on one queue, echo back on another. */
static double pingpong(long n)
{
    mproc_queue *req = bounded(1024), *rep = bounded(1024);
    char buf[MSG] = {0};
    size_t len;
    pid_t pid = fork();
    if (pid == 0) {
        for (long i = 0; i < n; i++) {
            if (mproc_queue_get(req, buf, sizeof buf, &len, -1) != 0 ||
                mproc_queue_put(rep, buf, len, -1) != 0)
                _exit(1);
        }
        _exit(0);
    }
    double t0 = bench_now();
    for (long i = 0; i < n; i++) {
        mproc_queue_put(req, buf, sizeof buf, -1);
        mproc_queue_get(rep, buf, sizeof buf, &len, -1);
    }
    double dt = bench_now() - t0;
    waitpid(pid, NULL, 0);
    mproc_queue_destroy(req);
    mproc_queue_destroy(rep);
    return dt / (double)n * 1e6;
}

/*
 * The median MB/s of 64 MiB messages from this process to one child, over
 * REPS rounds after a warm-up round (a queue and its consumer are made to
 * be reused: the first message also takes the ring's pages and maps them
 * into the consumer).
 */
static double big_median(mproc_queue *q)
{
    mproc_queue *ctl = bounded(4);
    unsigned char *buf = malloc(BIG);
    memset(buf, 7, BIG);
    char c;
    size_t len;
    pid_t pid = fork();
    if (pid == 0) {
        unsigned char *in = malloc(BIG);
        memset(in, 1, BIG); /* not 0: malloc+memset 0 may become calloc */
        for (int r = 0; r <= REPS; r++) {
            mproc_queue_put(ctl, "r", 1, -1);
            if (mproc_queue_get(q, in, BIG, &len, -1) != 0 || len != BIG)
                _exit(1);
            mproc_queue_put(ctl, "d", 1, -1);
        }
        _exit(0);
    }
    double v[REPS + 1];
    for (int r = 0; r <= REPS; r++) {
        mproc_queue_get(ctl, &c, 1, &len, -1);
        double t0 = bench_now();
        mproc_queue_put(q, buf, BIG, -1);
        mproc_queue_get(ctl, &c, 1, &len, -1);
        v[r] = (double)BIG / (bench_now() - t0) / 1e6;
    }
    waitpid(pid, NULL, 0);
    free(buf);
    mproc_queue_destroy(ctl);
    mproc_queue_destroy(q);
    return bench_median(v + 1, REPS);
}

static double big_unbounded(void)
{
    mproc_queue *q;
    if (mproc_queue_create(&q, NULL) != 0)
        exit(1);
    return big_median(q);
}

static double big_bounded(void)
{
    return big_median(bounded(1));
}

static double median_of(double (*fn)(void))
{
    double v[REPS];
    for (int r = 0; r < REPS; r++)
        v[r] = fn();
    return bench_median(v, REPS);
}

static double t22(void)
{
    return throughput(2, 2, N_THROUGHPUT);
}
static double t44(void)
{
    return throughput(4, 4, N_THROUGHPUT);
}
static double pp(void)
{
    return pingpong(N_PINGPONG);
}

/* 1->1 throughput, each round followed by a round of the bare ring
 * (ring.h), so that their ratio comes from one placement of the machine's
 * CPUs: on a virtual machine it can change between two programs. */
static void report_t11(void)
{
    double mine[REPS], bare[REPS];
    for (int r = 0; r < REPS; r++) {
        mine[r] = throughput(1, 1, N_THROUGHPUT);
        bare[r] = ring_once(ring_bare);
    }
    bench_report("queue 1->1 64 B", "mproc", bench_median(mine, REPS), "msg/s");
    bench_report("queue 1->1 64 B",
                 "shared-memory SPSC ring, run alternately with mproc (floor)",
                 bench_median(bare, REPS), "msg/s");
}

int main(void)
{
    report_t11();
    bench_report("queue 2->2 64 B", "mproc", median_of(t22), "msg/s");
    bench_report("queue 4->4 64 B", "mproc", median_of(t44), "msg/s");
    bench_report("queue ping-pong round trip", "mproc", median_of(pp), "us");
    bench_report("queue 64 MiB message", "mproc", big_unbounded(), "MB/s");
    bench_report("queue 64 MiB message", "mproc (bounded, streamed)",
                 big_bounded(), "MB/s");
    return 0;
}
