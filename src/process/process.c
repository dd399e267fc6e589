/*
 * process.c - Process: children started by fork, tracked by pidfd.
 *
 * Design. Each process keeps one registry ("self"): its name, its identity
 * (the child counters from the main process down, "1:2" for Process-1:2),
 * its parent's PID, whether it is a daemon, the counter that numbers its
 * children, and the list of the children it started and has not destroyed.
 * One mutex guards all of it and every state change of a child handle.
 *
 * A handle moves CREATED -> STARTED -> REAPED. Start forks with the mutex
 * held (so concurrent starts and the registry copy the child inherits are
 * consistent) and opens the child's pidfd at once; the child cannot be
 * reaped before that, so the pidfd names exactly it. Reaping is waitid on
 * the pidfd, always under the mutex, so two joining threads cannot both
 * reap. The pidfd stays open until destroy: it is the sentinel, and a
 * signal sent through it can never reach a recycled PID. Where the system
 * refuses pidfds (valgrind < 3.20, some seccomp profiles), a child is
 * tracked by PID instead - as safe for our own unreaped child - and join
 * checks it in naps of growing length; there is no sentinel then.
 *
 * In the child, right after fork, the registry is reset: its mutex is
 * re-initialised (another thread of the parent may have held it) and the
 * list emptied, since the parent's children are not the child's; the
 * child's own handle (its copy of p) becomes self.current, the source of
 * its name and identity. The copied handles keep their parent's PID, so
 * calls on them answer MPROC_EINVAL.
 *
 * Exit: when main returns or exit() runs (atexit, installed at the first
 * start) or a target returns in a child, running daemon children get
 * SIGTERM and then every running child is reaped, as Python's
 * _exit_function does - except that a daemon still running a second after
 * its SIGTERM gets SIGKILL, where Python would wait for it for ever.
 * Nothing else runs in a child after its target: it
 * flushes stdio and calls _exit.
 *
 * Crash behaviour: the registry is per process and private; a child that
 * dies leaves only a zombie that the next start, join, is_alive, exitcode,
 * active_children or destroy reaps.
 */
#include "../kit/check.h"
#include "../kit/log.h"
#include "../sys/sys.h"
#include "start.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>

#define PROCESS_MAGIC 0x50524f43u /* "PROC" */
/* How long an ending process waits for a SIGTERMed daemon before SIGKILL. */
#define DAEMON_GRACE_NS ((int64_t)1000000000)

enum state { CREATED, STARTED, REAPED };

struct mproc_process {
    uint32_t magic;
    enum state state;
    mproc_target target;
    void *arg;
    size_t arglen;
    char *name;
    char *identity; /* "N" or "parent-identity:N" */
    bool daemon;
    pid_t parent; /* the process that created (and may start) it */
    pid_t pid;
    int pidfd;
    int statusfd; /* forkserver: where the exit code comes; else -1 */
    mproc_start_method method;
    int exitcode;
    mproc_process *prev, *next; /* registry, while STARTED or REAPED */
};

static struct {
    pthread_mutex_t lock;
    mproc_process *children;
    unsigned counter;
    mproc_process *current; /* this process's own handle; NULL in main */
    pid_t parent;
    bool atexit_installed;
} self = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* The process-wide start method; whether it was set. */
static _Atomic int default_method = MPROC_START_FORK;
static atomic_bool method_set;

static void lock(void)
{
    pthread_mutex_lock(&self.lock);
}
static void unlock(void)
{
    pthread_mutex_unlock(&self.lock);
}

static void check(const mproc_process *p)
{
    MPROC__CHECK(p->magic == PROCESS_MAGIC,
                 "mproc_process used after destroy or never created");
}

/* Whether p is a started child of the calling process. */
static bool ours(const mproc_process *p)
{
    return p->state != CREATED && p->parent == mproc__getpid();
}

/* Logs the end of p, just reaped. */
static void log_end(const mproc_process *p)
{
    char how[64];
    MPROC__LOG(MPROC_LOG_INFO, "%s (pid %d) %s", p->name, (int)p->pid,
               mproc__log_exit_text(p->exitcode, how, sizeof how));
}

/* Reaps p if it has ended; returns whether it has. Mutex held. */
static bool reap(mproc_process *p, bool block)
{
    assert(mproc__held(&self.lock));
    if (p->state != STARTED)
        return p->state == REAPED;
    int ended = p->statusfd >= 0
                    ? mproc__forkserver_status(p->statusfd, block, &p->exitcode)
                    : mproc__child_reap(p->pidfd, p->pid, block, &p->exitcode);
    if (ended == 1) {
        p->state = REAPED;
        log_end(p);
    }
    return p->state == REAPED;
}

/* The fd that becomes readable when p has ended: the forkserver's
 * connection, where the exit code arrives, or the pidfd (-1: none). */
