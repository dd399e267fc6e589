/*
 * helpers.h - what the test files share beyond the runner: whether a
 * memory checker watches, the clock and how far time bounds stretch under
 * one, waits for another process's progress (a condition, or a thread
 * asleep in a system call), children (forked ones and mproc processes),
 * and signals that interrupt blocking calls.
 *
 * Everything here may be called from the test process. The helpers that
 * assert (ck_assert, WAIT_UNTIL, wait_blocked...) must never run in a
 * child, which reports only through its exit status; blocked_within and
 * the probes that return a value may.
 */
#ifndef MPROC_TEST_HELPERS_H
#define MPROC_TEST_HELPERS_H

#include "mproc.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- memory checkers ---------------------------------------------------- */

/* Whether this build runs under AddressSanitizer (GCC's macro, clang's
 * feature test). */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define HAVE_VALGRIND_H 1
#endif
#endif

/* Whether this process runs under valgrind: its client request where its
 * header is installed, else valgrind's preload in the environment. */
static inline bool under_valgrind(void)
{
#ifdef HAVE_VALGRIND_H
    return RUNNING_ON_VALGRIND != 0;
#else
    const char *preload = getenv("LD_PRELOAD");
    return preload && strstr(preload, "vgpreload");
#endif
}

/* Whether ASan or valgrind checks this process's memory. Each reports a
 * read of freed memory itself, first, and ends or flags the process: a
 * use-after-destroy test, which expects mproc's own check to abort, is
 * meaningful only when this is false, and is not registered otherwise. */
static inline bool checked_memory(void)
{
    return UNDER_ASAN || under_valgrind();
}

/* ---- time --------------------------------------------------------------- */

/* Seconds on CLOCK_MONOTONIC. */
static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * How many times slower than natively this build may run. An upper bound
 * on elapsed time - "returns within 1 s", a timeout a call must not reach,
 * how long a test waits for another process - is a sanity limit, not the
 * behaviour under test, and is multiplied by TIME_SCALE; a lower bound
 * ("waited at least 0.1 s") and a timeout that must expire are not. The
 * factors are those by which Check's timeouts are stretched for the same
 * runs (tests/CMakeLists.txt for ASan, scripts/valgrind-suite).
 */
static inline double time_scale(void)
{
    if (under_valgrind())
        return 20;
    return UNDER_ASAN ? 4 : 1;
}
#define TIME_SCALE time_scale()

/* How long the test process waits for another process to get somewhere
 * (ready, blocked, joined) before it fails the test. */
#define WAIT_S (10.0 * TIME_SCALE)

/* Polls cond every millisecond until it holds; fails the test when it
 * still does not after WAIT_S seconds. */
