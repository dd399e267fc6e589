/*
 * mproc/process.h - Process: Python's multiprocessing.Process in C.
 *
 * A process runs a target function in a child. The parent tracks it by
 * pidfd: join with a timeout polls the pidfd, the sentinel is the pidfd,
 * there is no SIGCHLD handler and no PID-reuse race.
 *
 * Start methods, as Python's: fork (the default) forks the caller; spawn
 * execs this program afresh and runs the target inside mproc_init;
 * forkserver asks a server, itself started afresh on first use, to fork
 * the child from its clean state. Spawn and forkserver children inherit
 * none of the parent's threads, locks or heap (the reason to use them in
 * a threaded program), and their start does not grow with the parent's
 * memory. They need mproc_init as the first statement of main, and a
 * target in the program or a shared object the child can load by the
 * same path; objects reach them as references (mproc/ref.h).
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
#include "ref.h"

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

/* How a child is started: Python's start methods. */
typedef enum {
    MPROC_START_DEFAULT = 0, /* the process-wide one: mproc_get_start_method */
    MPROC_START_FORK,        /* fork the caller (the default) */
    MPROC_START_FORKSERVER,  /* fork a clean server process */
    MPROC_START_SPAWN,       /* exec this program afresh */
} mproc_start_method;

/* Options of mproc_process_create; a zeroed struct or NULL is Python's
 * defaults. */
typedef struct {
    const char *name; /* NULL: "Process-N" (a child's child: "Process-N:M") */
    bool daemon;      /* dies with its parent; may not start children */
    mproc_start_method start_method; /* MPROC_START_DEFAULT: the default */
} mproc_process_opts;

/*
 * mproc_init - where a process that began with an exec finds its work;
 * call it as the first statement of main, before any thread starts.
 *
 *     int main(int argc, char **argv)
 *     {
 *         mproc_init(&argc, &argv);
 *         ...
 *
 * In a child started by spawn it runs the child's target and exits with
 * its code; in the forkserver it serves; neither returns into main. In an
 * ordinary start of the program it keeps a copy of argv (spawn and the
 * forkserver exec the program with it) and returns 0 at once. Spawn and
 * forkserver starts fail with MPROC_ENOINIT in a program that never
 * called it.
 *
 * A spawned child whose target cannot be found (its shared object no
 * longer loads) writes why on stderr and exits with 255.
 *
 * Returns 0 (also when called again, which does nothing); MPROC_EINVAL if
 * argc or argv is NULL or argc < 1; MPROC_ENOMEM. Call it from the main
 * thread.
 */
MPROC_API int mproc_init(int *argc, char ***argv);

/*
 * mproc_set_start_method - the start method of every process and pool
 * created with MPROC_START_DEFAULT from now on (Python's
 * set_start_method). A child inherits its parent's setting under fork;
 * a spawned or forkserver child starts with fork.
 *
 * Returns 0; MPROC_EINVAL if m is not FORK, FORKSERVER or SPAWN;
 * MPROC_EBUSY if a method was set already and force is false (as
 * Python's "context has already been set"). Thread-safe.
 */
MPROC_API int mproc_set_start_method(mproc_start_method m, bool force);

/* mproc_get_start_method - the process-wide start method: the one set,
 * or MPROC_START_FORK. Never MPROC_START_DEFAULT. */
MPROC_API mproc_start_method mproc_get_start_method(void);

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
 * mproc_process_start - start the child and run the target in it, by the
 * process's start method (fork unless set).
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
 * Spawn and forkserver: the target is named by (loaded object, offset)
 * and found again in the child, in the program or a shared object it
 * loads by the same path; the arg bytes are copied; every object whose
 * reference this process has taken (mproc/ref.h) is handed over. The
 * child's stdio and working directory are the parent's under spawn, and
 * those of the process that first used the forkserver under forkserver.
 * A daemon started by the forkserver dies when its parent dies (even by
 * SIGKILL) or when the forkserver does.
 *
 * Returns 0; MPROC_EINVAL if already started, or if this process is itself
 * a daemon (daemons may not have children), or if p was started by another
 * process, or (spawn, forkserver) if the target lies in no loaded object
 * (code made at run time); MPROC_ENOINIT (spawn, forkserver) if this
 * program never called mproc_init; MPROC_EAGAIN when fork fails for lack
 * of resources (RLIMIT_NPROC), or when the forkserver died during the
 * request - then p stays startable, and the next start starts a new
 * forkserver; MPROC_ENOENT (forkserver) if the server could not load the
 * target's object; -ENOSYS (forkserver) where the system refuses pidfds
 * (valgrind before 3.20, some seccomp profiles), which the server tracks
 * its clients and children by; MPROC_ENOMEM; or a negative errno value
 * (-EMFILE when
 * no pidfd could be opened or the handed objects exceed the descriptor
 * limit, in which case no child runs). Nothing leaks on failure.
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
