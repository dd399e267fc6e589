/*
 * mproc/log.h - seeing what happens: Python's log_to_stderr in C.
 *
 * With logging on, mproc writes one line to standard error for each event
 * a user wants to see, each naming the process that writes it:
 *
 *     mproc[4242 MainProcess]: started Process-1 (pid 4243)
 *     mproc[4242 MainProcess]: Process-1 (pid 4243) exited with code 0
 *
 * MPROC_LOG_INFO (level 1) reports:
 * - a process started, and a process that ended, with its exit code or
 *   the signal that killed it (reported by the parent when it reaps it);
 * - a pool worker that ended, why (the signal or exit code, running a task
 *   or not, retired after maxtasksperchild, its initializer failed), and
 *   whether it is replaced;
 * - a lock taken over from a process that died holding it (a Lock, RLock,
 *   Condition, an array's lock, or a queue's internal lock);
 * - a queue repaired after a process died inside a put or a get;
 * - the forkserver restarted (a start found the server gone).
 * MPROC_LOG_DEBUG (level 2) adds what happens at a process's exit
 * (daemon children terminated, killed after their grace, children joined)
 * and a pool's create, close and terminate.
 *
 * The level comes from the environment variable MPROC_DEBUG, read once, at
 * the first event: unset, empty or 0 is off; 1 or "info" is
 * MPROC_LOG_INFO; 2 or "debug" is MPROC_LOG_DEBUG (a higher number too);
 * any other value is MPROC_LOG_INFO. mproc_log_to_stderr overrides it.
 * Children forked later inherit the level.
 *
 * Off (the default), nothing is ever written. Each line is one write(2)
 * of at most 512 bytes, so lines of several processes do not interleave;
 * a write to a closed pipe raises no SIGPIPE; errno is left as it was.
 * The check made where an event happens is one load and a branch, and no
 * event lies on the path of an uncontended lock, put or get.
 */
#ifndef MPROC_LOG_H
#define MPROC_LOG_H

#include "errors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The levels of mproc_log_to_stderr and MPROC_DEBUG. */
#define MPROC_LOG_OFF 0
#define MPROC_LOG_INFO 1  /* the events listed above */
#define MPROC_LOG_DEBUG 2 /* and exit-time handling, pool life cycle */

/*
 * mproc_log_to_stderr - Python's log_to_stderr(level): write a line to
 * standard error for each event at level or below.
 *
 * level: MPROC_LOG_OFF stops logging; MPROC_LOG_INFO, MPROC_LOG_DEBUG
 *        (a higher value counts as MPROC_LOG_DEBUG). It replaces what
 *        MPROC_DEBUG said, which is then never read.
 *
 * Applies to the calling process and the children it forks afterwards.
 * Returns 0; MPROC_EINVAL for a negative level. Thread-safe,
 * async-signal-safe.
 */
MPROC_API int mproc_log_to_stderr(int level);

/*
 * mproc_log_level - the level in force: the last mproc_log_to_stderr, else
 * what MPROC_DEBUG says (read now if it has not been yet). Python's
 * get_logger().getEffectiveLevel(), in mproc's levels. Thread-safe.
 */
MPROC_API int mproc_log_level(void);

#ifdef __cplusplus
}
#endif

#endif /* MPROC_LOG_H */
