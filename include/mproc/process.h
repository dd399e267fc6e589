/*
 * mproc/process.h - Process: Python's multiprocessing.Process in C.
 *
 * A process runs a target function in a forked child. The parent tracks it
 * by pidfd: join with a timeout polls the pidfd, the sentinel is the pidfd,
 * there is no SIGCHLD handler and no PID-reuse race. Start method: fork.
 *
 * Safety facts of mproc_process:
 * - Threads: every call is thread-safe; two threads may join the same
 *   process at once. Start with care in a threaded program: fork copies
 *   only the calling thread, as with Python's "fork" start method.
 * - Processes: a handle is meaningful only in the process that started it.
 *   In a forked child the copies of its parent's handles answer
 *   MPROC_EINVAL (join, exitcode, signals) or false (is_alive), as
 *   Python's "can only join a child process"; the child may destroy them.
 * - Fork: a child begins with no children of its own; its name and
 *   identity are those of the process it runs.
 * - Crash: if the parent dies, non-daemon children run on (reparented to
 *   init, as in Python); daemon children die with it, even on SIGKILL.
 *
 * Lifecycle at exit, as in Python: when main returns or exit() is called
 * in a process that has started children (an atexit handler is installed at
 * the first start), and when a target returns in a child, that process
 * first terminates (SIGTERM) its running daemon children and then joins all
 * its running children. Unlike Python, a daemon still running 1 s after its
 * SIGTERM (it ignores or handles the signal) is killed with SIGKILL, so no
 * daemon can hang its parent's exit.
 */
#ifndef MPROC_PROCESS_H
#define MPROC_PROCESS_H

#include "errors.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mproc_process mproc_process;

/*
 * The function a child runs. arg points to the child's own copy of the
 * bytes given at create (NULL when arglen is 0). Its return value is the
 * child's exit code; as with _exit, only the low 8 bits survive (0..255).
 */
typedef int (*mproc_target)(void *arg, size_t arglen);

/* Options of mproc_process_create; a zeroed struct or NULL is Python's
 * defaults. */
typedef struct {
    const char *name; /* NULL: "Process-N" (a child's child: "Process-N:M") */
    bool daemon;      /* dies with its parent; may not start children */
} mproc_process_opts;

/*
 * mproc_process_create - make a process object that will run target.
 *
 * The arg bytes and the name are copied now: the caller's buffers may be
 * reused at once. Nothing runs until mproc_process_start. Creating a
 * process takes the next number of this process's child counter, as
 * Python does, whether or not it is started.
 *
 * Returns 0 and sets *out; MPROC_EINVAL if out or target is NULL, or arg is
 * NULL with arglen > 0; MPROC_ENOMEM. *out is untouched on failure.
 * Thread-safe.
 */
MPROC_API int mproc_process_create(mproc_process **out, mproc_target target,
                                   const void *arg, size_t arglen,
                                   const mproc_process_opts *opts);

/*
 * mproc_process_start - fork the child and run the target in it.
 *
 * Standard output and error are flushed first, so buffered text is not
 * written twice. Before forking, children of this process that have
 * already ended are reaped (their exit codes kept), so a program that
 * never joins leaves no zombies piling up. In the child, the target runs;
 * when it returns, the child terminates its daemon children, joins its
 * other children, flushes stdio and calls _exit with the target's value:
 * it never runs the parent's atexit handlers.
 *
 * A daemon child gets PR_SET_PDEATHSIG(SIGKILL) and re-checks its parent
 * right after, so it dies with its parent even if the parent is killed -9.
 * Note that the kernel sends that signal when the *thread* that started the
 * child exits: start daemons from a thread that outlives them.
 *
 * Returns 0; MPROC_EINVAL if already started, or if this process is itself
 * a daemon (daemons may not have children), or if p was started by another
 * process; MPROC_EAGAIN when fork fails for lack of resources (RLIMIT_NPROC)
 * - then p stays startable; MPROC_ENOMEM; or a negative errno value
 * (-EMFILE) when no pidfd could be opened, in which case the child was
 * killed and reaped before it could run far. Nothing leaks on failure.
 */
MPROC_API int mproc_process_start(mproc_process *p);

