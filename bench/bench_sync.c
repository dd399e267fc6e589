/*
 * bench_sync.c - Lock, Event and Condition against their floors, measured
 * in one program: a process-shared robust pthread_mutex (uncontended
 * lock+unlock, and two processes incrementing a counter under it) and a
 * bare futex ping-pong between two processes (the floor of any wake-up).
 *
 * Figures (the same strings as bench/py/bench_sync.py):
 *   lock acquire+release, uncontended          ns per pair
 *   lock: 2 processes increment a counter      ns per increment
 *   event set -> wake, round trip              us per round trip
 *   condition notify -> wake, round trip       us per round trip
 */
#include "bench.h"

#include <mproc.h>

#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define UNCONTENDED 5000000
#define COUNTS 500000
#define TRIPS 20000

struct shared {
    pthread_mutex_t mutex;
    long counter;
    _Atomic uint32_t turn;
    int turn_plain; /* guarded by the Condition's lock */
};
static struct shared *sh;
static mproc_lock *lock;
static mproc_event *ev[2];
static mproc_condition *cond;

/* Runs child() in a forked process and parent() here, both timed from
 * before the fork to after the child is reaped. */
static double timed_pair(void (*parent)(void), void (*child)(void))
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

static double median_of(double (*one)(void))
{
    double v[REPS];
    for (int r = 0; r < REPS; r++)
        v[r] = one();
    return bench_median(v, REPS);
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
    double s = timed_pair(mutex_count, mutex_count);
    return sh->counter == 2 * COUNTS ? s / (2 * COUNTS) * 1e9 : -1;
}

static double lock_counter(void)
{
    sh->counter = 0;
    double s = timed_pair(lock_count, lock_count);
    return sh->counter == 2 * COUNTS ? s / (2 * COUNTS) * 1e9 : -1;
}

/* Futex ping-pong: the turn word goes 0 -> 1 (parent) -> 0 (child). */
static void futex_wait(_Atomic uint32_t *w, uint32_t v)
{
    while (atomic_load(w) == v)
        syscall(SYS_futex, w, FUTEX_WAIT, v, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *w)
{
    syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static void futex_ping(void)
{
    for (int i = 0; i < TRIPS; i++) {
        atomic_store(&sh->turn, 1);
        futex_wake(&sh->turn);
        futex_wait(&sh->turn, 1);
    }
}

static void futex_pong(void)
{
    for (int i = 0; i < TRIPS; i++) {
        futex_wait(&sh->turn, 0);
        atomic_store(&sh->turn, 0);
        futex_wake(&sh->turn);
    }
}

static double futex_trip(void)
{
    atomic_store(&sh->turn, 0);
    return timed_pair(futex_ping, futex_pong) / TRIPS * 1e6;
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
    return timed_pair(event_ping, event_pong) / TRIPS * 1e6;
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
    return timed_pair(cond_ping, cond_pong) / TRIPS * 1e6;
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
    if (mproc_lock_create(&lock) || mproc_event_create(&ev[0]) ||
        mproc_event_create(&ev[1]) || mproc_condition_create(&cond, NULL))
        return 1;

    const char *floor_mutex = "robust pthread_mutex (floor)";
    const char *floor_futex = "futex ping-pong (floor)";
    const char *f1 = "lock acquire+release, uncontended";
    bench_report(f1, floor_mutex, median_of(mutex_uncontended), "ns");
    bench_report(f1, "mproc", median_of(lock_uncontended), "ns");
    const char *f2 = "lock: 2 processes increment a counter";
    bench_report(f2, floor_mutex, median_of(mutex_counter), "ns");
    bench_report(f2, "mproc", median_of(lock_counter), "ns");
    const char *f3 = "event set -> wake, round trip";
    double futex_us = median_of(futex_trip);
    bench_report(f3, floor_futex, futex_us, "us");
    bench_report(f3, "mproc", median_of(event_trip), "us");
    const char *f4 = "condition notify -> wake, round trip";
    bench_report(f4, floor_futex, futex_us, "us");
    bench_report(f4, "mproc", median_of(cond_trip), "us");

    mproc_condition_destroy(cond);
    mproc_event_destroy(ev[0]);
    mproc_event_destroy(ev[1]);
    mproc_lock_destroy(lock);
    return 0;
}
