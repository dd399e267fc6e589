/*
 * bench_process.c - Process start+join of a child that returns at once,
 * under each start method, beside its floors measured in the same program:
 * fork+waitpid (the floor of fork and forkserver) and posix_spawn+waitpid
 * of this same program (the floor of spawn: an exec of the program that
 * returns from main at once). Then the same from a parent with 2 GiB
 * resident, where fork copies page tables and spawn and forkserver
 * should not notice.
 */
#include "bench.h"

#include <mproc.h>

#include <spawn.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 400
#define N_BIG 40
#define BIG ((size_t)2 << 30)

static char **prog_argv;

static int nothing(void *arg, size_t len)
{
    (void)arg;
    (void)len;
    return 0;
}

static int mproc_round(mproc_start_method m)
{
    mproc_process_opts opts = {.start_method = m};
    mproc_process *p;
    int rc = mproc_process_create(&p, nothing, NULL, 0, &opts);
    if (rc == 0)
        rc = mproc_process_start(p);
    if (rc == 0)
        rc = mproc_process_join(p, MPROC_FOREVER);
    mproc_process_destroy(p);
    return rc;
}

static int fork_round(mproc_start_method m)
{
    (void)m;
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    return pid > 0 && waitpid(pid, NULL, 0) == pid ? 0 : -1;
}

static int posix_spawn_round(mproc_start_method m)
{
    (void)m;
    extern char **environ;
    static char exit_flag[] = "--exit";
    char *argv[] = {prog_argv[0], exit_flag, NULL};
    pid_t pid;
    if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, environ) != 0)
        return -1;
    return waitpid(pid, NULL, 0) == pid ? 0 : -1;
}

struct row {
    const char *impl;
    int (*round)(mproc_start_method);
    mproc_start_method m;
};

static const struct row rows[] = {
    {"fork+waitpid (floor)", fork_round, 0},
    {"posix_spawn+waitpid (floor)", posix_spawn_round, 0},
    {"mproc fork", mproc_round, MPROC_START_FORK},
    {"mproc forkserver", mproc_round, MPROC_START_FORKSERVER},
    {"mproc spawn", mproc_round, MPROC_START_SPAWN},
};
#define NROWS (sizeof rows / sizeof rows[0])

/* Microseconds per round of row r over n rounds, or -1 on failure. */
static double measure(const struct row *r, int n)
{
    double t0 = bench_now();
    for (int i = 0; i < n; i++)
        if (r->round(r->m) != 0)
            return -1;
    return (bench_now() - t0) / n * 1e6;
}

/* Every row, in alternating reps so all see the same noise. */
static int report(const char *figure, int n)
{
    double us[NROWS][REPS];
    for (int k = 0; k < REPS; k++)
        for (size_t r = 0; r < NROWS; r++)
            if ((us[r][k] = measure(&rows[r], n)) < 0)
                return 1;
    for (size_t r = 0; r < NROWS; r++)
        bench_report(figure, rows[r].impl, bench_median(us[r], REPS), "us");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--exit") == 0)
        return 0;
    mproc_init(&argc, &argv);
    prog_argv = argv;
    if (report("process start+join", N))
        return 1;
    void *big = mmap(NULL, BIG, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (big == MAP_FAILED)
        return 1;
    memset(big, 1, BIG); /* resident, as a large program's heap is */
    return report("process start+join, 2 GiB parent", N_BIG);
}
