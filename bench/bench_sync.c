/*
 * bench_sync.c - Lock, Event, Condition and Barrier against their floors,
 * measured in one program: a process-shared robust pthread_mutex
 * (uncontended lock+unlock, and two processes incrementing a counter under
 * it), a bare futex ping-pong between two processes (the floor of any
 * wake-up) and a process-shared pthread_barrier (not robust: a party that
 * dies leaves the others waiting for ever).
 *
 * Figures (the same strings as bench/py/bench_sync.py):
 *   lock acquire+release, uncontended          ns per pair
 *   lock: 2 processes increment a counter      ns per increment
 *   event set -> wake, round trip              us per round trip
 *   condition notify -> wake, round trip       us per round trip
 *   barrier: 2 processes meet, per round       us per round
 */
#include "bench.h"
#include "futex.h"

#include <mproc.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define UNCONTENDED 5000000
#define COUNTS 500000
#define TRIPS 20000

struct shared {
    pthread_mutex_t mutex;
    pthread_barrier_t barrier;
    long counter;
    _Atomic uint32_t turn;
    int turn_plain; /* guarded by the Condition's lock */
};
static struct shared *sh;
static mproc_lock *lock;
static mproc_event *ev[2];
static mproc_condition *cond;
static mproc_barrier *bar;

/* Measures floor and ours alternately, REPS times each, so that both see
 * the same machine noise; reports each one's median. */
static void report_pair(const char *figure, const char *floor_name,
                        double (*floor)(void), double (*ours)(void),
                        const char *unit)
{
    double f[REPS], o[REPS];
    for (int r = 0; r < REPS; r++) {
        f[r] = floor();
        o[r] = ours();
    }
    bench_report(figure, floor_name, bench_median(f, REPS), unit);
    bench_report(figure, "mproc", bench_median(o, REPS), unit);
}

/* Uncontended lock+unlock. */
static double mutex_uncontended(void)
{
    double t0 = bench_now();
    for (int i = 0; i < UNCONTENDED; i++) {
        pthread_mutex_lock(&sh->mutex);
        pthread_mutex_unlock(&sh->mutex);
    }
    return (bench_now() - t0) / UNCONTENDED * 1e9;
}

static double lock_uncontended(void)
{
    double t0 = bench_now();
    for (int i = 0; i < UNCONTENDED; i++) {
        mproc_lock_acquire(lock, MPROC_FOREVER);
        mproc_lock_release(lock);
    }
    return (bench_now() - t0) / UNCONTENDED * 1e9;
}

/* Two processes incrementing a counter. */
static void mutex_count(void)
{
    for (int i = 0; i < COUNTS; i++) {
        pthread_mutex_lock(&sh->mutex);
        sh->counter++;
        pthread_mutex_unlock(&sh->mutex);
    }
}

static void lock_count(void)
{
    for (int i = 0; i < COUNTS; i++) {
        mproc_lock_acquire(lock, MPROC_FOREVER);
        sh->counter++;
        mproc_lock_release(lock);
    }
}

static double mutex_counter(void)
{
    sh->counter = 0;
    double s = bench_timed_pair(mutex_count, mutex_count);
    return sh->counter == 2 * COUNTS ? s / (2 * COUNTS) * 1e9 : -1;
}

static double lock_counter(void)
{
    sh->counter = 0;
    double s = bench_timed_pair(lock_count, lock_count);
    return sh->counter == 2 * COUNTS ? s / (2 * COUNTS) * 1e9 : -1;
}

/* Futex ping-pong: the turn word goes 0 -> 1 (parent) -> 0 (child). */
static void futex_ping(void)
{
    for (int i = 0; i < TRIPS; i++) {
        atomic_store(&sh->turn, 1);
        bench_futex_wake(&sh->turn);
        bench_futex_wait(&sh->turn, 1);
    }
}

static void futex_pong(void)
{
    for (int i = 0; i < TRIPS; i++) {
        bench_futex_wait(&sh->turn, 0);
        atomic_store(&sh->turn, 0);
        bench_futex_wake(&sh->turn);
    }
}

