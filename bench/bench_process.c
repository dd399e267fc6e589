/*
 * bench_process.c - Process start+join of a child that returns at once:
 * mproc, and the floor (bare fork+waitpid) measured in the same program so
 * that both fork the same address space.
 */
#include "bench.h"

#include <mproc.h>

#include <sys/wait.h>
#include <unistd.h>

#define N 1000

static int nothing(void *arg, size_t len)
{
    (void)arg;
    (void)len;
    return 0;
}

static int mproc_round(void)
{
    mproc_process *p;
    int rc = mproc_process_create(&p, nothing, NULL, 0, NULL);
    if (rc == 0)
        rc = mproc_process_start(p);
    if (rc == 0)
        rc = mproc_process_join(p, MPROC_FOREVER);
    mproc_process_destroy(p);
    return rc;
}

static int floor_round(void)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    return pid > 0 && waitpid(pid, NULL, 0) == pid ? 0 : -1;
}

/* Microseconds per round of fn over N rounds, or -1 on failure. */
static double measure(int (*fn)(void))
{
    double t0 = bench_now();
    for (int i = 0; i < N; i++)
        if (fn() != 0)
            return -1;
    return (bench_now() - t0) / N * 1e6;
}

/* The two are measured in alternating reps, so both see the same noise. */
int main(void)
{
    double floor_us[REPS], mproc_us[REPS];
    for (int r = 0; r < REPS; r++) {
        floor_us[r] = measure(floor_round);
        mproc_us[r] = measure(mproc_round);
        if (floor_us[r] < 0 || mproc_us[r] < 0)
            return 1;
    }
    bench_report("process start+join", "fork+waitpid (floor)",
                 bench_median(floor_us, REPS), "us");
    bench_report("process start+join", "mproc", bench_median(mproc_us, REPS),
                 "us");
    return 0;
}
