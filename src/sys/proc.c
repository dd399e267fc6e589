/*
 * proc.c - process identity that survives PID reuse, and a bare exit.
 *
 * A token is (start time << 32) | PID, read from /proc/PID/stat. The start
 * time is fixed for a process's life and differs for a process that later
 * gets the same PID, unless both start within one clock tick (10 ms) of
 * each other after the PID space wrapped - not a case worth a syscall on
 * every lock. The calling process's token is cached with the PID it was
 * computed for, so a forked child computes its own on first use.
 */
#include "../internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

void mproc__exit(int code)
{
    /* Through syscall(), which the library has already bound, rather than
     * _exit, whose first call in a forked child would bind it lazily and
     * write the GOT (a copy-on-write fault that costs more than a start). */
    for (;;)
        syscall(SYS_exit_group, code);
}

/*
 * Reads the state letter and start time of pid from /proc/PID/stat.
 * Returns false when the process does not exist.
 */
static bool read_stat(pid_t pid, char *state, uint64_t *start)
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

static uint64_t make_token(pid_t pid, uint64_t start)
{
    return (start << 32) | (uint32_t)pid;
}

uint64_t mproc__self_token(void)
{
    static _Atomic uint64_t cached; /* token of the PID in its low bits */
    pid_t pid = getpid();
    uint64_t token = atomic_load_explicit(&cached, memory_order_relaxed);
    if (token != 0 && (pid_t)(uint32_t)token == pid)
        return token;
    char state;
    uint64_t start = 0;
    read_stat(pid, &state, &start);
    token = make_token(pid, start);
    atomic_store_explicit(&cached, token, memory_order_relaxed);
    return token;
}

bool mproc__token_alive(uint64_t token)
{
    pid_t pid = (pid_t)(uint32_t)token;
    char state;
    uint64_t start;
    if (token == 0 || !read_stat(pid, &state, &start))
        return false;
    return state != 'Z' && state != 'X' && make_token(pid, start) == token;
}