static int end_fd(const mproc_process *p)
{
    return p->statusfd >= 0 ? p->statusfd : p->pidfd;
}

static void reap_finished(void)
{
    for (mproc_process *c = self.children; c; c = c->next)
        reap(c, false);
}

static void link_child(mproc_process *p)
{
    assert(mproc__held(&self.lock));
    p->prev = NULL;
    p->next = self.children;
    if (self.children)
        self.children->prev = p;
    self.children = p;
}

static void unlink_child(mproc_process *p)
{
    assert(mproc__held(&self.lock));
    if (p->prev)
        p->prev->next = p->next;
    else
        self.children = p->next;
    if (p->next)
        p->next->prev = p->prev;
}

/*
 * Waits until a child may have ended (its pidfd, fd, is readable) or the
 * deadline passes; without a pidfd (fd < 0), naps of growing length
 * (*nap). Returns 1, 0 at the deadline, or a negative errno value.
 */
static int await_end(int fd, int64_t deadline, int64_t *nap)
{
    return fd >= 0 ? mproc__poll_in(fd, deadline) : mproc__nap(deadline, nap);
}

/* Waits until child c has ended or the deadline passed; whether it was
 * reaped. */
static bool reap_by(mproc_process *c, int64_t deadline)
{
    int64_t nap = 0;
    while (!reap(c, false))
        if (await_end(end_fd(c), deadline, &nap) <= 0)
            return reap(c, false);
    return true;
}

/*
 * Python's _exit_function: SIGTERM the daemons, then reap every child.
 * Unlike Python, a daemon still running DAEMON_GRACE_NS after its SIGTERM
 * (one that ignores or handles the signal) is killed, so it cannot hang
 * its parent's exit.
 */
static void finish_children(void)
{
    lock();
    for (mproc_process *c = self.children; c; c = c->next)
        if (c->daemon && !reap(c, false)) {
            MPROC__LOG(MPROC_LOG_DEBUG,
                       "at exit: terminating daemon %s (pid %d)", c->name,
                       (int)c->pid);
            mproc__child_signal(c->pidfd, c->pid, SIGTERM);
        }
    int64_t grace = mproc__now() + DAEMON_GRACE_NS;
    for (mproc_process *c = self.children; c; c = c->next)
        if (c->daemon && !reap_by(c, grace)) {
            MPROC__LOG(MPROC_LOG_DEBUG,
                       "at exit: daemon %s (pid %d) outlived its SIGTERM by "
                       "1 s: killing it",
                       c->name, (int)c->pid);
            mproc__child_signal(c->pidfd, c->pid, SIGKILL);
        }
    for (mproc_process *c = self.children; c; c = c->next)
        if (!reap(c, false)) {
            MPROC__LOG(MPROC_LOG_DEBUG, "at exit: joining %s (pid %d)", c->name,
                       (int)c->pid);
            reap(c, true);
        }
    unlock();
}

int mproc_process_create(mproc_process **out, mproc_target target,
                         const void *arg, size_t arglen,
                         const mproc_process_opts *opts)
{
    if (!out || !target || (!arg && arglen > 0) ||
        (opts && (unsigned)opts->start_method > MPROC_START_SPAWN))
        return MPROC_EINVAL;
    mproc_process *p = calloc(1, sizeof *p);
    if (!p)
        return MPROC_ENOMEM;
    p->arg = arglen ? malloc(arglen) : NULL;
    lock();
    unsigned n = ++self.counter;
    int len = self.current
                  ? asprintf(&p->identity, "%s:%u", self.current->identity, n)
                  : asprintf(&p->identity, "%u", n);
    unlock();
    if (len >= 0) {
        if (opts && opts->name)
            p->name = strdup(opts->name);
        else if (asprintf(&p->name, "Process-%s", p->identity) < 0)
            p->name = NULL;
    } else {
        p->identity = NULL;
    }
    if ((arglen && !p->arg) || !p->identity || !p->name) {
        free(p->arg);
        free(p->identity);
        free(p->name);
        free(p);
        return MPROC_ENOMEM;
    }
    if (arglen)
        memcpy(p->arg, arg, arglen);
    p->magic = PROCESS_MAGIC;
    p->state = CREATED;
    p->target = target;
    p->arglen = arglen;
    p->daemon = opts && opts->daemon;
    p->parent = mproc__getpid();
    p->pidfd = -1;
    p->statusfd = -1;
    p->method = opts ? opts->start_method : MPROC_START_DEFAULT;
    mproc__log_set_namer(mproc_current_process_name);
    *out = p;
    return 0;
}

/* The child's side of start: become p's process, run the target, exit. */
/*
 * Flushes standard output and error if they hold pending text. Looking
 * first keeps a start from writing stdio's pages when there is nothing to
 * flush (see run_child).
 */