/*
 * mproc_process_join - wait for the child to end, then reap it.
 *
 * timeout: seconds; MPROC_FOREVER (any negative value) waits as long as
 * it takes; 0 only checks. May be called any number of times; once the
 * child is reaped it returns 0 at once.
 *
 * Returns 0 once the child has ended and been reaped; MPROC_ETIMEDOUT when
 * the timeout expired first (MPROC_EAGAIN for a timeout of 0), as Python's
 * join returns with the child still alive; MPROC_EINVAL before start, for a
 * process this process did not start (a child joining itself), or for a
 * NaN timeout. Thread-safe; never fails with EINTR.
 */
MPROC_API int mproc_process_join(mproc_process *p, double timeout);

/*
 * mproc_process_is_alive - true from start until the child has ended.
 * Reaps the child if it has ended. False before start and in a process that
 * did not start p. Thread-safe.
 */
MPROC_API bool mproc_process_is_alive(mproc_process *p);

/*
 * mproc_process_exitcode - the child's exit code, as Python's exitcode.
 *
 * *code: the target's return value (0..255) or exit() status; -N if signal
 * N killed it. Returns 0 and sets *code once the child has ended (reaping
 * it); MPROC_EAGAIN while it runs; MPROC_EINVAL before start, for a process
 * this process did not start, or if code is NULL.
 */
MPROC_API int mproc_process_exitcode(mproc_process *p, int *code);

/* mproc_process_pid - the child's PID once started; 0 before. */
MPROC_API pid_t mproc_process_pid(const mproc_process *p);

/* mproc_process_name - the name given at create, or "Process-N". Valid
 * until destroy. */
MPROC_API const char *mproc_process_name(const mproc_process *p);

/* mproc_process_daemon - whether the process is a daemon. */
MPROC_API bool mproc_process_daemon(const mproc_process *p);

/*
 * mproc_process_terminate, _kill, _interrupt - send SIGTERM, SIGKILL or
 * SIGINT (Python 3.14's interrupt) to the child through its pidfd.
 *
 * Returns 0, also when the child has already ended (nothing is sent);
 * MPROC_EINVAL before start or for a process this process did not start.
 * The pidfd makes a signal to a recycled PID impossible. Thread-safe.
 */
MPROC_API int mproc_process_terminate(mproc_process *p);
MPROC_API int mproc_process_kill(mproc_process *p);
MPROC_API int mproc_process_interrupt(mproc_process *p);

/*
 * mproc_process_sentinel - a pollable fd that becomes readable once the
 * child has ended (its pidfd), for poll/epoll/mproc_wait. It stays owned by
 * p and valid until destroy: do not close it. Returns the fd;
 * MPROC_EINVAL before start or for a process this process did not start;
 * -ENOSYS where the system refuses pidfds (valgrind before 3.20, some
 * seccomp profiles): processes then work by PID, without a sentinel.
 */
MPROC_API int mproc_process_sentinel(const mproc_process *p);

/*
 * mproc_process_destroy - release the process object.
 *
 * Accepts NULL. A child that has ended is reaped first. Returns 0;
 * MPROC_EBUSY while the child is still running (Python's close() raises
 * ValueError then): join, terminate or kill it first; p stays valid.
 * Using p after a successful destroy aborts with file and line when
 * detected. In a process that did not start p, only frees the copy.
 */
MPROC_API int mproc_process_destroy(mproc_process *p);

/*
 * mproc_current_process_name - the calling process's name: "MainProcess"
 * in the main process, its mproc_process_name in a child. Static storage,
 * valid for the life of the process.
 */
MPROC_API const char *mproc_current_process_name(void);

/* mproc_parent_pid - the PID of the process that started this one
 * (Python's parent_process().pid); 0 in the main process. */
MPROC_API pid_t mproc_parent_pid(void);

/*
 * mproc_active_children - the children of this process still running.
 *
 * Reaps those that have ended (as Python's active_children does), then
 * stores up to cap of the running ones in list (list may be NULL when cap
 * is 0). Returns the number of running children, which may exceed cap.
 * Thread-safe.
 */
MPROC_API int mproc_active_children(mproc_process **list, size_t cap);

/*
 * mproc_cpu_count - the CPUs this process may run on (its affinity mask),
 * as Python's os.process_cpu_count(); at least 1.
 */
MPROC_API int mproc_cpu_count(void);

#ifdef __cplusplus
}
#endif

#endif /* MPROC_PROCESS_H */