#define WAIT_UNTIL(cond)                                                       \
    do {                                                                       \
        double wait_t0_ = now_s();                                             \
        while (!(cond)) {                                                      \
            ck_assert_msg(now_s() - wait_t0_ < WAIT_S,                         \
                          "still false after %.0f s: %s", WAIT_S, #cond);      \
            usleep(1000);                                                      \
        }                                                                      \
    } while (0)

/* ---- memory ------------------------------------------------------------- */

/*
 * The memory shared_mem hands out lives in memory files that stay open
 * across exec (not close-on-exec); TEST_SHM_ENV lists them ("fd:addr:size;"
 * per call), so a process that began with an exec (a spawned child, the
 * forkserver) can map the same memory: test_init redoes the file's setup
 * there, and its shared_mem calls attach the listed files in order.
 */
#define TEST_SHM_ENV "MPROC_TEST_SHM"

/* Whether this process began with an exec by mproc (spawn, forkserver). */
static inline bool exec_started(void)
{
    return getenv("MPROC_START") || getenv("MPROC_FORKSERVER");
}

/* The calls of shared_mem so far in this process. */
static unsigned shm_calls;

/* In a process that began with an exec: the memory of the n-th shared_mem
 * call of the test that started it (at the same address when it is free
 * here), or NULL. */
static inline void *shared_mem_attach(unsigned n)
{
    const char *list = getenv(TEST_SHM_ENV);
    for (unsigned k = 0; list && *list; k++) {
        int fd;
        unsigned long addr, size;
        if (sscanf(list, "%d:%lx:%lu", &fd, &addr, &size) != 3)
            return NULL;
        if (k == n) {
            void *p = mmap((void *)addr, size, PROT_READ | PROT_WRITE,
                           MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
            if (p == MAP_FAILED)
                p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            return p == MAP_FAILED ? NULL : p;
        }
        list = strchr(list, ';');
        list = list ? list + 1 : NULL;
    }
    return NULL;
}

/* size zero-filled bytes shared with every process the test starts, under
 * every start method, for facts children hand back beyond their exit
 * status. */
static inline void *shared_mem(size_t size)
{
    unsigned n = shm_calls++;
    if (exec_started())
        return shared_mem_attach(n);
    int fd = memfd_create("mproc-test-shared", 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    const char *old = getenv(TEST_SHM_ENV);
    char *list;
    ck_assert_int_ge(asprintf(&list, "%s%d:%lx:%zu;", old ? old : "", fd,
                              (unsigned long)p, size),
                     0);
    setenv(TEST_SHM_ENV, list, 1);
    free(list);
    return p;
}

/* ---- start methods ------------------------------------------------------ */

/* The start method the suite runs under: MPROC_TEST_START is "fork"
 * (or unset), "spawn" or "forkserver". */
static inline mproc_start_method test_method(void)
{
    const char *m = getenv("MPROC_TEST_START");
    return !m || strcmp(m, "fork") == 0 ? MPROC_START_FORK
           : strcmp(m, "spawn") == 0    ? MPROC_START_SPAWN
                                        : MPROC_START_FORKSERVER;
}

/*
 * test_init - the first statement of every test main. In a process that
 * began with an exec (a spawned child, the forkserver), setup (the file's
 * fixture, or NULL) runs first, so its shared_mem calls attach the test's
 * memory and its globals are set as in the test; then mproc_init, which
 * there runs the child's target (or serves) and does not return. In the
 * test runner it sets the suite's start method.
 */
static inline void test_init(int *argc, char ***argv, void (*setup)(void))
{
    if (exec_started() && setup)
        setup();
    if (mproc_init(argc, argv) != 0)
        abort();
    mproc_set_start_method(test_method(), true);
}

/* Whether the suite runs under fork, for the cases only fork can run. */
static inline bool fork_only(void)
{
    return test_method() == MPROC_START_FORK;
}

/* ---- file descriptors --------------------------------------------------- */

/* The number of open file descriptors of the calling process. */
static inline int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n - 3; /* ".", ".." and the directory's own fd */
}

/* ---- forked children ---------------------------------------------------- */

/* Runs fn(arg) in a forked child, which exits (_exit: no atexit handlers,
 * no stdio flush) with fn's return value. */
static inline pid_t spawn(int (*fn)(void *), void *arg)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(fn(arg));
    return pid;
}

/* Reaps the child pid; returns its exit status, or 128 + the signal that
 * killed it. */
static inline int child_exit_status(pid_t pid)
{
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Whether pid has been reaped (or is no child of ours); looks without
 * reaping it. */
static inline bool reaped(pid_t pid)
{
    siginfo_t info;
    return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) < 0 &&
           errno == ECHILD;
}

/* Blocks until the child pid has ended, leaving it a zombie (not
 * reaped). */
static inline void wait_zombie(pid_t pid)
{
    siginfo_t info = {0};
    ck_assert_int_eq(waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT), 0);
    ck_assert(!reaped(pid));
}

/* ---- where another process or thread is --------------------------------- */

/*
 * A test that needs another process (or thread) to be asleep in a call -
 * a waiter on a lock, a getter in an empty queue - before it acts checks
 * that it is, rather than sleeping a while and hoping: the kernel shows a
 * thread's state in /proc/<pid>/task/<tid>/stat (S: asleep) and the system
 * call it is in, by number, first in .../syscall (x86_64's SYS_futex is
 * 202; "running" when it runs). A process's PID names its main thread;
 * another thread is named by its TID (gettid(), from that thread).
 */

/* Ends a list of system call numbers; alone, it stands for any call. */
#define ANY_SYSCALL (-1L)

/* The list of system call numbers given, for blocked_within. */
#define SYSCALLS(...) ((const long[]){__VA_ARGS__, ANY_SYSCALL})

/* Reads /proc/<tid>/task/<tid>/<file> into buf (at most size - 1 bytes);
 * false, with errno set, when it cannot. */
static inline bool read_task_file(pid_t tid, const char *file, char *buf,
                                  size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/%s", (int)tid, (int)tid,
             file);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, size - 1, f);
    int err = ferror(f) ? errno : 0;
    fclose(f);
    buf[n] = 0;
    errno = err;
    return err == 0 && n > 0;
}

