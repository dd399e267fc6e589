/*
 * check_main.h - what every test executable shares: the Check runner and a
 * few process-level probes.
 */
#ifndef MPROC_CHECK_MAIN_H
#define MPROC_CHECK_MAIN_H

#include <check.h>
#include <dirent.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

/* Runs suite s in fork mode (each test in its own process, with a
 * timeout); returns the process exit status. */
static inline int run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* Seconds on CLOCK_MONOTONIC. */
static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The number of open file descriptors of the calling process. */
static inline int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n - 3; /* ".", ".." and the directory's own fd */
}

/* Reaps the child pid; returns its exit status, or 128 + the signal that
 * killed it. */
static inline int child_exit_status(pid_t pid)
{
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#endif /* MPROC_CHECK_MAIN_H */