static double futex_trip(void)
{
    atomic_store(&sh->turn, 0);
    return bench_timed_pair(futex_ping, futex_pong) / TRIPS * 1e6;
}

/* Event ping-pong: the parent sets ev[0], the child answers on ev[1]. */
static void event_ping(void)
{
    for (int i = 0; i < TRIPS; i++) {
        mproc_event_set(ev[0]);
        mproc_event_wait(ev[1], MPROC_FOREVER);
        mproc_event_clear(ev[1]);
    }
}

static void event_pong(void)
{
    for (int i = 0; i < TRIPS; i++) {
        mproc_event_wait(ev[0], MPROC_FOREVER);
        mproc_event_clear(ev[0]);
        mproc_event_set(ev[1]);
    }
}

static double event_trip(void)
{
    mproc_event_clear(ev[0]);
    mproc_event_clear(ev[1]);
    return bench_timed_pair(event_ping, event_pong) / TRIPS * 1e6;
}

/* Condition ping-pong: whose turn it is, under the Condition's lock. */
static void cond_ping(void)
{
    mproc_condition_acquire(cond, MPROC_FOREVER);
    for (int i = 0; i < TRIPS; i++) {
        sh->turn_plain = 1;
        mproc_condition_notify(cond, 1);
        while (sh->turn_plain == 1)
            mproc_condition_wait(cond, MPROC_FOREVER);
    }
    mproc_condition_release(cond);
}

static void cond_pong(void)
{
    mproc_condition_acquire(cond, MPROC_FOREVER);
    for (int i = 0; i < TRIPS; i++) {
        while (sh->turn_plain == 0)
            mproc_condition_wait(cond, MPROC_FOREVER);
        sh->turn_plain = 0;
        mproc_condition_notify(cond, 1);
    }
    mproc_condition_release(cond);
}

static double cond_trip(void)
{
    sh->turn_plain = 0;
    return bench_timed_pair(cond_ping, cond_pong) / TRIPS * 1e6;
}

/* Two processes meeting at a barrier TRIPS times. */
static void pbarrier_rounds(void)
{
    for (int i = 0; i < TRIPS; i++)
        pthread_barrier_wait(&sh->barrier);
}

static void barrier_rounds(void)
{
    for (int i = 0; i < TRIPS; i++)
        mproc_barrier_wait(bar, MPROC_FOREVER);
}

static double pbarrier_trip(void)
{
    return bench_timed_pair(pbarrier_rounds, pbarrier_rounds) / TRIPS * 1e6;
}

static double barrier_trip(void)
{
    return bench_timed_pair(barrier_rounds, barrier_rounds) / TRIPS * 1e6;
}

int main(void)
{
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        return 1;
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&sh->mutex, &a);
    pthread_barrierattr_t ba;
    pthread_barrierattr_init(&ba);
    pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED);
    pthread_barrier_init(&sh->barrier, &ba, 2);
    if (mproc_lock_create(&lock) || mproc_event_create(&ev[0]) ||
        mproc_event_create(&ev[1]) || mproc_condition_create(&cond, NULL) ||
        mproc_barrier_create(&bar, 2))
        return 1;

    const char *floor_mutex = "robust pthread_mutex (floor)";
    const char *floor_futex = "futex ping-pong (floor)";
    report_pair("lock acquire+release, uncontended", floor_mutex,
                mutex_uncontended, lock_uncontended, "ns");
    report_pair("lock: 2 processes increment a counter", floor_mutex,
                mutex_counter, lock_counter, "ns");
    report_pair("event set -> wake, round trip", floor_futex, futex_trip,
                event_trip, "us");
    report_pair("condition notify -> wake, round trip", floor_futex, futex_trip,
                cond_trip, "us");
    report_pair("barrier: 2 processes meet, per round",
                "pthread_barrier (floor)", pbarrier_trip, barrier_trip, "us");

    mproc_barrier_destroy(bar);
    mproc_condition_destroy(cond);
    mproc_event_destroy(ev[0]);
    mproc_event_destroy(ev[1]);
    mproc_lock_destroy(lock);
    return 0;
}
