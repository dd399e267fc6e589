/*
 * kit/log.h - the event log behind mproc/log.h (MPROC_DEBUG,
 * mproc_log_to_stderr): one line per event, written to standard error.
 *
 * Where an event happens the code writes
 *
 *     MPROC__LOG(MPROC_LOG_INFO, "started %s (pid %d)", name, (int)pid);
 *
 * which costs one relaxed load and a branch predicted not taken while
 * logging is off. The threshold starts at MPROC__LOG_UNREAD, above every
 * level, so the first check of a process takes the slow path, which reads
 * MPROC_DEBUG once and stores the real threshold; every later check is the
 * load alone. The line is formatted on the stack (at most
 * MPROC__LOG_LINE bytes, cut short past that) and written with one
 * write(2) through src/sys (mproc__write_stderr), so it costs no
 * allocation and lines of several processes do not interleave.
 *
 * Each line starts "mproc[PID NAME]: ". The kit knows no process names:
 * the process area hands it mproc_current_process_name
 * (mproc__log_set_namer); until then the name is "MainProcess".
 *
 * Safety facts: every function is thread-safe; the threshold is a
 * process-local word a forked child inherits; nothing here takes a lock,
 * so an event may be logged from anywhere, with any lock held.
 */
#ifndef MPROC_KIT_LOG_H
#define MPROC_KIT_LOG_H

#include "mproc/log.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* The threshold before MPROC_DEBUG is read: every check takes the slow
 * path once. */
#define MPROC__LOG_UNREAD INT_MAX

/* The longest line written, its newline included. */
#define MPROC__LOG_LINE 512

/* Events at this level or below are written (MPROC__LOG_UNREAD until
 * MPROC_DEBUG is read). Use mproc__log_on, not the word. */
extern _Atomic int mproc__log_threshold;

/* mproc__log_on - whether an event of level might be written: one relaxed
 * load, a branch predicted false. */
static inline bool mproc__log_on(int level)
{
    return __builtin_expect(atomic_load_explicit(&mproc__log_threshold,
                                                 memory_order_relaxed) >= level,
                            0);
}

/*
 * mproc__log - write one line for an event of level, printf-style, unless
 * the level in force (MPROC_DEBUG is read here, once, on the first call)
 * is below it. Keeps errno. Call it through MPROC__LOG.
 */
void mproc__log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), cold));

/* Log an event: the check inline, the formatting out of line. */
#define MPROC__LOG(level, ...)                                                 \
    do {                                                                       \
        if (mproc__log_on(level))                                              \
            mproc__log(level, __VA_ARGS__);                                    \
    } while (0)

/*
 * mproc__log_set_namer - the function that names the calling process in
 * each line (the process area's mproc_current_process_name). Set once;
 * later calls with the same function write nothing.
 */
void mproc__log_set_namer(const char *(*namer)(void));

/*
 * mproc__log_exit_text - how a process ended, for a line: "exited with
 * code 3" for an exit code >= 0, "killed by signal 9 (SIGKILL)" for -9
 * (Python's exitcode convention). Writes into buf (n bytes); returns buf.
 */
const char *mproc__log_exit_text(int exitcode, char *buf, size_t n);

/*
 * mproc__log_forkserver_restarted - the event "forkserver restarted": the
 * forkserver start method calls it when it finds its server (old_pid)
 * gone and has started a new one (new_pid). Here, with the other events,
 * so that its line and level are fixed in one place (docs/api/log.md).
 */
void mproc__log_forkserver_restarted(int old_pid, int new_pid);

#endif /* MPROC_KIT_LOG_H */
