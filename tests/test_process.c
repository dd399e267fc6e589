/* test_process.c - Process: lifecycle, exit codes, names, daemons, exit. */
#include "check_main.h"
#include "mproc.h"
#include "sys/sys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* A page shared with every process the test starts, for facts children
 * need to hand back beyond their exit status (PIDs, flags). */
struct shared {
    _Atomic pid_t pid;
    _Atomic int flag;
    char name[64];
};
static struct shared *sh;

static void setup(void)
{
    default_sigterm_sigint();
    sh = shared_mem(sizeof *sh);
}

static mproc_process *make(mproc_target target, const void *arg, size_t len,
                           const char *name, bool daemon)
{
    mproc_process *p;
    mproc_process_opts opts = {.name = name, .daemon = daemon};
    ck_assert_int_eq(mproc_process_create(&p, target, arg, len, &opts), 0);
    return p;
}

static int returns_arg(void *arg, size_t len)
{
    return len == sizeof(int) ? *(int *)arg : 255;
}

static int sleeps(void *arg, size_t len)
{
    (void)arg;
    (void)len;
    pause(); /* until a signal kills it */
    return 0;
}

static int returns_zero(void *arg, size_t len)
{
    (void)arg;
    (void)len;
    return 0;
}

START_TEST(process_exitcode_is_the_target_return_value)
{
    int value = 7;
    mproc_process *p = start_process(returns_arg, &value, sizeof value);
    ck_assert_int_eq(join_code(p), 7);
    ck_assert_int_eq(mproc_process_destroy(p), 0);
}
END_TEST

static int checks_copied_arg(void *arg, size_t len)
{
    return len == 6 && memcmp(arg, "hello", 6) == 0 ? 0 : 1;
}

START_TEST(process_arg_bytes_are_copied_at_create)
{
    char buf[6] = "hello";
    mproc_process *p = make(checks_copied_arg, buf, sizeof buf, NULL, false);
    strcpy(buf, "bye!!");
    ck_assert_int_eq(mproc_process_start(p), 0);
    ck_assert_int_eq(join_code(p), 0);
    mproc_process_destroy(p);
}
END_TEST

START_TEST(process_exitcode_keeps_the_low_eight_bits)
{
    int value = 258;
    mproc_process *p = start_process(returns_arg, &value, sizeof value);
    ck_assert_int_eq(join_code(p), 2);
    mproc_process_destroy(p);
}
END_TEST

START_TEST(process_kill_gives_exitcode_minus_nine)
{
    mproc_process *p = start_process(sleeps, NULL, 0);
    ck_assert_int_eq(mproc_process_kill(p), 0);
    ck_assert_int_eq(join_code(p), -SIGKILL);
    mproc_process_destroy(p);
}
END_TEST

START_TEST(process_terminate_and_interrupt_send_sigterm_and_sigint)
{
    mproc_process *t = start_process(sleeps, NULL, 0),
                  *i = start_process(sleeps, NULL, 0);
    ck_assert_int_eq(mproc_process_terminate(t), 0);
    ck_assert_int_eq(mproc_process_interrupt(i), 0);
    ck_assert_int_eq(join_code(t), -SIGTERM);
    ck_assert_int_eq(join_code(i), -SIGINT);
    /* Signalling a process that has ended is a no-op, as in Python. */
    ck_assert_int_eq(mproc_process_terminate(t), 0);
    ck_assert_int_eq(mproc_process_kill(t), 0);
    mproc_process_destroy(t);
    mproc_process_destroy(i);
}
END_TEST

START_TEST(process_join_times_out_no_earlier_than_the_timeout)
{
    mproc_process *p = start_process(sleeps, NULL, 0);
    double t0 = now_s();
    ck_assert_int_eq(mproc_process_join(p, 0.3), MPROC_ETIMEDOUT);
    double waited = now_s() - t0;
    ck_assert(waited >= 0.3);
    ck_assert(waited < 1.3 * TIME_SCALE);
    ck_assert_int_eq(mproc_process_join(p, 0), MPROC_EAGAIN);
    ck_assert(mproc_process_is_alive(p));
    int code;
    ck_assert_int_eq(mproc_process_exitcode(p, &code), MPROC_EAGAIN);
    mproc_process_kill(p);
    ck_assert_int_eq(mproc_process_join(p, MPROC_FOREVER), 0);
    mproc_process_destroy(p);
}
END_TEST

START_TEST(process_join_may_be_repeated)
{
    mproc_process *p = start_process(returns_zero, NULL, 0);
    ck_assert_int_eq(mproc_process_join(p, MPROC_FOREVER), 0);
    ck_assert_int_eq(mproc_process_join(p, MPROC_FOREVER), 0);
    ck_assert_int_eq(mproc_process_join(p, 0), 0);
    mproc_process_destroy(p);
}
END_TEST

START_TEST(process_leaves_no_zombie_after_join)
{
    mproc_process *p = start_process(returns_zero, NULL, 0);
    pid_t pid = mproc_process_pid(p);
    ck_assert_int_gt(pid, 0);
    ck_assert_int_eq(mproc_process_join(p, MPROC_FOREVER), 0);
    ck_assert(reaped(pid));
    char path[64];
    snprintf(path, sizeof path, "/proc/%d", (int)pid);
    ck_assert_int_ne(access(path, F_OK), 0);
    mproc_process_destroy(p);
}
END_TEST

