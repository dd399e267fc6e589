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

/* mproc__pidfd_open - a close-on-exec pidfd for pid, or a negative errno. */
int mproc__pidfd_open(pid_t pid);

/* mproc__pidfd_signal - send sig through a pidfd; 0 or a negative errno. */
int mproc__pidfd_signal(int pidfd, int sig);

/*
 * mproc__pidfd_reap - collect the exit status of the child behind pidfd.
 * block: wait for it to end (EINTR retried); otherwise only look.
 * On reaping, *exitcode is the exit status (0..255) or -N if signal N
 * killed it. Returns 1 when reaped, 0 when still running (non-blocking
 * only), or a negative errno value (-ECHILD: not our child, or reaped).
 */
int mproc__pidfd_reap(int pidfd, bool block, int *exitcode);

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

/* socket.c - connections (area: connection). Every fd is close-on-exec;
 * every send uses MSG_NOSIGNAL, so no call here can raise SIGPIPE. */

struct iovec;
struct sockaddr;

/* mproc__socketpair - a connected AF_UNIX stream pair; 0 or -errno. */
int mproc__socketpair(int sv[2]);

/*
 * mproc__send_all - send the iovecs whole (sendmsg, MSG_NOSIGNAL; the
 * array is updated as it goes). Blocking; EINTR retried. Returns 0, or
 * -errno with *sent (when not NULL) the bytes that went out before it.
 */
int mproc__send_all(int fd, struct iovec *iov, int iovcnt, size_t *sent);

/*
 * mproc__recv_exact - read exactly n bytes. With a deadline, waits by poll
 * and reads without blocking; without one, blocks in recv. EINTR retried.
 * Returns 0 when all n arrived; 1 on end of stream (*got says how many
 * came first); -ETIMEDOUT past the deadline; another -errno.
 */
int mproc__recv_exact(int fd, void *buf, size_t n, size_t *got,
                      int64_t deadline);

/*
 * mproc__poll_fds - wait until some of fds are readable (or hung up),
 * until the deadline. ready[i] is set 1/0. Returns the count, 0 at the
 * deadline, -EBADF for a negative or closed fd, -ENOMEM; EINTR retried.
 */
int mproc__poll_fds(const int *fds, size_t n, int64_t deadline, int *ready);

/*
 * mproc__sock_listen - a socket of family bound to sa and listening with
 * backlog; SO_REUSEADDR for TCP. Returns the fd or -errno.
 */
int mproc__sock_listen(const struct sockaddr *sa, unsigned salen, int backlog);

/*
 * mproc__sock_accept - accept one connection on a listening fd, waiting
 * until the deadline. Returns the fd, -ETIMEDOUT at the deadline, -errno.
 */
int mproc__sock_accept(int lfd, int64_t deadline);

/*
 * mproc__sock_connect - a socket connected to sa, waiting at most until
 * the deadline. Returns the fd, -ETIMEDOUT, or -errno (-ECONNREFUSED...).
 */
int mproc__sock_connect(const struct sockaddr *sa, unsigned salen,
                        int64_t deadline);

/* mproc__sock_name - getsockname into sa (*salen in/out); 0 or -errno. */
int mproc__sock_name(int fd, struct sockaddr *sa, unsigned *salen);

/* mproc__sock_nodelay - set TCP_NODELAY; 0 or -errno. */
int mproc__sock_nodelay(int fd);

/* mproc__shutdown - shutdown(fd, how); 0 or -errno. */
int mproc__shutdown(int fd, int how);

/* mproc__random - n bytes from getrandom (blocks only before the pool is
 * seeded at boot). Returns 0 or -errno. */
int mproc__random(void *buf, size_t n);

#endif /* MPROC_SYS_H */
