/*
 * kit/log.c - the event log (kit/log.h), and mproc/log.h's two calls.
 *
 * One process-local word, the threshold, decides. It starts at
 * MPROC__LOG_UNREAD; the first mproc__log (or mproc_log_level) reads
 * MPROC_DEBUG and replaces it with a compare-and-swap, so an explicit
 * mproc_log_to_stderr that came first, or meanwhile, wins over the
 * environment. A line is formatted into a stack buffer and written by one
 * call into src/sys; nothing here allocates or locks.
 */
#include "log.h"

#include "../sys/sys.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Atomic int mproc__log_threshold = MPROC__LOG_UNREAD;

static _Atomic(const char *(*)(void)) namer;

/* The level MPROC_DEBUG asks for (mproc/log.h says how it is read). */
static int level_from_env(void)
{
    const char *v = getenv("MPROC_DEBUG");
    if (!v || !*v)
        return MPROC_LOG_OFF;
    if (strcmp(v, "debug") == 0)
        return MPROC_LOG_DEBUG;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n < 0) /* "info", "yes", ...: on */
        return MPROC_LOG_INFO;
    return n > MPROC_LOG_DEBUG ? MPROC_LOG_DEBUG : (int)n;
}

/* The threshold, MPROC_DEBUG read into it first if it was not yet. */
static int threshold(void)
{
    int t = atomic_load_explicit(&mproc__log_threshold, memory_order_relaxed);
    if (t != MPROC__LOG_UNREAD)
        return t;
    int env = level_from_env();
    if (atomic_compare_exchange_strong(&mproc__log_threshold, &t, env))
        return env;
    return t; /* mproc_log_to_stderr came meanwhile */
}

void mproc__log(int level, const char *fmt, ...)
{
    if (threshold() < level)
        return;
    int saved = errno;
    const char *(*name_of)(void) = atomic_load(&namer);
    char line[MPROC__LOG_LINE];
    int n = snprintf(line, sizeof line, "mproc[%d %s]: ", (int)mproc__getpid(),
                     name_of ? name_of() : "MainProcess");
    if (n < 0)
        n = 0;
    if ((size_t)n < sizeof line - 1) {
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof line - 1 - (size_t)n, fmt, ap);
        va_end(ap);
        if (m > 0)
            n += m;
    }
    if ((size_t)n > sizeof line - 2)
        n = sizeof line - 2; /* cut short: the newline still ends it */
    line[n++] = '\n';
    mproc__write_stderr(line, (size_t)n);
    errno = saved;
}

void mproc__log_set_namer(const char *(*fn)(void))
{
    if (atomic_load_explicit(&namer, memory_order_relaxed) != fn)
        atomic_store(&namer, fn);
}

const char *mproc__log_exit_text(int exitcode, char *buf, size_t n)
{
    if (exitcode >= 0) {
        snprintf(buf, n, "exited with code %d", exitcode);
    } else {
        const char *abbrev = sigabbrev_np(-exitcode);
        snprintf(buf, n, "killed by signal %d (SIG%s)", -exitcode,
                 abbrev ? abbrev : "?");
    }
    return buf;
}

void mproc__log_forkserver_restarted(int old_pid, int new_pid)
{
    MPROC__LOG(MPROC_LOG_INFO,
               "forkserver (pid %d) is gone; restarted as "
               "pid %d",
               old_pid, new_pid);
}

int mproc_log_to_stderr(int level)
{
    if (level < 0)
        return MPROC_EINVAL;
    atomic_store(&mproc__log_threshold,
                 level > MPROC_LOG_DEBUG ? MPROC_LOG_DEBUG : level);
    return 0;
}

int mproc_log_level(void)
{
    return threshold();
}