START_TEST(process_is_alive_follows_the_lifecycle)
{
    mproc_process *p = make(sleeps, NULL, 0, NULL, false);
    ck_assert(!mproc_process_is_alive(p));
    ck_assert_int_eq(mproc_process_pid(p), 0);
    ck_assert_int_eq(mproc_process_start(p), 0);
    ck_assert(mproc_process_is_alive(p));
    mproc_process_kill(p);
    mproc_process_join(p, MPROC_FOREVER);
    ck_assert(!mproc_process_is_alive(p));
    mproc_process_destroy(p);
}
END_TEST

START_TEST(process_sentinel_becomes_readable_at_exit)
{
    mproc_process *p = start_process(sleeps, NULL, 0);
    int fd = mproc_process_sentinel(p);
    if (fd == -ENOSYS) {
        printf("skipped: no pidfds on this system\n");
        mproc_process_kill(p);
        return;
    }
    ck_assert_int_ge(fd, 0);
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    ck_assert_int_eq(poll(&pfd, 1, 100), 0);
    mproc_process_kill(p);
    ck_assert_int_eq(poll(&pfd, 1, (int)(5000 * TIME_SCALE)), 1);
    ck_assert_int_eq(mproc_process_join(p, MPROC_FOREVER), 0);
    ck_assert_int_eq(mproc_process_sentinel(p), fd); /* valid to destroy */
    ck_assert_int_eq(poll(&pfd, 1, 0), 1);
    mproc_process_destroy(p);
}
END_TEST

START_TEST(process_misuse_before_start_is_einval)
{
    mproc_process *p = make(returns_zero, NULL, 0, NULL, false);
    int code;
    ck_assert_int_eq(mproc_process_join(p, 1), MPROC_EINVAL);
    ck_assert_int_eq(mproc_process_exitcode(p, &code), MPROC_EINVAL);
    ck_assert_int_eq(mproc_process_terminate(p), MPROC_EINVAL);
    ck_assert_int_eq(mproc_process_kill(p), MPROC_EINVAL);
    ck_assert_int_eq(mproc_process_sentinel(p), MPROC_EINVAL);
    ck_assert_int_eq(mproc_process_destroy(p), 0); /* never started: fine */
}
END_TEST

START_TEST(process_start_twice_is_einval)
{
    mproc_process *p = start_process(returns_zero, NULL, 0);
    ck_assert_int_eq(mproc_process_start(p), MPROC_EINVAL);
    ck_assert_int_eq(join_code(p), 0);
    ck_assert_int_eq(mproc_process_start(p), MPROC_EINVAL);
    mproc_process_destroy(p);
}
END_TEST

START_TEST(process_destroy_while_running_is_ebusy)
{
    mproc_process *p = start_process(sleeps, NULL, 0);
    ck_assert_int_eq(mproc_process_destroy(p), MPROC_EBUSY);
    ck_assert(mproc_process_is_alive(p)); /* p is still valid */
    mproc_process_kill(p);
    mproc_process_join(p, MPROC_FOREVER);
    ck_assert_int_eq(mproc_process_destroy(p), 0);
    ck_assert_int_eq(mproc_process_destroy(NULL), 0);
}
END_TEST

START_TEST(process_create_rejects_bad_arguments)
{
    mproc_process *p = (mproc_process *)&p;
    ck_assert_int_eq(mproc_process_create(&p, NULL, NULL, 0, NULL),
                     MPROC_EINVAL);
    ck_assert_int_eq(mproc_process_create(&p, returns_zero, NULL, 4, NULL),
                     MPROC_EINVAL);
    ck_assert_int_eq(mproc_process_create(NULL, returns_zero, NULL, 0, NULL),
                     MPROC_EINVAL);
    ck_assert_ptr_eq(p, (mproc_process *)&p); /* untouched on failure */
    ck_assert_int_eq(mproc_process_join(NULL, 0), MPROC_EINVAL);
    ck_assert_int_eq(mproc_process_start(NULL), MPROC_EINVAL);
    ck_assert_int_eq(mproc_process_join(NULL, 1), MPROC_EINVAL);
}
END_TEST

START_TEST(process_join_with_nan_timeout_is_einval)
{
    mproc_process *p = start_process(returns_zero, NULL, 0);
    ck_assert_int_eq(mproc_process_join(p, 0.0 / 0.0), MPROC_EINVAL);
    ck_assert_int_eq(join_code(p), 0);
    mproc_process_destroy(p);
}
END_TEST

static int reports_names(void *arg, size_t len)
{
    (void)arg;
    (void)len;
    strcpy(sh->name, mproc_current_process_name());
    mproc_process *grandchild;
    if (mproc_process_create(&grandchild, returns_zero, NULL, 0, NULL))
        return 1;
    if (strcmp(mproc_process_name(grandchild), "Process-2:1") != 0)
        return 2;
    if (mproc_parent_pid() != sh->pid)
        return 3;
    return mproc_process_destroy(grandchild);
}

