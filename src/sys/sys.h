/*
 * sys/sys.h - the raw Linux system interfaces mproc is built on.
 *
 * Only files under src/sys/ issue these system calls directly. Every
 * wrapper returns a negative errno value on failure (never sets errno as
 * its result), retries or absorbs EINTR as documented, and creates every
 * file descriptor close-on-exec.
 *
 * Time is kept as int64_t nanoseconds on CLOCK_MONOTONIC. A deadline is
 * such an absolute time; MPROC__NO_DEADLINE means "never". A blocking
 * call takes one deadline computed once at entry, so retries after a
 * signal or a spurious wakeup never extend the total wait.
 */
#ifndef MPROC_SYS_H
#define MPROC_SYS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MPROC__NO_DEADLINE INT64_MAX

/* clock.c */

/* Nanoseconds on CLOCK_MONOTONIC. */
int64_t mproc__now(void);

/*
 * mproc__deadline - turn a user timeout in seconds into a deadline.
 * Negative: MPROC__NO_DEADLINE; 0: now (try once); positive: now + timeout,
 * saturating at MPROC__NO_DEADLINE. Returns 0, or MPROC_EINVAL for NaN.
 */
int mproc__deadline(double timeout, int64_t *deadline);

/*
 * mproc__expired - the error for a wait that did not complete by its
 * deadline: MPROC_EAGAIN for a timeout of 0 (the nowait forms),
 * MPROC_ETIMEDOUT otherwise.
 */
int mproc__expired(double timeout);

/*
 * mproc__poll_in - wait until fd is readable or the deadline passes.
 * Returns 1 when readable (or hung up), 0 when the deadline passed, or a
 * negative errno value. EINTR is retried against the same deadline.
 */
int mproc__poll_in(int fd, int64_t deadline);

/*
 * mproc__nap - sleep a while before re-checking a condition that offers no
 * way to be woken (the fallback when a system lacks pidfds). *nap holds the
 * last nap's length (start it at 0); each nap doubles it, from 1 ms up to
 * 64 ms, never past the deadline. Returns 1 after napping, 0 when the
 * deadline has passed.
 */
int mproc__nap(int64_t deadline, int64_t *nap);

/* futex.c: process-shared futexes (no FUTEX_PRIVATE_FLAG). */

/*
 * mproc__futex_wait - sleep while *word == expected, until woken or the
 * deadline. Returns 0 when woken, when *word already differed, or when a
 * signal interrupted the sleep (the caller re-checks its condition);
 * MPROC_ETIMEDOUT once the deadline has passed.
 */
int mproc__futex_wait(_Atomic uint32_t *word, uint32_t expected,
                      int64_t deadline);

/* mproc__futex_wake - wake up to n sleepers on word; returns the count. */
int mproc__futex_wake(_Atomic uint32_t *word, int n);

/* pidfd.c */

/* mproc__pidfd_open - a close-on-exec pidfd for pid, or a negative errno
 * (-ENOSYS or -EPERM where the system refuses pidfds). */
int mproc__pidfd_open(pid_t pid);

/*
 * mproc__child_signal - send sig to a child of the caller through its
 * pidfd, or by PID when pidfd is -1. Returns 0 or a negative errno value.
 */
int mproc__child_signal(int pidfd, pid_t pid, int sig);

/*
 * mproc__child_reap - collect the exit status of a child of the caller,
 * named by its pidfd, or by PID when pidfd is -1.
 * block: wait for it to end (EINTR retried); otherwise only look.
 * On reaping, *exitcode is the exit status (0..255) or -N if signal N
 * killed it. Returns 1 when reaped, 0 when still running (non-blocking
 * only), or a negative errno value (-ECHILD: not our child, or reaped).
 */
int mproc__child_reap(int pidfd, pid_t pid, bool block, int *exitcode);

/* proc.c: process identity and life. */

/* mproc__exit - end the calling process at once (exit_group), as _exit. */
_Noreturn void mproc__exit(int code);

/*
 * A process token names one process for the life of the machine: its PID
 * in the low 32 bits and its start time (clock ticks since boot, from
 * /proc/PID/stat) in the high 32, so a recycled PID gets a new token.
 * 0 names no process. Tokens are what shared structures record as owners.
 */

/* mproc__self_token - the calling process's token (cached per process). */
uint64_t mproc__self_token(void);

/*
 * mproc__token_alive - whether the process named by token still runs.
 * False once it has exited (a zombie counts as dead) or its PID has been
 * reused. Costs an open and read of /proc: for slow paths only.
 */
bool mproc__token_alive(uint64_t token);

/* memfd.c */

/* Flags of mproc__shared_map. */
#define MPROC__MAP_SPARSE 1u /* reserve no swap: pages are taken on touch */

/*
 * mproc__shared_map - create an anonymous shared mapping of size bytes
 * backed by a memfd named name (shown in /proc/PID/maps), zero-filled.
 * *addr receives the mapping; *fd the close-on-exec memfd, or it is closed
 * when fd is NULL. Returns 0, MPROC_EINVAL for size 0, MPROC_ENOMEM when
 * the size cannot be backed or mapped, or another negative errno (EMFILE).
 * Nothing is left open or mapped on failure.
 */
int mproc__shared_map(const char *name, size_t size, unsigned flags,
                      void **addr, int *fd);

/* mproc__shared_unmap - unmap what mproc__shared_map mapped. */
void mproc__shared_unmap(void *addr, size_t size);

/* discard.c (pool) */

/*
 * mproc__shared_discard - give back the pages of [addr, addr + len) of a
 * mapping made by mproc__shared_map (both page-aligned): they read as
 * zeros afterwards, in every process that maps them. Returns 0 or a
 * negative errno value.
 */
int mproc__shared_discard(void *addr, size_t len);

#endif /* MPROC_SYS_H */
