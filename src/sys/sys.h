/*
 * sys/sys.h - the raw Linux system interfaces mproc is built on: the
 * ground floor of the library.
 *
 * Only files under src/sys/ make system calls (scripts/check-layers
 * checks it), one file per kernel resource: clock, futex, mem (shared
 * mappings and their pages), membarrier, pidfd, proc (this process and
 * its children), robust (the robust-futex list), signal, random,
 * posix_shm (named blocks), socket, fd.
 * This header includes nothing of mproc but its error codes: the floor
 * knows no area. Every wrapper returns a negative errno value (or the
 * MPROC_E* code its line states) on failure and never leaves errno as its
 * result, retries or absorbs EINTR as documented, and creates every file
 * descriptor close-on-exec.
 *
 * Time is kept as int64_t nanoseconds on CLOCK_MONOTONIC. A deadline is
 * such an absolute time; MPROC__NO_DEADLINE means "never". A blocking
 * call takes one deadline computed once at entry, so retries after a
 * signal or a spurious wakeup never extend the total wait.
 */
#ifndef MPROC_SYS_H
#define MPROC_SYS_H

#include "mproc/errors.h"

#include <pthread.h>
#include <signal.h>
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

/*
 * mproc__futex_requeue - move up to n sleepers (waking none) from the
 * process-shared futex from to to, if *from still equals expected.
 * Returns the number moved, or a negative errno (-EAGAIN: *from differed).
 */
int mproc__futex_requeue(_Atomic uint32_t *from, uint32_t expected,
                         _Atomic uint32_t *to, int n);

/* mem.c: shared mappings and their pages. */

/* Flags of mproc__shared_map. */
#define MPROC__MAP_SPARSE 1u /* reserve no swap: pages are taken on touch */

/*
 * mproc__shared_map - create an anonymous shared mapping of size bytes
 * backed by a memfd named name (shown in /proc/PID/maps), zero-filled.
 * *addr receives the mapping; *fd the close-on-exec memfd, or it is closed
 * when fd is NULL. Returns 0, MPROC_EINVAL for size 0, MPROC_ENOMEM when
 * the size cannot be backed or mapped, or another negative errno (-EMFILE
 * when even the raised limit is reached: mproc__nofile_raise). Nothing is
 * left open or mapped on failure.
 */
int mproc__shared_map(const char *name, size_t size, unsigned flags,
                      void **addr, int *fd);

/*
 * mproc__shared_attach - map the whole of the memfd fd (one that
 * mproc__shared_map made, here or in another process) shared, read and
 * write: *addr the mapping, *size its length. fd stays open and the
 * caller's. Returns 0; MPROC_EINVAL for an empty file; MPROC_ENOMEM when
 * it cannot be mapped; another negative errno value (-EBADF).
 */
int mproc__shared_attach(int fd, void **addr, size_t *size);

/* mproc__shared_unmap - unmap what mproc__shared_map mapped (NULL: no-op). */
void mproc__shared_unmap(void *addr, size_t size);

/*
 * mproc__mem_populate - allocate the pages of [addr, addr+len) of a shared
 * mapping now (page-aligned addr). Returns 0, or MPROC_ENOMEM when the
 * memory is not there (where a write would have raised SIGBUS). On kernels
 * without MADV_POPULATE_WRITE it does nothing and returns 0.
 */
int mproc__mem_populate(void *addr, size_t len);

/*
 * mproc__mem_discard - give back the pages of [addr, addr + len) of a
 * shared memfd mapping (both page-aligned): they read as zeros afterwards,
 * in every process that maps them. Returns 0 or a negative errno value.
 */
int mproc__mem_discard(void *addr, size_t len);

/*
 * mproc__mem_nodump - leave [addr, addr + len) (page-aligned) out of this
 * process's core dumps, and its forked children's. Returns 0 or a
 * negative errno value.
 */
int mproc__mem_nodump(void *addr, size_t len);

/*
 * mproc__wipeonfork_page - a private page of zeros that every child forked
 * later receives zero-filled again (MADV_WIPEONFORK), or NULL when the
 * kernel refuses the advice or memory is short. Never freed.
 */
void *mproc__wipeonfork_page(void);

/* mproc__page_size - the size of a page in bytes. */
size_t mproc__page_size(void);

/* mproc__phys_mem - the machine's physical memory in bytes (0 unknown). */
uint64_t mproc__phys_mem(void);

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

/* proc.c: this process, its children, and other processes by PID. */

/* mproc__exit - end the calling process at once (exit_group), as _exit. */
_Noreturn void mproc__exit(int code);

/* mproc__getpid - the calling process's PID (a system call each time). */
pid_t mproc__getpid(void);