START_TEST(process_names_follow_python_scheme)
{
    ck_assert_str_eq(mproc_current_process_name(), "MainProcess");
    ck_assert_int_eq(mproc_parent_pid(), 0);
    mproc_process *first = make(returns_zero, NULL, 0, NULL, false);
    mproc_process *second = make(reports_names, NULL, 0, NULL, false);
    mproc_process *named = make(returns_zero, NULL, 0, "worker", true);
    ck_assert_str_eq(mproc_process_name(first), "Process-1");
    ck_assert_str_eq(mproc_process_name(second), "Process-2");
    ck_assert_str_eq(mproc_process_name(named), "worker");
    ck_assert(mproc_process_daemon(named));
    ck_assert(!mproc_process_daemon(first));
    sh->pid = getpid();
    ck_assert_int_eq(mproc_process_start(second), 0);
    ck_assert_int_eq(join_code(second), 0);
    ck_assert_str_eq(sh->name, "Process-2");
    mproc_process_destroy(first);
    mproc_process_destroy(second);
    mproc_process_destroy(named);
}
END_TEST

static mproc_process *sibling, *self_handle;

static int uses_parent_handles(void *arg, size_t len)
{
    (void)arg;
    (void)len;
    int code;
    if (mproc_process_join(self_handle, 0) != MPROC_EINVAL) /* itself */
        return 1;
    if (mproc_process_join(sibling, 0) != MPROC_EINVAL)
        return 2;
    if (mproc_process_is_alive(sibling))
        return 3;
    if (mproc_process_exitcode(sibling, &code) != MPROC_EINVAL)
        return 4;
    if (mproc_process_kill(sibling) != MPROC_EINVAL)
        return 5;
    if (mproc_process_start(sibling) != MPROC_EINVAL)
        return 6;
    return 0;
}

START_TEST(process_parent_handles_are_einval_in_a_child)
{
    sibling = start_process(sleeps, NULL, 0);
    self_handle = make(uses_parent_handles, NULL, 0, NULL, false);
    ck_assert_int_eq(mproc_process_start(self_handle), 0);
    ck_assert_int_eq(join_code(self_handle), 0);
    ck_assert(mproc_process_is_alive(sibling)); /* untouched by the child */
    mproc_process_kill(sibling);
    mproc_process_join(sibling, MPROC_FOREVER);
    mproc_process_destroy(sibling);
    mproc_process_destroy(self_handle);
}
END_TEST

START_TEST(process_active_children_lists_running_and_reaps_ended)
{
    mproc_process *a = start_process(sleeps, NULL, 0),
                  *b = start_process(returns_zero, NULL, 0);
    pid_t bpid = mproc_process_pid(b);
    wait_zombie(bpid);
    mproc_process *list[4];
    ck_assert_int_eq(mproc_active_children(list, 4), 1);
    ck_assert_ptr_eq(list[0], a);
    ck_assert(reaped(bpid));
    int code;
    ck_assert_int_eq(mproc_process_exitcode(b, &code), 0);
    ck_assert_int_eq(code, 0);
    ck_assert_int_eq(mproc_active_children(NULL, 0), 1);
    ck_assert_int_eq(mproc_active_children(NULL, 1), MPROC_EINVAL);
    mproc_process_kill(a);
    mproc_process_join(a, MPROC_FOREVER);
    ck_assert_int_eq(mproc_active_children(list, 4), 0);
    mproc_process_destroy(a);
    mproc_process_destroy(b);
}
END_TEST

START_TEST(process_start_reaps_children_that_have_ended)
{
    int value = 3;
    mproc_process *a = start_process(returns_arg, &value, sizeof value);
    pid_t apid = mproc_process_pid(a);
    wait_zombie(apid);
    mproc_process *b = start_process(returns_zero, NULL, 0);
    ck_assert(reaped(apid));
    int code;
    ck_assert_int_eq(mproc_process_exitcode(a, &code), 0);
    ck_assert_int_eq(code, 3); /* the exit code was kept */
    ck_assert_int_eq(join_code(b), 0);
    mproc_process_destroy(a);
    mproc_process_destroy(b);
}
END_TEST

static int prints_without_newline(void *arg, size_t len)
{
    (void)arg;
    (void)len;
    printf("from the child");
    return 0;
}

START_TEST(process_child_flushes_stdio_before_exit)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    fflush(stdout);
    ck_assert_int_ge(dup2(fds[1], STDOUT_FILENO), 0);
    printf("parent buffered, "); /* flushed by start, not written twice */
    mproc_process *p = start_process(prints_without_newline, NULL, 0);
    ck_assert_int_eq(join_code(p), 0);
    fflush(stdout);
    close(fds[1]);
    close(STDOUT_FILENO);
    char buf[128] = {0};
    ssize_t n = 0, r;
    while ((r = read(fds[0], buf + n, sizeof buf - 1 - (size_t)n)) > 0)
        n += r;
    ck_assert_str_eq(buf, "parent buffered, from the child");
    mproc_process_destroy(p);
}
END_TEST

