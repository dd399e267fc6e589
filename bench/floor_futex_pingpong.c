/*
 * floor_futex_pingpong.c - the floor under a blocking queue round trip:
 * two processes hand a turn back and forth through a futex word in shared
 * memory, each sleeping in FUTEX_WAIT until woken (no spinning).
 */
#include "bench.h"
#include "futex.h"

#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 100000L

static double once(void)
{
    _Atomic uint32_t *turn = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (turn == MAP_FAILED)
        exit(1);
    pid_t pid = fork();
    if (pid == 0) {
        for (long i = 0; i < N; i++) {
            bench_futex_wait(turn, 0); /* wait for the request */
            atomic_store(turn, 0);
            bench_futex_wake(turn);
        }
        _exit(0);
    }
    double t0 = bench_now();
    for (long i = 0; i < N; i++) {
        atomic_store(turn, 1);
        bench_futex_wake(turn);
        bench_futex_wait(turn, 1); /* wait for the reply */
    }
    double dt = bench_now() - t0;
    waitpid(pid, NULL, 0);
    munmap((void *)turn, 4096);
    return dt / (double)N * 1e6;
}

int main(void)
{
    double v[REPS];
    for (int i = 0; i < REPS; i++)
        v[i] = once();
    bench_report("queue ping-pong round trip", "futex ping-pong (floor)",
                 bench_median(v, REPS), "us");
    return 0;
}