/* Whether thread tid sleeps (state S) in one of the system calls nrs (a
 * list ended by ANY_SYSCALL; an empty one takes any call). The syscall
 * file needs ptrace access: where that is refused (Yama's ptrace_scope 1
 * for a process that is not our descendant), the state alone decides. */
static inline bool blocked_in(pid_t tid, const long *nrs)
{
    char buf[512];
    if (!read_task_file(tid, "stat", buf, sizeof buf))
        return false;
    const char *rp = strrchr(buf, ')'); /* the name may hold anything */
    if (!rp || rp[1] != ' ' || rp[2] != 'S')
        return false;
    if (nrs[0] == ANY_SYSCALL)
        return true;
    if (!read_task_file(tid, "syscall", buf, sizeof buf))
        return errno == EACCES || errno == EPERM;
    char *end;
    long nr = strtol(buf, &end, 10);
    if (end == buf)
        return false; /* "running" */
    for (; *nrs != ANY_SYSCALL; nrs++)
        if (*nrs == nr)
            return true;
    return false;
}

/* Polls every millisecond until blocked_in(tid, nrs), for at most seconds;
 * returns whether it came. It asserts nothing: children may use it. */
static inline bool blocked_within(pid_t tid, const long *nrs, double seconds)
{
    double t0 = now_s();
    while (!blocked_in(tid, nrs)) {
        if (now_s() - t0 >= seconds)
            return false;
        usleep(1000);
    }
    return true;
}

/* Waits until thread tid sleeps in one of the system calls named (such as
 * SYS_futex; ANY_SYSCALL for any); fails the test after WAIT_S seconds. */