static int atexit_pipe = -1;
static void parent_atexit(void)
{
    if (write(atexit_pipe, "X", 1) < 0)
        _exit(99);
}

START_TEST(process_child_never_runs_parent_atexit_handlers)
{
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_NONBLOCK), 0);
    atexit_pipe = fds[1];
    atexit(parent_atexit);
    mproc_process *p = start_process(returns_zero, NULL, 0);
    ck_assert_int_eq(join_code(p), 0);
    char c;
    ck_assert_int_eq(read(fds[0], &c, 1), -1);
    ck_assert_int_eq(errno, EAGAIN);
    mproc_process_destroy(p);
}
END_TEST

static int starts_a_child(void *arg, size_t len)
{
    (void)arg;
    (void)len;
    mproc_process *p;
    if (mproc_process_create(&p, returns_zero, NULL, 0, NULL))
        return 1;
    int rc = mproc_process_start(p);
    mproc_process_destroy(p);
    return rc == MPROC_EINVAL ? 0 : 2;
}

START_TEST(process_daemon_cannot_start_children)
{
    mproc_process *d = make(starts_a_child, NULL, 0, NULL, true);
    ck_assert_int_eq(mproc_process_start(d), 0);
    ck_assert_int_eq(join_code(d), 0);
    mproc_process_destroy(d);
}
END_TEST

/* Makes the test process the reaper of orphans, so a grandchild whose
 * parent dies becomes our child and can be observed and reaped. */
static void become_subreaper(void)
{
    ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
}

/* A pidfd to watch the child that p's target started, once published.
 * Skips the test where pidfds are refused (valgrind before 3.20). */
static int watch_grandchild(mproc_process *p)
{
    WAIT_UNTIL(sh->pid != 0 || !mproc_process_is_alive(p));
    ck_assert_int_gt(sh->pid, 0);
    int fd = mproc__pidfd_open(sh->pid);
    if (fd == -ENOSYS) {
        kill(sh->pid, SIGKILL);
        mproc_process_kill(p);
        mproc_process_join(p, MPROC_FOREVER);
        printf("skipped: no pidfds on this system\n");
        exit(0);
    }
    ck_assert_int_ge(fd, 0);
    return fd;
}

/* Waits up to seconds for the process behind pidfd fd to end. */
static bool ends_within(int fd, double seconds)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    return poll(&pfd, 1, (int)(seconds * 1000)) == 1;
}

/* In a child: starts target as its own child, a daemon or not, and
 * records that child's PID in sh->pid. Returns whether it started. */
static bool start_recorded(mproc_target target, bool daemon)
{
    mproc_process *d;
    mproc_process_opts opts = {.daemon = daemon};
    if (mproc_process_create(&d, target, NULL, 0, &opts) ||
        mproc_process_start(d))
        return false;
    sh->pid = mproc_process_pid(d);
    return true;
}

static int daemon_grandchild(void *arg, size_t len)
{
    (void)len;
    if (!start_recorded(sleeps, *(bool *)arg))
        return 1;
    pause(); /* until a signal kills it */
    return 0;
}

START_TEST(process_daemon_dies_within_two_seconds_of_parent_sigkill)
{
    become_subreaper();
    bool daemon = true;
    mproc_process *p = start_process(daemon_grandchild, &daemon, sizeof daemon);
    int fd = watch_grandchild(p);
    ck_assert(!ends_within(fd, 0.1));
    mproc_process_kill(p);
    ck_assert_int_eq(join_code(p), -SIGKILL);
    ck_assert(ends_within(fd, 2.0 * TIME_SCALE));
    int code = 0;
    ck_assert_int_eq(mproc__child_reap(fd, sh->pid, true, &code), 1);
    ck_assert_int_eq(code, -SIGKILL);
    close(fd);
    mproc_process_destroy(p);
}
END_TEST

START_TEST(process_non_daemon_outlives_parent_sigkill)
{
    become_subreaper();
    bool daemon = false;
    mproc_process *p = start_process(daemon_grandchild, &daemon, sizeof daemon);
    int fd = watch_grandchild(p);
    mproc_process_kill(p);
    ck_assert_int_eq(join_code(p), -SIGKILL);
    ck_assert(!ends_within(fd, 0.5));
    kill(sh->pid, SIGKILL);
    int code;
    ck_assert_int_eq(mproc__child_reap(fd, sh->pid, true, &code), 1);
    close(fd);
    mproc_process_destroy(p);
}
END_TEST

static int sets_flag_later(void *arg, size_t len)
{
    (void)arg;
    (void)len;
    usleep(300000);
    sh->flag = 1;
    return 0;
}

/* Starts a slow non-daemon child and a daemon that sleeps, then ends the
 * way arg says: 0 returns from the target, 1 calls exit() (atexit path). */
static int leaves_children_behind(void *arg, size_t len)
{
    (void)len;
    mproc_process *slow, *d;
    mproc_process_opts daemon = {.daemon = true};
    if (mproc_process_create(&slow, sets_flag_later, NULL, 0, NULL) ||
        mproc_process_create(&d, sleeps, NULL, 0, &daemon) ||
        mproc_process_start(slow) || mproc_process_start(d))
        return 1;
    sh->pid = mproc_process_pid(d);
    if (*(int *)arg == 1)
        exit(0);
    return 0;
}

