/*
 * proc.c - this process, the children it forks, and other processes seen
 * through /proc.
 *
 * The child side of a fork runs as little as it can: the calls a forked
 * child makes here go through syscall() or functions the parent has
 * already bound, so no lazy symbol binding writes the GOT (a copy-on-write
 * fault that costs more than a start).
 */
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

void mproc__exit(int code)
{
    /* Through syscall(), which the library has already bound, rather than
     * _exit, whose first call in a forked child would bind it lazily. */
    for (;;)
        syscall(SYS_exit_group, code);
}

pid_t mproc__getpid(void)
{
    return getpid();
}

pid_t mproc__getppid(void)
{
    return getppid();
}

pid_t mproc__fork(void)
{
    pid_t pid = fork();
    return pid < 0 ? -errno : pid;
}

void mproc__die_with_parent(pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) /* the parent died before the prctl */
        raise(SIGKILL);
}

void mproc__kill_and_reap(pid_t pid)
{
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

bool mproc__proc_stat(pid_t pid, char *state, uint64_t *start)
{
    char path[32], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    /* "pid (comm) S ppid ..."; comm may hold spaces and parentheses. */
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return false;
    *state = p[2];
    p += 3; /* field 3, the state, is done; the start time is field 22 */
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p)
            return false;
        p++;
    }
    *start = strtoull(p, NULL, 10);
    return true;
}

bool mproc__pid_exists(pid_t pid)
{
    return !(kill(pid, 0) != 0 && errno == ESRCH);
}

int mproc__cpu_count(void)
{
    for (int ncpu = 1024; ncpu <= (1 << 20); ncpu *= 2) {
        cpu_set_t *set = CPU_ALLOC(ncpu);
        if (!set)
            break;
        size_t size = CPU_ALLOC_SIZE(ncpu);
        int rc = sched_getaffinity(0, size, set);
        int count = rc == 0 ? CPU_COUNT_S(size, set) : 0;
        CPU_FREE(set);
        if (rc == 0)
            return count > 0 ? count : 1;
        if (errno != EINVAL)
            break;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int mproc__spawn(const char *path, char *const argv[], char *const envp[],
                 const int *keep, size_t nkeep, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc != 0)
        return -rc;
    for (size_t k = 0; k < nkeep && rc == 0; k++)
        rc = posix_spawn_file_actions_adddup2(&fa, keep[k], keep[k]);
    if (rc == 0)
        rc = posix_spawn(pid, path, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    return -rc;
}

void mproc__set_name(const char *name)
{
    prctl(PR_SET_NAME, name);
}

uid_t mproc__getuid(void)
{
    return getuid();
}