#define wait_blocked(tid, ...)                                                 \
    ck_assert_msg(blocked_within((tid), SYSCALLS(__VA_ARGS__), WAIT_S),        \
                  "%s never slept in %s", #tid, #__VA_ARGS__)

/* ---- mproc processes ---------------------------------------------------- */

/* Every handle a test starts, kept reachable from a static: a child
 * started later inherits its siblings' handles, which valgrind would
 * otherwise count as leaked in that child. */
static mproc_process *volatile started[16];
static unsigned nstarted;

/* Creates and starts a process running target(arg, arglen). */
static inline mproc_process *start_process(mproc_target target, const void *arg,
                                           size_t arglen)
{
    mproc_process *p;
    ck_assert_int_eq(mproc_process_create(&p, target, arg, arglen, NULL), 0);
    started[nstarted++ % 16] = p;
    ck_assert_int_eq(mproc_process_start(p), 0);
    return p;
}

/* Joins p (within WAIT_S seconds) and returns its exit code; p stays. */
static inline int join_code(mproc_process *p)
{
    int code = 1000;
    ck_assert_int_eq(mproc_process_join(p, WAIT_S), 0);
    ck_assert_int_eq(mproc_process_exitcode(p, &code), 0);
    return code;
}

/* Joins and destroys p; returns its exit code. */
static inline int finish_process(mproc_process *p)
{
    int code = join_code(p);
    ck_assert_int_eq(mproc_process_destroy(p), 0);
    return code;
}

/* Runs target(arg, arglen) in a process to its end; returns its exit
 * code. */
static inline int run_process(mproc_target target, const void *arg,
                              size_t arglen)
{
    return finish_process(start_process(target, arg, arglen));
}

/* Kills p (SIGKILL), which must die of it, then joins and destroys it. */
static inline void kill_and_join(mproc_process *p)
{
    ck_assert_int_eq(mproc_process_kill(p), 0);
    ck_assert_int_eq(finish_process(p), -SIGKILL);
}

/* ---- references --------------------------------------------------------- */

/*
 * A child that opens references (mproc/ref.h) finds them in its argument
 * bytes: a target that takes them from there, and nothing else from its
 * parent, runs under any start method.
 */

/* The k-th reference in a target's argument bytes; zeros when they are
 * shorter. */
static inline mproc_ref ref_arg(const void *arg, size_t len, size_t k)
{
    mproc_ref r = {{0, 0}};
    if (arg && len >= (k + 1) * sizeof r)
        memcpy(&r, (const char *)arg + k * sizeof r, sizeof r);
    return r;
}

/* A reference no process was given: ref, naming another object id. */
static inline mproc_ref made_up_ref(mproc_ref ref)
{
    ref.w[0] = ~ref.w[0];
    return ref;
}

/* A child that opens a reference it is sent after it started. */
struct late_ref {
    int fds[2];                 /* a pipe: the parent writes the bytes */
    int (*open_ref)(mproc_ref); /* opens it, closes what it opened */
};

static inline int open_late_ref(void *arg)
{
    struct late_ref *l = arg;
    mproc_ref r;
    close(l->fds[1]);
    if (read(l->fds[0], &r, sizeof r) != (ssize_t)sizeof r)
        return 2;
    return l->open_ref(r) == MPROC_ENOENT ? 0 : 1;
}

/*
 * Forks a child, then takes a reference in the parent with take_ref
 * (after the fork, so the child was not given it, though it may hold the
 * object's handle and descriptor by inheritance) and sends it to the
 * child, which opens it with open_ref. Returns the child's exit status: 0
 * when its open gave MPROC_ENOENT.
 */
static inline int open_status_of_late_ref(int (*take_ref)(mproc_ref *),
                                          int (*open_ref)(mproc_ref))
{
    struct late_ref l = {.open_ref = open_ref};
    ck_assert_int_eq(pipe(l.fds), 0);
    pid_t pid = spawn(open_late_ref, &l);
    close(l.fds[0]);
    mproc_ref r;
    ck_assert_int_eq(take_ref(&r), 0);
    ck_assert_int_eq(write(l.fds[1], &r, sizeof r), (ssize_t)sizeof r);
    close(l.fds[1]);
    return child_exit_status(pid);
}

/*
 * Checks that a process opens only what it was given. take_ref takes the
 * reference of an object; open_ref opens a reference of its kind (and
 * closes what it opened); destroy destroys the object's handle. A child
 * started before take_ref cannot open it (open_status_of_late_ref), nor
 * can anyone open a made-up reference; the taker can, until destroy
 * withdraws it.
 */
static inline void assert_only_given_opens(int (*take_ref)(mproc_ref *),
                                           int (*open_ref)(mproc_ref),
                                           void (*destroy)(void))
{
    ck_assert_int_eq(open_status_of_late_ref(take_ref, open_ref), 0);
    mproc_ref r;
    ck_assert_int_eq(take_ref(&r), 0);
    ck_assert_int_eq(open_ref(made_up_ref(r)), MPROC_ENOENT);
    ck_assert_int_eq(open_ref(r), 0);
    destroy();
    ck_assert_int_eq(open_ref(r), MPROC_ENOENT);
}

/*
 * Checks that own, the reference of an object that is not a Lock, opens
 * only as its kind: not as a Lock, nor does open_ref (which opens own's
 * kind and closes what it opened) open a Lock's reference, or a Lock's id
 * given own's kind, or own's id given a Lock's kind.
 */
static inline void assert_kind_kept(mproc_ref own, int (*open_ref)(mproc_ref))
{
    mproc_lock *l, *o = NULL;
    mproc_ref lref;
    ck_assert_int_eq(mproc_lock_open(&o, own), MPROC_EINVAL);
    ck_assert_int_eq(mproc_lock_create(&l), 0);
    ck_assert_int_eq(mproc_lock_ref(l, &lref), 0);
    ck_assert_int_eq(open_ref(lref), MPROC_EINVAL);
    mproc_ref lock_as_own = {{lref.w[0], own.w[1]}};
    ck_assert_int_eq(open_ref(lock_as_own), MPROC_EINVAL);
    mproc_ref own_as_lock = {{own.w[0], lref.w[1]}};
    ck_assert_int_eq(mproc_lock_open(&o, own_as_lock), MPROC_EINVAL);
    ck_assert_ptr_null(o);
    mproc_lock_destroy(l);
}

/* ---- signals ------------------------------------------------------------ */

/* Check's runner catches SIGTERM and SIGINT to kill the whole process
 * group; a test's children must die of those signals as programs do. */
static inline void default_sigterm_sigint(void)
{
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
}

static inline void ignore_signal(int sig)
{
    (void)sig;
}

/* Sends this process SIGALRM every usec microseconds, caught by a handler
 * that does nothing and installed without SA_RESTART, so that blocking
 * calls keep failing with EINTR; usec 0 stops it. */
static inline void alarm_every(long usec)
{
    struct sigaction sa = {.sa_handler = ignore_signal};
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, usec}, {0, usec}};
    setitimer(ITIMER_REAL, &it, NULL);
}

#endif /* MPROC_TEST_HELPERS_H */