static void flush_std(void)
{
    if (__fpending(stdout))
        fflush(stdout);
    if (__fpending(stderr))
        fflush(stderr);
}

/*
 * The child's side of start: become p's process, run the target, exit.
 * Every page written here is copied by the kernel (copy-on-write), which
 * costs more than the rest of a start, so the child writes only the
 * registry and its stack: it takes its name and identity from its copy of
 * p, leaves the inherited pidfds of its siblings open (close-on-exec, and
 * released by destroy or exit), touches stdio only to flush output that is
 * pending, and calls only functions the parent has called already, so no
 * lazy symbol binding writes the GOT in the child.
 */
_Noreturn static void run_child(mproc_process *p, pid_t parent,
                                pid_t real_parent)
{
    self.lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
    self.children = NULL;
    self.counter = 0;
    self.current = p;
    self.parent = parent;
    if (p->daemon)
        mproc__die_with_parent(real_parent);
    int code = p->target(p->arg, p->arglen);
    finish_children();
    flush_std();
    mproc__exit(code & 0xff);
}

_Noreturn void mproc__run_child(const mproc__child *c, mproc_target fn,
                                pid_t real_parent)
{
    mproc_process *p = calloc(1, sizeof *p);
    if (!p || !(p->name = strdup(c->name)) ||
        !(p->identity = strdup(c->identity)))
        mproc__exit(255);
    p->magic = PROCESS_MAGIC;
    p->state = CREATED;
    p->target = fn;
    p->arg = (void *)c->arg;
    p->arglen = c->arglen;
    p->daemon = c->daemon;
    p->parent = c->parent;
    p->pidfd = p->statusfd = -1;
    mproc__log_set_namer(mproc_current_process_name); /* a fresh program */
    run_child(p, c->parent, real_parent);
}

/* Forks the child; *pid, or a negative code. Mutex held. */
static int start_fork(mproc_process *p, pid_t *pid)
{
    pid_t parent = mproc__getpid();
    pid_t child = mproc__fork();
    if (child == 0)
        run_child(p, parent, parent);
    *pid = child;
    return child < 0 ? child : 0;
}

/*
 * Starts the child by spawn or forkserver: its record, then the start.
 * Sets *pid, and *pidfd and *statusfd under forkserver. Mutex held.
 */
static int start_exec(mproc_process *p, mproc_start_method m, pid_t *pid,
                      int *pidfd, int *statusfd)
{
    if (!mproc__start_argv())
        return MPROC_ENOINIT;
    mproc__child c = {.arg = p->arg,
                      .arglen = p->arglen,
                      .name = p->name,
                      .identity = p->identity,
                      .daemon = p->daemon,
                      .parent = mproc__getpid()};
    int rc = mproc__fnref_of((void (*)(void))p->target, &c.target);
    if (rc != 0)
        return rc;
    c.path = mproc__fnref_path(c.target.object);
    size_t n = mproc__handoff_list(NULL, 0);
    c.handoffs = n ? malloc(n * sizeof *c.handoffs) : NULL;
    if (n && !c.handoffs)
        return MPROC_ENOMEM;
    c.nhandoffs = mproc__handoff_list(c.handoffs, n);
    if (c.nhandoffs > n) /* another thread took a reference meanwhile */
        c.nhandoffs = n;
    void *rec;
    size_t len;
    rc = mproc__child_encode(&c, &rec, &len);
    if (rc == 0) {
        rc = m == MPROC_START_SPAWN
                 ? mproc__spawn_child(rec, len, c.handoffs, c.nhandoffs, pid)
                 : mproc__forkserver_child(rec, len, c.handoffs, c.nhandoffs,
                                           pid, pidfd, statusfd);
        free(rec);
    }
    free(c.handoffs);
    return rc;
}

int mproc_process_start(mproc_process *p)
{
    if (!p)
        return MPROC_EINVAL;
    check(p);
    lock();
    int rc = 0;
    if (p->state != CREATED || p->parent != mproc__getpid() ||
        (self.current && self.current->daemon)) {
        rc = MPROC_EINVAL;
        goto out;
    }
    reap_finished();
    if (!self.atexit_installed && atexit(finish_children) == 0)
        self.atexit_installed = true;
    flush_std();
    mproc_start_method m =
        p->method ? p->method : (mproc_start_method)default_method;
    pid_t pid;
    int fd = -1, statusfd = -1;
    rc = m == MPROC_START_FORK ? start_fork(p, &pid)
                               : start_exec(p, m, &pid, &fd, &statusfd);
    if (rc != 0)
        goto out;
    if (m != MPROC_START_FORKSERVER)
        fd = mproc__pidfd_open(pid);
    if (fd == -ENOSYS || fd == -EPERM) {
        fd = -1; /* no pidfds here: track the child by PID */
    } else if (fd < 0) {
        mproc__kill_and_reap(pid);
        rc = fd;
        goto out;
    }
    p->pid = pid;
    p->pidfd = fd;
    p->statusfd = statusfd;
    p->state = STARTED;
    link_child(p);
    MPROC__LOG(MPROC_LOG_INFO, "started %s (pid %d)%s", p->name, (int)pid,
               p->daemon ? ", a daemon" : "");
out:
    unlock();
    return rc;
}

