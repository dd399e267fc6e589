/*
 * ring.h - the floor under queue throughput, shared by floor_ring.c and
 * bench_queue.c (which runs the bare ring alternately with mproc, so that
 * their ratio comes from one placement of the machine's CPUs): a bare
 * single-producer single-consumer ring of 1024 slots in shared memory
 * between two processes, indices on separate cache lines, each side
 * caching the other's index, busy-waiting (never sleeping) when empty or
 * full. Variants of it lock around each message, or carry a header with
 * each message in slots of two cache lines.
 */
#ifndef MPROC_BENCH_RING_H
#define MPROC_BENCH_RING_H

#include "bench.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define RING_SLOTS 1024
#define RING_MSG 64
#define RING_HEADER 16
#define RING_MAX_SLOT 128
#define RING_N 2000000L

struct ring {
    _Alignas(64) _Atomic uint64_t head;
    _Alignas(64) _Atomic uint64_t tail;
    _Alignas(64) _Atomic uint64_t plock;
    _Alignas(64) _Atomic uint64_t clock;
    _Alignas(64) unsigned char slot[RING_SLOTS][RING_MAX_SLOT];
};

/* One variant of the ring: its slot size, the bytes a message fills in a
 * slot (RING_MSG, or RING_HEADER + RING_MSG), and whether each side locks
 * around every message. */
struct ring_variant {
    size_t slot, bytes;
    bool locked;
};

/* The bare ring: 64-byte messages in 64-byte slots. */
static const struct ring_variant ring_bare = {RING_MSG, RING_MSG, false};

static inline void ring_relax(void)
{
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
}

/* Takes (and then releases) a lock only this side ever takes. */
static inline void ring_lock(_Atomic uint64_t *l, bool on)
{
    uint64_t free_word = 0;
    if (on)
        atomic_compare_exchange_strong(l, &free_word, 1);
}

static inline void ring_unlock(_Atomic uint64_t *l, bool on)
{
    if (on)
        atomic_exchange(l, 0);
}

/* Copies one message of v: a copy of constant size, as a queue of
 * fixed-size messages makes it (inline moves; a memcpy call of variable
 * size measured up to 3x slower here, floor and all). */
static inline void ring_copy(void *dst, const void *src, struct ring_variant v)
{
    if (v.bytes == RING_MSG)
        memcpy(dst, src, RING_MSG);
    else
        memcpy(dst, src, RING_HEADER + RING_MSG);
}

static inline unsigned char *ring_slot(struct ring *r, struct ring_variant v,
                                       uint64_t i)
{
    return (unsigned char *)r->slot + (i % RING_SLOTS) * v.slot;
}

/* Messages per second of RING_N messages through a fresh ring of variant
 * v, from this process to a child. */
static inline double ring_once(struct ring_variant v)
{
    struct ring *r = mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED)
        exit(1);
    double t0 = bench_now();
    pid_t pid = fork();
    if (pid == 0) { /* consumer */
        unsigned char buf[RING_HEADER + RING_MSG];
        uint64_t head = 0, tail = 0;
        while (head < (uint64_t)RING_N) {
            while (head == tail) {
                tail = atomic_load_explicit(&r->tail, memory_order_acquire);
                if (head == tail)
                    ring_relax();
            }
            ring_lock(&r->clock, v.locked);
            ring_copy(buf, ring_slot(r, v, head), v);
            atomic_store_explicit(&r->head, ++head, memory_order_release);
            ring_unlock(&r->clock, v.locked);
        }
        _exit(buf[v.bytes - 1] == 1 ? 0 : 1);
    }
    unsigned char msg[RING_HEADER + RING_MSG];
    memset(msg, 1, sizeof msg);
    uint64_t tail = 0, head = 0;
    for (long i = 0; i < RING_N; i++) {
        while (tail - head == RING_SLOTS) {
            head = atomic_load_explicit(&r->head, memory_order_acquire);
            if (tail - head == RING_SLOTS)
                ring_relax();
        }
        ring_lock(&r->plock, v.locked);
        ring_copy(ring_slot(r, v, tail), msg, v);
        atomic_store_explicit(&r->tail, ++tail, memory_order_release);
        ring_unlock(&r->plock, v.locked);
    }
    waitpid(pid, NULL, 0);
    double dt = bench_now() - t0;
    munmap(r, sizeof *r);
    return (double)RING_N / dt;
}

#endif
