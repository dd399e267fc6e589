/*
 * peer_boost_sync.cpp - Boost.Interprocess interprocess_mutex and
 * interprocess_condition in anonymous shared memory, on the figures of
 * bench_sync.c (same strings). Boost's mutex is not robust: a holder that
 * dies leaves it locked for good.
 */
#include "bench.h"

#include <boost/interprocess/sync/interprocess_condition.hpp>
#include <boost/interprocess/sync/interprocess_mutex.hpp>
#include <boost/interprocess/sync/scoped_lock.hpp>
#include <boost/version.hpp>

#include <new>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

namespace bi = boost::interprocess;

static const int UNCONTENDED = 5000000, COUNTS = 500000, TRIPS = 20000;

struct shared {
    bi::interprocess_mutex mutex;
    bi::interprocess_condition cond;
    long counter;
    int turn;
};
static shared *sh;

template <class F> static double median_of(F one)
{
    double v[REPS];
    for (int r = 0; r < REPS; r++)
        v[r] = one();
    return bench_median(v, REPS);
}

static void count()
{
    for (int i = 0; i < COUNTS; i++) {
        bi::scoped_lock<bi::interprocess_mutex> g(sh->mutex);
        sh->counter++;
    }
}

static void ping()
{
    bi::scoped_lock<bi::interprocess_mutex> g(sh->mutex);
    for (int i = 0; i < TRIPS; i++) {
        sh->turn = 1;
        sh->cond.notify_one();
        while (sh->turn == 1)
            sh->cond.wait(g);
    }
}

static void pong()
{
    bi::scoped_lock<bi::interprocess_mutex> g(sh->mutex);
    for (int i = 0; i < TRIPS; i++) {
        while (sh->turn == 0)
            sh->cond.wait(g);
        sh->turn = 0;
        sh->cond.notify_one();
    }
}

int main()
{
    void *m = mmap(NULL, sizeof(shared), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return 1;
    sh = new (m) shared();
    char impl[64];
    snprintf(impl, sizeof impl, "Boost.Interprocess %d.%d",
             BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000);

    bench_report("lock acquire+release, uncontended", impl, median_of([] {
                     double t0 = bench_now();
                     for (int i = 0; i < UNCONTENDED; i++) {
                         sh->mutex.lock();
                         sh->mutex.unlock();
                     }
                     return (bench_now() - t0) / UNCONTENDED * 1e9;
                 }),
                 "ns");
    bench_report("lock: 2 processes increment a counter", impl, median_of([] {
                     sh->counter = 0;
                     double s = bench_timed_pair(count, count);
                     return sh->counter == 2 * COUNTS ? s / (2 * COUNTS) * 1e9
                                                      : -1;
                 }),
                 "ns");
    bench_report("condition notify -> wake, round trip", impl, median_of([] {
                     sh->turn = 0;
                     return bench_timed_pair(ping, pong) / TRIPS * 1e6;
                 }),
                 "us");
    return 0;
}
