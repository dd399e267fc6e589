/*
 * floor_ring.c - the floor under queue throughput: a bare single-producer
 * single-consumer ring of 1024 64-byte slots in shared memory between two
 * processes, indices on separate cache lines, each side caching the
 * other's index, busy-waiting (never sleeping) when empty or full.
 *
 * A second row runs the same ring with each side taking and releasing an
 * uncontended lock word of its own around every message (a compare-and-
 * swap, then an exchange), as any queue with several producers or
 * consumers must: the floor for a queue that locks once per message.
 */
#include "bench.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define SLOTS 1024
#define MSG 64
#define N 2000000L

struct ring {
    _Alignas(64) _Atomic uint64_t head;
    _Alignas(64) _Atomic uint64_t tail;
    _Alignas(64) _Atomic uint64_t plock;
    _Alignas(64) _Atomic uint64_t clock;
    _Alignas(64) unsigned char slot[SLOTS][MSG];
};

static inline void relax(void)
{
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
}

/* Takes (and then releases) a lock only this side ever takes. */
static inline void lock(_Atomic uint64_t *l, bool on)
{
    uint64_t free_word = 0;
    if (on)
        atomic_compare_exchange_strong(l, &free_word, 1);
}

static inline void unlock(_Atomic uint64_t *l, bool on)
{
    if (on)
        atomic_exchange(l, 0);
}

static double once(bool locked)
{
    struct ring *r = mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED)
        exit(1);
    double t0 = bench_now();
    pid_t pid = fork();
    if (pid == 0) { /* consumer */
        unsigned char buf[MSG];
        uint64_t head = 0, tail = 0;
        while (head < (uint64_t)N) {
            while (head == tail) {
                tail = atomic_load_explicit(&r->tail, memory_order_acquire);
                if (head == tail)
                    relax();
            }
            lock(&r->clock, locked);
            memcpy(buf, r->slot[head % SLOTS], MSG);
            atomic_store_explicit(&r->head, ++head, memory_order_release);
            unlock(&r->clock, locked);
        }
        _exit(buf[0] == 1 ? 0 : 1);
    }
    unsigned char msg[MSG];
    memset(msg, 1, sizeof msg);
    uint64_t tail = 0, head = 0;
    for (long i = 0; i < N; i++) {
        while (tail - head == SLOTS) {
            head = atomic_load_explicit(&r->head, memory_order_acquire);
            if (tail - head == SLOTS)
                relax();
        }
        lock(&r->plock, locked);
        memcpy(r->slot[tail % SLOTS], msg, MSG);
        atomic_store_explicit(&r->tail, ++tail, memory_order_release);
        unlock(&r->plock, locked);
    }
    waitpid(pid, NULL, 0);
    double dt = bench_now() - t0;
    munmap(r, sizeof *r);
    return (double)N / dt;
}

int main(void)
{
    double bare[REPS], locked[REPS];
    for (int i = 0; i < REPS; i++) { /* alternating: noise hits both */
        bare[i] = once(false);
        locked[i] = once(true);
    }
    bench_report("queue 1->1 64 B", "shared-memory SPSC ring (floor)",
                 bench_median(bare, REPS), "msg/s");
    bench_report("queue 1->1 64 B",
                 "same ring, a lock per message each side (floor)",
                 bench_median(locked, REPS), "msg/s");
    return 0;
}
