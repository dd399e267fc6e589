/*
 * peer_boost_queue.cpp - Boost.Interprocess message_queue, the C++ peer of
 * bench_queue.c: the same figures (1->1, 2->2, 4->4 processes with 64-byte
 * messages through a queue of 1024; ping-pong over two queues; one 64 MiB
 * message), forked processes, medians of REPS runs.
 */
#include "bench.h"

#include <boost/interprocess/ipc/message_queue.hpp>
#include <boost/version.hpp>

#include <cstring>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace bip = boost::interprocess;

static const long N_THROUGHPUT = 2000000;
static const long N_PINGPONG = 100000;
static const size_t MSG = 64;
static const size_t BIG = (size_t)64 << 20;

static std::string qname(const char *what)
{
    return std::string("mproc_bench_") + what + "_" + std::to_string(getpid());
}

static double throughput(int producers, int consumers, long n)
{
    std::string name = qname("tp");
    bip::message_queue::remove(name.c_str());
    bip::message_queue mq(bip::create_only, name.c_str(), 1024, MSG);
    pid_t pids[16];
    double t0 = bench_now();
    for (int i = 0; i < consumers; i++) {
        if ((pids[i] = fork()) == 0) {
            bip::message_queue q(bip::open_only, name.c_str());
            char buf[MSG];
            bip::message_queue::size_type len;
            unsigned prio;
            do {
                q.receive(buf, sizeof buf, len, prio);
            } while (len != 0);
            _exit(0);
        }
    }
    for (int i = 0; i < producers; i++) {
        if ((pids[consumers + i] = fork()) == 0) {
            bip::message_queue q(bip::open_only, name.c_str());
            char buf[MSG];
            std::memset(buf, 1, sizeof buf);
            for (long k = 0; k < n / producers; k++)
                q.send(buf, sizeof buf, 0);
            _exit(0);
        }
    }
    for (int i = 0; i < producers; i++)
        waitpid(pids[consumers + i], nullptr, 0);
    for (int i = 0; i < consumers; i++)
        mq.send("", 0, 0);
    for (int i = 0; i < consumers; i++)
        waitpid(pids[i], nullptr, 0);
    double dt = bench_now() - t0;
    bip::message_queue::remove(name.c_str());
    return (double)(n / producers * producers) / dt;
}

static double pingpong(long n)
{
    std::string a = qname("req"), b = qname("rep");
    bip::message_queue::remove(a.c_str());
    bip::message_queue::remove(b.c_str());
    bip::message_queue req(bip::create_only, a.c_str(), 1024, MSG);
    bip::message_queue rep(bip::create_only, b.c_str(), 1024, MSG);
    char buf[MSG] = {0};
    bip::message_queue::size_type len;
    unsigned prio;
    pid_t pid = fork();
    if (pid == 0) {
        for (long i = 0; i < n; i++) {
            req.receive(buf, sizeof buf, len, prio);
            rep.send(buf, len, 0);
        }
        _exit(0);
    }
    double t0 = bench_now();
    for (long i = 0; i < n; i++) {
        req.send(buf, sizeof buf, 0);
        rep.receive(buf, sizeof buf, len, prio);
    }
    double dt = bench_now() - t0;
    waitpid(pid, nullptr, 0);
    bip::message_queue::remove(a.c_str());
    bip::message_queue::remove(b.c_str());
    return dt / (double)n * 1e6;
}

/* The median MB/s of 64 MiB messages to one child over one queue, REPS
 * rounds after a warm-up round, as bench_queue.c measures it. */
static double big()
{
    std::string a = qname("big"), c = qname("ctl");
    bip::message_queue::remove(a.c_str());
    bip::message_queue::remove(c.c_str());
    bip::message_queue q(bip::create_only, a.c_str(), 1, BIG);
    bip::message_queue ctl(bip::create_only, c.c_str(), 4, 1);
    unsigned char *buf = (unsigned char *)malloc(BIG);
    std::memset(buf, 7, BIG);
    char ch;
    bip::message_queue::size_type len;
    unsigned prio;
    pid_t pid = fork();
    if (pid == 0) {
        unsigned char *in = (unsigned char *)malloc(BIG);
        std::memset(in, 1, BIG); // not 0: may become calloc
        for (int r = 0; r <= REPS; r++) {
            ctl.send("r", 1, 0);
            q.receive(in, BIG, len, prio);
            ctl.send("d", 1, 0);
        }
        _exit(0);
    }
    double v[REPS + 1];
    for (int r = 0; r <= REPS; r++) {
        ctl.receive(&ch, 1, len, prio);
        double t0 = bench_now();
        q.send(buf, BIG, 0);
        ctl.receive(&ch, 1, len, prio);
        v[r] = (double)BIG / (bench_now() - t0) / 1e6;
    }
    waitpid(pid, nullptr, 0);
    free(buf);
    bip::message_queue::remove(a.c_str());
    bip::message_queue::remove(c.c_str());
    return bench_median(v + 1, REPS);
}

template <class F> static double median_of(F fn)
{
    double v[REPS];
    for (int r = 0; r < REPS; r++)
        v[r] = fn();
    return bench_median(v, REPS);
}

int main()
{
    char impl[64];
    snprintf(impl, sizeof impl, "Boost.Interprocess %d.%d",
             BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000);
    bench_report("queue 1->1 64 B", impl,
                 median_of([] { return throughput(1, 1, N_THROUGHPUT); }),
                 "msg/s");
    bench_report("queue 2->2 64 B", impl,
                 median_of([] { return throughput(2, 2, N_THROUGHPUT); }),
                 "msg/s");
    bench_report("queue 4->4 64 B", impl,
                 median_of([] { return throughput(4, 4, N_THROUGHPUT); }),
                 "msg/s");
    bench_report("queue ping-pong round trip", impl,
                 median_of([] { return pingpong(N_PINGPONG); }), "us");
    bench_report("queue 64 MiB message", impl, big(), "MB/s");
    return 0;
}