/* The child can only end (join_code waits at most WAIT_S) if it terminated
 * its daemon, which sleeps forever, and it must have joined the slow child
 * first, which sets the flag. */
static void check_exit_cleanup(int how)
{
    mproc_process *p = start_process(leaves_children_behind, &how, sizeof how);
    ck_assert_int_eq(join_code(p), 0);
    ck_assert_int_eq(sh->flag, 1);
    ck_assert_int_eq(kill(sh->pid, 0), -1); /* the daemon is gone, reaped */
    ck_assert_int_eq(errno, ESRCH);
    mproc_process_destroy(p);
}

START_TEST(process_target_return_joins_children_and_terminates_daemons)
{
    check_exit_cleanup(0);
}
END_TEST

START_TEST(process_exit_joins_children_and_terminates_daemons)
{
    check_exit_cleanup(1);
}
END_TEST

/* A daemon that ignores SIGTERM and sleeps; it says when it is ready. */
static int ignores_sigterm(void *arg, size_t len)
{
    (void)arg;
    (void)len;
    signal(SIGTERM, SIG_IGN);
    sh->flag = 1;
    for (;;)
        pause();
    return 0;
}

/* Starts a daemon that ignores SIGTERM, then ends its process by exit(). */
static int leaves_a_stubborn_daemon(void *arg, size_t len)
{
    (void)arg;
    (void)len;
    if (!start_recorded(ignores_sigterm, true))
        return 1;
    while (!sh->flag)
        usleep(1000);
    exit(0);
}

/* Python would wait for ever; the child must end (join_code waits at most
 * WAIT_S) having killed and reaped its daemon after the 1 s grace. */
START_TEST(process_exit_kills_a_daemon_that_ignores_sigterm)
{
    double t0 = now_s();
    mproc_process *p = start_process(leaves_a_stubborn_daemon, NULL, 0);
    ck_assert_int_eq(join_code(p), 0);
    ck_assert(now_s() - t0 >= 0.9); /* it was given its grace */
    ck_assert_int_eq(kill(sh->pid, 0), -1);
    ck_assert_int_eq(errno, ESRCH);
    mproc_process_destroy(p);
}
END_TEST

static void drop_privileges(void)
{
    if (getuid() != 0)
        return;
    struct passwd *nobody = getpwnam("nobody");
    ck_assert_ptr_nonnull(nobody);
    ck_assert_int_eq(setgroups(0, NULL), 0);
    ck_assert_int_eq(setgid(nobody->pw_gid), 0);
    ck_assert_int_eq(setuid(nobody->pw_uid), 0);
    prctl(PR_SET_DUMPABLE, 1); /* keep /proc/self/fd readable */
}

START_TEST(process_fork_failure_returns_eagain_and_leaks_nothing)
{
    drop_privileges(); /* RLIMIT_NPROC does not bind root */
    struct rlimit old, none;
    ck_assert_int_eq(getrlimit(RLIMIT_NPROC, &old), 0);
    none = old;
    none.rlim_cur = 1;
    ck_assert_int_eq(setrlimit(RLIMIT_NPROC, &none), 0);
    mproc_process *p = make(returns_zero, NULL, 0, NULL, false);
    int fds = open_fds();
    ck_assert_int_eq(mproc_process_start(p), MPROC_EAGAIN);
    ck_assert_int_eq(open_fds(), fds);
    ck_assert(!mproc_process_is_alive(p));
    ck_assert_int_eq(mproc_active_children(NULL, 0), 0);
    ck_assert_int_eq(setrlimit(RLIMIT_NPROC, &old), 0);
    ck_assert_int_eq(mproc_process_start(p), 0); /* still startable */
    ck_assert_int_eq(join_code(p), 0);
    mproc_process_destroy(p);
}
END_TEST

START_TEST(process_pidfd_failure_kills_the_child_and_leaks_nothing)
{
    int probe = mproc__pidfd_open(getpid());
    if (probe < 0) {
        printf("skipped: no pidfds on this system (%d)\n", probe);
        return;
    }
    close(probe);
    mproc_process *p = make(sleeps, NULL, 0, NULL, false);
    int fds = open_fds();
    struct rlimit old, full;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    full = old;
    full.rlim_cur = (rlim_t)fcntl(2, F_DUPFD, 0); /* the lowest free fd */
    close((int)full.rlim_cur);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &full), 0);
    ck_assert_int_eq(mproc_process_start(p), -EMFILE);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
    ck_assert_int_eq(open_fds(), fds);
    ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1); /* no child left */
    ck_assert_int_eq(errno, ECHILD);
    mproc_process_destroy(p);
}
END_TEST

