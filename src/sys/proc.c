/*
 * proc.c - process identity that survives PID reuse, and a bare exit.
 *
 * A token is (start time << 32) | PID, read from /proc/PID/stat. The start
 * time is fixed for a process's life and differs for a process that later
 * gets the same PID, unless both start within one clock tick (10 ms) of
 * each other after the PID space wrapped - not a case worth a syscall on
 * every lock.
 *
 * The calling process's token is cached in a page marked MADV_WIPEONFORK:
 * the kernel hands every child (whatever way it was forked) that page
 * zero-filled, so a child computes its own token on first use, and the
 * parent's later calls cost one load - no getpid() system call, which is
 * what lets an uncontended lock stay free of syscalls. Should the kernel
 * refuse the advice, the cache falls back to keying on getpid().
 *
 * Liveness errs on the side of "alive": a process is reported dead only
 * when it is known to be - no such PID (kill(pid, 0) says ESRCH), a zombie,
 * or a PID now held by a process with another start time. A /proc that
 * cannot be read (not mounted, out of file descriptors) never turns a live
 * lock holder into a "dead" one whose lock would then be taken from it.
 */
#include "../internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

/* The token of the calling process, computed from /proc. */
static uint64_t compute_self_token(pid_t pid)
{
    char state;
    uint64_t start = 0;
    read_stat(pid, &state, &start);
    return make_token(pid, start);
}

/* A wipe-on-fork page holding the cached token, or NULL if unavailable. */
static _Atomic uint64_t *token_page(void)
{
    static _Atomic(_Atomic uint64_t *) page;
    static _Atomic bool unavailable;
    _Atomic uint64_t *p = atomic_load_explicit(&page, memory_order_acquire);
    if (p || atomic_load_explicit(&unavailable, memory_order_relaxed))
        return p;
    long size = sysconf(_SC_PAGESIZE);
    void *m = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL; /* try again next time */
    if (madvise(m, (size_t)size, MADV_WIPEONFORK) != 0) {
        munmap(m, (size_t)size);
        atomic_store_explicit(&unavailable, true, memory_order_relaxed);
        return NULL;
    }
    _Atomic uint64_t *expected = NULL;
    if (!atomic_compare_exchange_strong_explicit(
            &page, &expected, (_Atomic uint64_t *)m, memory_order_acq_rel,
            memory_order_acquire)) {
        munmap(m, (size_t)size); /* another thread won */
        return expected;
    }
    return (_Atomic uint64_t *)m;
}

uint64_t mproc__self_token(void)
{
    static _Atomic(_Atomic uint64_t *) fast;
    _Atomic uint64_t *slot = atomic_load_explicit(&fast, memory_order_acquire);
    if (slot) {
        uint64_t token = atomic_load_explicit(slot, memory_order_relaxed);
        if (token != 0)
            return token;
    }
    pid_t pid = getpid();
    slot = token_page();
    if (slot) {
        uint64_t token = compute_self_token(pid);
        atomic_store_explicit(slot, token, memory_order_relaxed);
        atomic_store_explicit(&fast, slot, memory_order_release);
        return token;
    }
    static _Atomic uint64_t cached; /* token of the PID in its low bits */
    uint64_t token = atomic_load_explicit(&cached, memory_order_relaxed);
    if (token != 0 && (pid_t)(uint32_t)token == pid)
        return token;
    token = compute_self_token(pid);
    atomic_store_explicit(&cached, token, memory_order_relaxed);
    return token;
}

bool mproc__token_alive(uint64_t token)
{
    pid_t pid = (pid_t)(uint32_t)token;
    char state;
    uint64_t start;
    if (token == 0 || pid <= 0)
        return false;
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return false; /* no process has this PID (zombies still do) */
    if (!read_stat(pid, &state, &start))
        /* Gone between the two looks, or /proc is unreadable: only the
         * first is proof of death. */
        return !(kill(pid, 0) != 0 && errno == ESRCH);
    /* A token made while /proc was unreadable has no start time: then the
     * PID alone must do. */
    return state != 'Z' && state != 'X' &&
           (token >> 32 == 0 || make_token(pid, start) == token);
}