/* mproc__getppid - the calling process's parent's PID. */
pid_t mproc__getppid(void);

/*
 * mproc__fork - fork the calling process. Returns the child's PID in the
 * parent, 0 in the child, or a negative errno value.
 */
pid_t mproc__fork(void);

/*
 * mproc__die_with_parent - in a child just forked by parent: have the
 * kernel SIGKILL the caller when its parent thread dies, and die at once
 * if parent has already gone.
 */
void mproc__die_with_parent(pid_t parent);

/*
 * mproc__kill_and_reap - SIGKILL a child of the caller, by PID, and reap
 * it (EINTR retried): for a child that cannot be tracked.
 */
void mproc__kill_and_reap(pid_t pid);

/*
 * mproc__proc_stat - the state letter and start time (clock ticks since
 * boot) of process pid, from /proc/PID/stat. Returns false when it cannot
 * be read: the process does not exist, or /proc is unreadable.
 */
bool mproc__proc_stat(pid_t pid, char *state, uint64_t *start);

/*
 * mproc__pid_exists - whether some process (a zombie included) has PID
 * pid: false only when the kernel says there is none (ESRCH).
 */
bool mproc__pid_exists(pid_t pid);

/*
 * mproc__spawn - start the program at path in a new process (posix_spawn:
 * no copy of the caller's page tables) with argv and envp. The fds in keep
 * stay open in it under the same numbers (every other close-on-exec fd is
 * closed). Returns 0 and sets *pid, or a negative errno value (-ENOENT:
 * no program at path; -EAGAIN: out of processes).
 */
int mproc__spawn(const char *path, char *const argv[], char *const envp[],
                 const int *keep, size_t nkeep, pid_t *pid);

/* mproc__open_self_exe - a close-on-exec descriptor of the program this
 * process runs (the file, even if it was since replaced or deleted); the
 * fd or a negative errno value. */
int mproc__open_self_exe(void);

/* mproc__set_name - the calling thread's name as ps and top show it (the
 * kernel keeps its first 15 bytes). */
void mproc__set_name(const char *name);

/* mproc__getuid - the calling process's real user ID. */
uid_t mproc__getuid(void);

/* mproc__cpu_count - the CPUs this process may run on (its affinity
 * mask), else the CPUs online; at least 1. */
int mproc__cpu_count(void);

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

/* robust.c: the kernel's robust-futex list, through glibc's robust
 * process-shared mutexes (glibc owns each thread's list). */

/* A word the kernel marks when the thread holding it dies. It lives in
 * shared memory; nobody ever sleeps on it. */
typedef struct mproc__robust {
    pthread_mutex_t mutex;
} mproc__robust;

/* mproc__robust_init - make *r a free robust word (process-shared).
 * Returns 0 or a negative errno value. */
int mproc__robust_init(mproc__robust *r);

/*
 * mproc__robust_try - take *r for the calling thread if it is free, or if
 * the thread that held it has died, without waiting or a system call.
 * Returns 0 when taken; MPROC_EOWNERDEAD when taken from a holder that
 * died (the word is sound again: its release frees it); MPROC_EBUSY while
 * a live thread holds it, the calling one included; another negative
 * errno value if the word is unusable.
 */
int mproc__robust_try(mproc__robust *r);

/* mproc__robust_release - free *r, which the calling thread holds. */
void mproc__robust_release(mproc__robust *r);

/* signal.c: the calling thread's signal mask. */

/* mproc__sigterm_block - block SIGTERM in the calling thread; *old gets
 * the previous mask, for mproc__sigmask_restore. */
void mproc__sigterm_block(sigset_t *old);

/* mproc__sigmask_restore - set the calling thread's signal mask to *old. */
void mproc__sigmask_restore(const sigset_t *old);

/* mproc__signals_unblock_all - block no signal in the calling thread. */
void mproc__signals_unblock_all(void);

/* mproc__sigterm_default - SIGTERM's default action (ending the process),
 * whatever handler was installed, and unblocked in the calling thread. */
void mproc__sigterm_default(void);

/* random.c */

/* mproc__random - fill buf with n bytes from getrandom (blocking only until
 * the kernel's pool is first seeded; EINTR retried). 0 or a negative errno. */
int mproc__random(void *buf, size_t n);

/* posix_shm.c: named POSIX shared memory, as CPython names it. */

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
 * *addr the mapping. Returns 0; MPROC_ENOENT; MPROC_EINVAL for a block of size
 * 0; MPROC_ENOMEM; another negative errno value. Nothing stays open.
 */
int mproc__shm_open(const char *path, size_t *size, void **addr);

/* mproc__shm_unlink - remove the name path; 0 or a negative errno. */
int mproc__shm_unlink(const char *path);

/* fd.c: file descriptors and names in the file system. */