START_TEST(process_cpu_count_follows_the_affinity_mask)
{
    ck_assert_int_ge(mproc_cpu_count(), 1);
    cpu_set_t one;
    CPU_ZERO(&one);
    ck_assert_int_eq(sched_getaffinity(0, sizeof one, &one), 0);
    int first = 0;
    while (!CPU_ISSET(first, &one))
        first++;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    ck_assert_int_eq(sched_setaffinity(0, sizeof one, &one), 0);
    ck_assert_int_eq(mproc_cpu_count(), 1);
}
END_TEST

START_TEST(process_use_after_destroy_aborts)
{
    mproc_process *p = make(returns_zero, NULL, 0, NULL, false);
    /* Keep the memory mapped so the check, not the allocator, fires. */
    mproc_process *stale = p;
    mproc_process_destroy(p);
    mproc_process_join(stale, 0);
}
END_TEST

static int killed_at_random(void *arg, size_t len)
{
    (void)len;
    unsigned spin = *(unsigned *)arg;
    for (volatile unsigned i = 0; i < spin; i++)
        ;
    return 5;
}

START_TEST(process_survives_kills_at_random_moments)
{
    int fds = open_fds();
    srand(12345);
    for (int round = 0; round < 200; round++) {
        unsigned spin = (unsigned)(rand() % 200000);
        mproc_process *p = start_process(killed_at_random, &spin, sizeof spin);
        pid_t pid = mproc_process_pid(p);
        usleep((useconds_t)(rand() % 2000));
        ck_assert_int_eq(mproc_process_kill(p), 0);
        int code = join_code(p);
        ck_assert_msg(code == 5 || code == -SIGKILL, "round %d: code %d", round,
                      code);
        ck_assert(reaped(pid));
        ck_assert_int_eq(mproc_process_destroy(p), 0);
    }
    ck_assert_int_eq(open_fds(), fds);
    ck_assert_int_eq(mproc_active_children(NULL, 0), 0);
}
END_TEST

/* ---- start methods ------------------------------------------------------ */

/* The descriptors of this process that mproc made and no one handed on:
 * its memory files (but the test's own shared pages) and sockets. */
static int stray_fds(void *arg, size_t len)
{
    (void)arg;
    (void)len;
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 100;
    for (struct dirent *e; (e = readdir(d));) {
        char path[300], target[256];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t k = readlink(path, target, sizeof target - 1);
        if (k <= 0)
            continue;
        target[k] = 0;
        if ((strncmp(target, "/memfd:mproc-", 13) == 0 &&
             strncmp(target, "/memfd:mproc-test-", 18) != 0) ||
            strncmp(target, "socket:", 7) == 0)
            n++;
    }
    closedir(d);
    return n;
}

START_TEST(process_child_inherits_no_descriptor_not_handed_to_it)
{
    mproc_queue *q;
    mproc_lock *l;
    int sv[2];
    ck_assert_int_eq(mproc_queue_create(&q, NULL), 0);
    ck_assert_int_eq(mproc_lock_create(&l), 0);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    /* Under fork the child shares the parent's memory, descriptors too;
     * a child that begins with an exec gets only what it was handed. */
    if (fork_only())
        ck_assert_int_ge(run_process(stray_fds, NULL, 0), 3);
    else
        ck_assert_int_eq(run_process(stray_fds, NULL, 0), 0);
    close(sv[0]);
    close(sv[1]);
    mproc_lock_destroy(l);
    mproc_queue_destroy(q);
}
END_TEST

START_TEST(process_forkserver_children_start_with_no_signal_blocked)
{
    /* The server starts while the caller blocks SIGTERM (as a pool does
     * around its workers' start); later children must not inherit that. */
    sigset_t term, old;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &term, &old), 0);
    ck_assert_int_eq(run_process(returns_zero, NULL, 0), 0);
    ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
    mproc_process *p = start_process(sleeps, NULL, 0);
    ck_assert_int_eq(mproc_process_terminate(p), 0);
    ck_assert_int_eq(join_code(p), -SIGTERM);
    mproc_process_destroy(p);
}
END_TEST

START_TEST(process_forkserver_refuses_more_references_than_it_can_hold)
{
    struct rlimit old, low;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = 64;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    ck_assert_int_eq(run_process(returns_zero, NULL, 0), 0); /* the server
                                              starts with 64 descriptors */
    enum { N = 100 };
    mproc_lock *locks[N];
    mproc_ref ref;
    for (int k = 0; k < N; k++) { /* this process raises its own limit */
        ck_assert_int_eq(mproc_lock_create(&locks[k]), 0);
        ck_assert_int_eq(mproc_lock_ref(locks[k], &ref), 0);
    }
    int fds = open_fds();
    mproc_process *p = make(returns_zero, NULL, 0, NULL, false);
    ck_assert_int_eq(mproc_process_start(p), -EMFILE);
    ck_assert_int_eq(open_fds(), fds);
    ck_assert(!mproc_process_is_alive(p));
    for (int k = 0; k < N; k++)
        mproc_lock_destroy(locks[k]);
    ck_assert_int_eq(mproc_process_start(p), 0); /* p stays startable */
    ck_assert_int_eq(finish_process(p), 0);
    setrlimit(RLIMIT_NOFILE, &old);
}
END_TEST