int mproc_process_join(mproc_process *p, double timeout)
{
    int64_t deadline, nap = 0;
    if (!p || mproc__deadline(timeout, &deadline) < 0)
        return MPROC_EINVAL;
    check(p);
    for (;;) {
        lock();
        bool valid = ours(p), done = valid && reap(p, false);
        int fd = end_fd(p);
        unlock();
        if (!valid)
            return MPROC_EINVAL;
        if (done)
            return 0;
        int ready = await_end(fd, deadline, &nap);
        if (ready < 0)
            return ready;
        if (ready == 0)
            return mproc__expired(timeout);
    }
}

bool mproc_process_is_alive(mproc_process *p)
{
    if (!p)
        return false;
    check(p);
    lock();
    bool alive = ours(p) && !reap(p, false);
    unlock();
    return alive;
}

int mproc_process_exitcode(mproc_process *p, int *code)
{
    if (!p || !code)
        return MPROC_EINVAL;
    check(p);
    lock();
    int rc = !ours(p) ? MPROC_EINVAL : !reap(p, false) ? MPROC_EAGAIN : 0;
    if (rc == 0)
        *code = p->exitcode;
    unlock();
    return rc;
}

pid_t mproc_process_pid(const mproc_process *p)
{
    return p ? p->pid : 0;
}

const char *mproc_process_name(const mproc_process *p)
{
    return p ? p->name : NULL;
}

bool mproc_process_daemon(const mproc_process *p)
{
    return p && p->daemon;
}

static int send_signal(mproc_process *p, int sig)
{
    if (!p)
        return MPROC_EINVAL;
    check(p);
    lock();
    int rc = 0;
    if (!ours(p))
        rc = MPROC_EINVAL;
    else if (p->state == STARTED)
        rc = mproc__child_signal(p->pidfd, p->pid, sig);
    unlock();
    return rc == -ESRCH ? 0 : rc; /* ended, not yet reaped */
}

int mproc_process_terminate(mproc_process *p)
{
    return send_signal(p, SIGTERM);
}

int mproc_process_kill(mproc_process *p)
{
    return send_signal(p, SIGKILL);
}

int mproc_process_interrupt(mproc_process *p)
{
    return send_signal(p, SIGINT);
}

int mproc_process_sentinel(const mproc_process *p)
{
    if (!p)
        return MPROC_EINVAL;
    check(p);
    if (!ours(p))
        return MPROC_EINVAL;
    int fd = end_fd(p);
    return fd >= 0 ? fd : -ENOSYS;
}

int mproc_process_destroy(mproc_process *p)
{
    if (!p || p == self.current) /* a child's own handle lives as long */
        return 0;
    check(p);
    lock();
    if (ours(p)) {
        if (!reap(p, false)) {
            unlock();
            return MPROC_EBUSY;
        }
        unlink_child(p);
    }
    if (p->pidfd >= 0)
        mproc__close(p->pidfd);
    if (p->statusfd >= 0)
        mproc__close(p->statusfd);
    unlock();
    p->magic = 0;
    free(p->arg);
    free(p->name);
    free(p->identity);
    free(p);
    return 0;
}

const char *mproc_current_process_name(void)
{
    return self.current ? self.current->name : "MainProcess";
}

pid_t mproc_parent_pid(void)
{
    return self.parent;
}

int mproc_active_children(mproc_process **list, size_t cap)
{
    if (!list && cap > 0)
        return MPROC_EINVAL;
    lock();
    int n = 0;
    for (mproc_process *c = self.children; c; c = c->next) {
        if (reap(c, false))
            continue;
        if ((size_t)n < cap)
            list[n] = c;
        n++;
    }
    unlock();
    return n;
}

int mproc_cpu_count(void)
{
    return mproc__cpu_count();
}

int mproc_set_start_method(mproc_start_method m, bool force)
{
    if (m != MPROC_START_FORK && m != MPROC_START_FORKSERVER &&
        m != MPROC_START_SPAWN)
        return MPROC_EINVAL;
    if (atomic_exchange(&method_set, true) && !force)
        return MPROC_EBUSY;
    default_method = m;
    return 0;
}

mproc_start_method mproc_get_start_method(void)
{
    return (mproc_start_method)default_method;
}
