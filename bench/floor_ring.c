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
 *
 * A third row runs the same ring with 128-byte slots, each holding a
 * 16-byte header and the message: the floor for a queue whose messages
 * have any length, so carry a header, in records on whole cache lines.
 * A 64-byte message then spans two lines, where the bare ring's spans one.
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
#define HEADER 16
#define MAX_SLOT 128
#define N 2000000L

struct ring {
    _Alignas(64) _Atomic uint64_t head;
    _Alignas(64) _Atomic uint64_t tail;
    _Alignas(64) _Atomic uint64_t plock;
    _Alignas(64) _Atomic uint64_t clock;
    _Alignas(64) unsigned char slot[SLOTS][MAX_SLOT];
};

/* One variant of the ring: its slot size, the bytes a message fills in a
 * slot, and whether each side locks around every message. */
struct variant {
    size_t slot, bytes;
    bool locked;
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

static unsigned char *slot_at(struct ring *r, struct variant v, uint64_t i)
{
    return (unsigned char *)r->slot + (i % SLOTS) * v.slot;
}

static double once(struct variant v)
{
    struct ring *r = mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED)
        exit(1);
    double t0 = bench_now();
    pid_t pid = fork();
    if (pid == 0) { /* consumer */
        unsigned char buf[HEADER + MSG];
        uint64_t head = 0, tail = 0;
        while (head < (uint64_t)N) {
            while (head == tail) {
                tail = atomic_load_explicit(&r->tail, memory_order_acquire);
                if (head == tail)
                    relax();
            }
            lock(&r->clock, v.locked);
            memcpy(buf, slot_at(r, v, head), v.bytes);
            atomic_store_explicit(&r->head, ++head, memory_order_release);
            unlock(&r->clock, v.locked);
        }
        _exit(buf[v.bytes - 1] == 1 ? 0 : 1);
    }
    unsigned char msg[HEADER + MSG];
    memset(msg, 1, sizeof msg);
    uint64_t tail = 0, head = 0;
    for (long i = 0; i < N; i++) {
        while (tail - head == SLOTS) {
            head = atomic_load_explicit(&r->head, memory_order_acquire);
            if (tail - head == SLOTS)
                relax();
        }
        lock(&r->plock, v.locked);
        memcpy(slot_at(r, v, tail), msg, v.bytes);
        atomic_store_explicit(&r->tail, ++tail, memory_order_release);
        unlock(&r->plock, v.locked);
    }
    waitpid(pid, NULL, 0);
    double dt = bench_now() - t0;
    munmap(r, sizeof *r);
    return (double)N / dt;
}

int main(void)
{
    static const struct variant variants[] = {
        {MSG, MSG, false},
        {MSG, MSG, true},
        {MAX_SLOT, HEADER + MSG, false},
    };
    static const char *const names[] = {
        "shared-memory SPSC ring (floor)",
        "same ring, a lock per message each side (floor)",
        "same ring, a 16-byte header with each message, on whole lines "
        "(floor)",
    };
    enum { NV = sizeof variants / sizeof variants[0] };
    double t[NV][REPS];
    for (int i = 0; i < REPS; i++) /* alternating: noise hits all */
        for (int k = 0; k < NV; k++)
            t[k][i] = once(variants[k]);
    for (int k = 0; k < NV; k++)
        bench_report("queue 1->1 64 B", names[k], bench_median(t[k], REPS),
                     "msg/s");
    return 0;
}