/* Whether the suite's children are children of the test process itself
 * (fork, spawn) rather than of the forkserver: zombies and stdio
 * redirected after the server started are the test process's own only
 * then. */
static bool children_are_own(void)
{
    return test_method() != MPROC_START_FORKSERVER;
}

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;

/* Holds `held` until the test process ends. */
static void *holds_the_mutex(void *arg)
{
    pthread_mutex_lock(&held);
    *(_Atomic int *)arg = 1;
    pause();
    return NULL;
}

/* 0 when it could take `held` within a second, 1 when it could not. */
static int takes_the_mutex(void *arg, size_t len)
{
    (void)arg;
    (void)len;
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += 1;
    return pthread_mutex_timedlock(&held, &t) == 0 ? 0 : 1;
}

START_TEST(process_mutex_held_by_a_thread_wedges_only_a_forked_child)
{
    _Atomic int locked = 0;
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, holds_the_mutex, &locked), 0);
    WAIT_UNTIL(locked);
    /* Under fork the child inherits the mutex held by a thread it does not
     * have, so it would wait for ever (here: its 1 s timeout); spawn and
     * forkserver children start from a clean program. */
    int expected = test_method() == MPROC_START_FORK ? 1 : 0;
    ck_assert_int_eq(run_process(takes_the_mutex, NULL, 0), expected);
}
END_TEST

static int reports_real_parent(void *arg, size_t len)
{
    (void)arg;
    (void)len;
    sh->pid = getppid();
    return 0;
}

/* The PID of the forkserver: the real parent of a child it forks. */
static pid_t forkserver_pid(void)
{
    sh->pid = 0;
    ck_assert_int_eq(run_process(reports_real_parent, NULL, 0), 0);
    ck_assert_int_ne(sh->pid, getpid());
    return sh->pid;
}

START_TEST(process_forkserver_killed_between_starts_is_restarted)
{
    pid_t server = forkserver_pid();
    ck_assert_int_eq(kill(server, SIGKILL), 0);
    wait_zombie(server); /* the test process started it */
    int value = 5;
    ck_assert_int_eq(run_process(returns_arg, &value, sizeof value), 5);
    ck_assert(reaped(server)); /* the restart reaped the dead one */
    ck_assert_int_ne(forkserver_pid(), server);
}
END_TEST

struct start_call {
    mproc_process *p;
    _Atomic int rc;
    _Atomic int done;
};

static void *starts(void *arg)
{
    struct start_call *c = arg;
    c->rc = mproc_process_start(c->p);
    c->done = 1;
    return NULL;
}

START_TEST(process_forkserver_killed_mid_request_fails_that_start_only)
{
    pid_t server = forkserver_pid();
    ck_assert_int_eq(kill(server, SIGSTOP), 0);
    struct start_call c = {.p = NULL};
    ck_assert_int_eq(mproc_process_create(&c.p, returns_zero, NULL, 0, NULL),
                     0);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, starts, &c), 0);
    usleep(100000); /* the request is sent: the stopped server cannot answer */
    ck_assert(!c.done);
    ck_assert_int_eq(kill(server, SIGKILL), 0);
    pthread_join(t, NULL);
    ck_assert_int_eq(c.rc, MPROC_EAGAIN);
    ck_assert_int_eq(mproc_process_start(c.p), 0); /* p stays startable */
    ck_assert_int_eq(finish_process(c.p), 0);
}
END_TEST

