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

/* mproc__self_token - the calling process's token (cached per process in a
 * wipe-on-fork page: no system call after the first in each process). */
uint64_t mproc__self_token(void);

/*
 * mproc__token_alive - whether the process named by token still runs.
 * False once it has exited (a zombie counts as dead) or its PID has been
 * reused. Errs towards true: when /proc cannot be read (not mounted, out
 * of descriptors) a PID that exists counts as alive. Costs a kill(pid, 0)
 * and an open and read of /proc: for slow paths only.
 */
bool mproc__token_alive(uint64_t token);

/* membarrier.c */

/*
 * mproc__membarrier_register - register the calling process (its address
 * space: all its threads, and the children it forks from now on) to take
 * part in mproc__membarrier. Returns 0, or a negative errno value
 * (-ENOSYS where the kernel lacks the expedited global barrier, -EPERM
 * where a seccomp filter refuses it).
 */
int mproc__membarrier_register(void);

/*
 * mproc__membarrier - run a full memory barrier on every CPU that is
 * running a registered process, and return once all have. A registered
 * process may then pair a plain store-then-load (with only a compiler
 * barrier between) with the caller's store, mproc__membarrier, load: one
 * of the two loads sees the other side's store. Costs a system call and
 * an interrupt per such CPU. Returns 0 or a negative errno value.
 */
int mproc__membarrier(void);

/* random.c */

/* mproc__random - fill buf with n bytes from getrandom (blocking only until
 * the kernel's pool is first seeded; EINTR retried). 0 or a negative errno. */
int mproc__random(void *buf, size_t n);

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

/* shm.c (shared area): named POSIX shared memory, as CPython names it. */

/*
 * mproc__shm_create - create the block path ("/name") exclusively, mode
 * 0600, sized to size bytes and mapped MAP_SHARED at *addr. Returns 0;
 * -EEXIST when taken; MPROC_ENOMEM when the size cannot be backed or
 * mapped; another negative errno value. On failure the name is unlinked
 * again and nothing stays open or mapped.
 */
int mproc__shm_create(const char *path, size_t size, void **addr);

/*
 * mproc__shm_open - map the existing block path whole: *size its size,
 * *addr the mapping. Returns 0; -ENOENT; MPROC_EINVAL for a block of size
 * 0; MPROC_ENOMEM; another negative errno value. Nothing stays open.
 */
int mproc__shm_open(const char *path, size_t *size, void **addr);

/* mproc__shm_unlink - remove the name path; 0 or a negative errno. */
int mproc__shm_unlink(const char *path);

/* sync area: futex_requeue.c */

/*
 * mproc__futex_requeue - move up to n sleepers (waking none) from the
 * process-shared futex from to to, if *from still equals expected.
 * Returns the number moved, or a negative errno (-EAGAIN: *from differed).
 */
int mproc__futex_requeue(_Atomic uint32_t *from, uint32_t expected,
                         _Atomic uint32_t *to, int n);

/* mem.c (queue): pages of a shared mapping. */

/*
 * mproc__mem_populate - allocate the pages of [addr, addr+len) of a shared
 * mapping now (page-aligned addr). Returns 0, or MPROC_ENOMEM when the
 * memory is not there (where a write would have raised SIGBUS). On kernels
 * without MADV_POPULATE_WRITE it does nothing and returns 0.
 */
int mproc__mem_populate(void *addr, size_t len);

/*
 * mproc__mem_discard - give back the pages of [addr, addr+len) of a shared
 * memfd mapping (page-aligned): they read as zeros afterwards.
 */
void mproc__mem_discard(void *addr, size_t len);

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
 * mproc__recv_spin - for up to spin_ns, try again and again to read up to
 * n bytes without blocking. Returns the bytes read, or 0 when none came
 * (nothing in time, EOF or an error: a blocking read after it tells which).
 */
size_t mproc__recv_spin(int fd, void *buf, size_t n, int64_t spin_ns);

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

/* discard.c (pool) */

/*
 * mproc__shared_discard - give back the pages of [addr, addr + len) of a
 * mapping made by mproc__shared_map (both page-aligned): they read as
 * zeros afterwards, in every process that maps them. Returns 0 or a
 * negative errno value.
 */
int mproc__shared_discard(void *addr, size_t len);

/* nodump.c (pool, queue) */

/*
 * mproc__shared_nodump - leave [addr, addr + len) (page-aligned) out of
 * this process's core dumps, and its forked children's. Returns 0 or a
 * negative errno value.
 */
int mproc__shared_nodump(void *addr, size_t len);

#endif /* MPROC_SYS_H */