/* mproc__close - close fd (EINTR is not retried: Linux has closed it). */
void mproc__close(int fd);

/* mproc__unlink - remove the file path; 0 or a negative errno value. */
int mproc__unlink(const char *path);

/* mproc__memfd - a new, empty, close-on-exec memory file named name (shown
 * in /proc/PID/fd); the fd or a negative errno value. */
int mproc__memfd(const char *name);

/* mproc__pwrite_all - write n bytes at offset off of fd, whole (EINTR and
 * short writes retried); 0 or a negative errno value. */
int mproc__pwrite_all(int fd, const void *buf, size_t n, uint64_t off);

/* mproc__pread_all - read n bytes at offset off of fd, whole; 0, -EPROTO
 * when the file ends first, or a negative errno value. */
int mproc__pread_all(int fd, void *buf, size_t n, uint64_t off);

/* mproc__fd_id - the inode number of the file fd names (unique on the
 * machine while the file exists); 0 or a negative errno value. */
int mproc__fd_id(int fd, uint64_t *id);

/*
 * mproc__dup - a close-on-exec duplicate of fd (the lowest free number).
 * Returns it, or a negative errno value (-EBADF; -EMFILE when even the
 * raised limit is reached).
 */
int mproc__dup(int fd);

/*
 * mproc__nofile_raise - after a call that creates a descriptor failed with
 * EMFILE: raise this process's soft RLIMIT_NOFILE to its hard limit (as
 * Go's runtime does at start). Returns true when the limit rose, so that
 * one more try may succeed; false when it was at the hard limit already
 * or could not be raised. The calls here that create descriptors for
 * shared objects (memfd, dup, socketpair) call it themselves.
 */
bool mproc__nofile_raise(void);

/*
 * mproc__write_stderr - write the len bytes at buf to standard error, whole
 * (EINTR and short writes retried), for the event log. A closed pipe gives
 * -EPIPE and raises no SIGPIPE (it is blocked in the calling thread for the
 * write, and a SIGPIPE the write left pending is taken back). Keeps errno.
 * Returns 0 or a negative errno value.
 */
int mproc__write_stderr(const void *buf, size_t len);

/* socket.c - connections (area: connection). Every fd is close-on-exec;
 * every send uses MSG_NOSIGNAL, so no call here can raise SIGPIPE. */

struct iovec;
struct sockaddr;

/* mproc__socketpair - a connected AF_UNIX stream pair; 0 or -errno (the
 * soft descriptor limit is raised once on EMFILE, mproc__nofile_raise). */
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

/*
 * mproc__sock_resolve - the first stream address of host and numeric port
 * (getaddrinfo; a name may need a DNS lookup) into sa, *salen in/out.
 * Returns 0, MPROC_ENOENT for an unknown host, MPROC_ENOMEM, or -errno.
 */
int mproc__sock_resolve(const char *host, const char *port, struct sockaddr *sa,
                        unsigned *salen);

/* mproc__sock_name - getsockname into sa (*salen in/out); 0 or -errno. */
int mproc__sock_name(int fd, struct sockaddr *sa, unsigned *salen);

/* mproc__sock_nodelay - set TCP_NODELAY; 0 or -errno. */
int mproc__sock_nodelay(int fd);

/* mproc__shutdown - shutdown(fd, how); 0 or -errno. */
int mproc__shutdown(int fd, int how);

/* How many descriptors one mproc__send_fds may carry (the kernel's
 * SCM_MAX_FD is 253). */
#define MPROC__FDS_PER_SEND 250

/*
 * mproc__send_fds - send len (>= 1) bytes of data and n (<= MPROC__FDS_PER_
 * SEND) descriptors with them over a unix stream socket, in one message
 * when the socket takes it whole. Returns 0, -EINVAL for too many or no
 * data, or -errno (-EPIPE: the peer is gone).
 */
int mproc__send_fds(int fd, const void *data, size_t len, const int *fds,
                    size_t n);

/*
 * mproc__recv_fds - receive what one mproc__send_fds sent: exactly len
 * bytes into data, and its descriptors (up to cap) into fds, close-on-
 * exec, until the deadline. Returns how many descriptors came; -EPIPE at
 * end of stream; -EMFILE when they did not fit this process's descriptor
 * table, -EPROTO when more than cap came (none is left open on an error);
 * -ETIMEDOUT; or -errno.
 */
int mproc__recv_fds(int fd, void *data, size_t len, int *fds, size_t cap,
                    int64_t deadline);

/* mproc__peer_cred - the PID and user of a unix socket's peer, as of its
 * connect; 0 or -errno. */
int mproc__peer_cred(int fd, pid_t *pid, uid_t *uid);

#endif /* MPROC_SYS_H */