START_TEST(process_target_outside_any_object_is_einval_at_start)
{
    void *page = mmap(NULL, 4096, PROT_READ | PROT_EXEC,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(page, MAP_FAILED);
    mproc_process *p;
    int fds = open_fds();
    ck_assert_int_eq(
        mproc_process_create(&p, (mproc_target)(uintptr_t)page, NULL, 0, NULL),
        0);
    ck_assert_int_eq(mproc_process_start(p), MPROC_EINVAL);
    ck_assert(!mproc_process_is_alive(p));
    ck_assert_int_eq(mproc_process_destroy(p), 0);
    ck_assert_int_eq(open_fds(), fds);
    munmap(page, 4096);
}
END_TEST

START_TEST(process_init_again_does_nothing_and_bad_arguments_are_einval)
{
    char prog[] = "prog", *args[] = {prog, NULL}, **argv = args;
    int argc = 1, fds = open_fds();
    ck_assert_int_eq(mproc_init(&argc, &argv), 0); /* test_init called it */
    ck_assert_int_eq(open_fds(), fds);
    ck_assert_int_eq(mproc_init(NULL, &argv), MPROC_EINVAL);
    ck_assert_int_eq(mproc_init(&argc, NULL), MPROC_EINVAL);
    argc = 0;
    ck_assert_int_eq(mproc_init(&argc, &argv), MPROC_EINVAL);
}
END_TEST

START_TEST(process_start_method_is_set_once_unless_forced)
{
    mproc_start_method m = mproc_get_start_method();
    ck_assert_int_eq(m, test_method());
    ck_assert_int_eq(mproc_set_start_method(MPROC_START_SPAWN, false),
                     MPROC_EBUSY);
    ck_assert_int_eq(mproc_set_start_method(MPROC_START_DEFAULT, true),
                     MPROC_EINVAL);
    ck_assert_int_eq(mproc_set_start_method(MPROC_START_SPAWN, true), 0);
    ck_assert_int_eq(mproc_get_start_method(), MPROC_START_SPAWN);
    mproc_process *p;
    mproc_process_opts bad = {.start_method = (mproc_start_method)9};
    ck_assert_int_eq(mproc_process_create(&p, returns_zero, NULL, 0, &bad),
                     MPROC_EINVAL);
    /* A method given at create wins over the process-wide one. */
    mproc_process_opts fork = {.start_method = MPROC_START_FORK};
    ck_assert_int_eq(
        mproc_process_create(&p, reports_real_parent, NULL, 0, &fork), 0);
    ck_assert_int_eq(mproc_process_start(p), 0);
    ck_assert_int_eq(finish_process(p), 0);
    ck_assert_int_eq(sh->pid, getpid());
}
END_TEST

int main(int argc, char **argv)
{
    test_init(&argc, &argv, setup);
    Suite *s = suite_create("process");
    TCase *tc = tcase_create("process");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, process_exitcode_is_the_target_return_value);
    tcase_add_test(tc, process_arg_bytes_are_copied_at_create);
    tcase_add_test(tc, process_exitcode_keeps_the_low_eight_bits);
    tcase_add_test(tc, process_kill_gives_exitcode_minus_nine);
    tcase_add_test(tc, process_terminate_and_interrupt_send_sigterm_and_sigint);
    tcase_add_test(tc, process_join_times_out_no_earlier_than_the_timeout);
    tcase_add_test(tc, process_join_may_be_repeated);
    tcase_add_test(tc, process_leaves_no_zombie_after_join);
    tcase_add_test(tc, process_is_alive_follows_the_lifecycle);
    tcase_add_test(tc, process_sentinel_becomes_readable_at_exit);
    tcase_add_test(tc, process_misuse_before_start_is_einval);
    tcase_add_test(tc, process_start_twice_is_einval);
    tcase_add_test(tc, process_destroy_while_running_is_ebusy);
    tcase_add_test(tc, process_create_rejects_bad_arguments);
    tcase_add_test(tc, process_join_with_nan_timeout_is_einval);
    tcase_add_test(tc, process_names_follow_python_scheme);
    if (fork_only()) /* copies of the parent's handles exist under fork */
        tcase_add_test(tc, process_parent_handles_are_einval_in_a_child);
    if (children_are_own()) {
        tcase_add_test(tc,
                       process_active_children_lists_running_and_reaps_ended);
        tcase_add_test(tc, process_start_reaps_children_that_have_ended);
        tcase_add_test(tc, process_child_flushes_stdio_before_exit);
    }
    tcase_add_test(tc, process_child_never_runs_parent_atexit_handlers);
    tcase_add_test(tc, process_daemon_cannot_start_children);
    tcase_add_test(tc,
                   process_daemon_dies_within_two_seconds_of_parent_sigkill);
    tcase_add_test(tc, process_non_daemon_outlives_parent_sigkill);
    tcase_add_test(tc,
                   process_target_return_joins_children_and_terminates_daemons);
    tcase_add_test(tc, process_exit_joins_children_and_terminates_daemons);
    tcase_add_test(tc, process_exit_kills_a_daemon_that_ignores_sigterm);
    tcase_add_test(tc, process_fork_failure_returns_eagain_and_leaks_nothing);
    tcase_add_test(tc, process_pidfd_failure_kills_the_child_and_leaks_nothing);
    tcase_add_test(tc, process_cpu_count_follows_the_affinity_mask);
    tcase_add_test(tc,
                   process_mutex_held_by_a_thread_wedges_only_a_forked_child);
    tcase_add_test(tc, process_start_method_is_set_once_unless_forced);
    tcase_add_test(
        tc, process_init_again_does_nothing_and_bad_arguments_are_einval);
    if (!fork_only()) /* under fork the child would run the page */
        tcase_add_test(tc,
                       process_target_outside_any_object_is_einval_at_start);
    tcase_add_test(tc, process_child_inherits_no_descriptor_not_handed_to_it);
    if (test_method() == MPROC_START_FORKSERVER) {
        tcase_add_test(
            tc, process_forkserver_refuses_more_references_than_it_can_hold);
        tcase_add_test(
            tc, process_forkserver_children_start_with_no_signal_blocked);
        tcase_add_test(tc,
                       process_forkserver_killed_between_starts_is_restarted);
        tcase_add_test(
            tc, process_forkserver_killed_mid_request_fails_that_start_only);
    }
    if (!checked_memory())
        tcase_add_test_raise_signal(tc, process_use_after_destroy_aborts,
                                    SIGABRT);
    suite_add_tcase(s, tc);

    TCase *stress = tcase_create("stress");
    tcase_set_tags(stress, "stress");
    tcase_add_checked_fixture(stress, setup, NULL);
    tcase_set_timeout(stress, 120);
    tcase_add_test(stress, process_survives_kills_at_random_moments);
    suite_add_tcase(s, stress);
    return run_suite(s);
}
