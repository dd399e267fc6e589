/*
 * test_log.c - the event log: MPROC_DEBUG, mproc_log_to_stderr, and one
 * line per event (process start and exit, a pool worker replaced, a lock
 * recovered from a dead holder, a queue repaired), each naming the PID and
 * name of the process that writes it; nothing at all while it is off.
 *
 * Each test captures its process's standard error in a temporary file
 * (capture_start / capture_end). MPROC_DEBUG is read once per process, at
 * the first event: each test sets or clears it before its first mproc
 * call, in its own forked process.
 */
#include "check_main.h"

#include "kit/log.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>

/* ---- capturing standard error -------------------------------------------- */

static int saved_stderr = -1;
static FILE *captured;

static void capture_start(void)
{
    fflush(stderr);
    captured = tmpfile();
    ck_assert_ptr_nonnull(captured);
    saved_stderr = dup(STDERR_FILENO);
    ck_assert_int_ge(saved_stderr, 0);
    ck_assert_int_eq(dup2(fileno(captured), STDERR_FILENO), STDERR_FILENO);
}

/* Restores standard error; returns what was written meanwhile (malloc'd,
 * NUL-terminated). */
static char *capture_end(void)
{
    fflush(stderr);
    ck_assert_int_eq(dup2(saved_stderr, STDERR_FILENO), STDERR_FILENO);
    close(saved_stderr);
    long n = ftell(captured);
    ck_assert_int_ge(n, 0);
    char *text = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(text);
    rewind(captured);
    ck_assert_uint_eq(fread(text, 1, (size_t)n, captured), (size_t)n);
    text[n] = '\0';
    fclose(captured);
    return text;
}

/* Asserts that text has a line containing want (a printf format). */
#define ck_assert_logged(text, ...)                                            \
    do {                                                                       \
        char want_[256];                                                       \
        snprintf(want_, sizeof want_, __VA_ARGS__);                            \
        ck_assert_msg(strstr((text), want_) != NULL,                           \
                      "no line with \"%s\" in:\n%s", want_, (text));           \
    } while (0)

/* The prefix of every line the calling process writes. */
static const char *prefix_of(const char *name)
{
    static char p[128];
    snprintf(p, sizeof p, "mproc[%d %s]: ", (int)getpid(), name);
    return p;
}

/* Checks that every line of text starts "mproc[" and ends with a newline. */
static void ck_assert_lines(const char *text)
{
    size_t len = strlen(text);
    ck_assert_msg(len == 0 || text[len - 1] == '\n', "unended line: %s", text);
    for (const char *l = text; *l; l = strchr(l, '\n') + 1)
        ck_assert_msg(strncmp(l, "mproc[", 6) == 0, "stray line: %s", l);
}

/* ---- what the tests run ---------------------------------------------------
 */

/* A process run to its end: its PID, its name and its exit code. */
struct ran {
    pid_t pid;
    char name[64];
    int code;
};

static struct ran run_named(mproc_target target, const void *arg, size_t arglen)
{
    struct ran r;
    mproc_process *p = start_process(target, arg, arglen);
    r.pid = mproc_process_pid(p);
    snprintf(r.name, sizeof r.name, "%s", mproc_process_name(p));
    r.code = finish_process(p);
    return r;
}

/* Creates a pool of one worker, closes it, joins it and destroys it. */
static void run_idle_pool(void)
{
    mproc_pool *pool;
    mproc_pool_opts po = {.processes = 1};
    ck_assert_int_eq(mproc_pool_create(&pool, &po), 0);
    ck_assert_int_eq(mproc_pool_close(pool), 0);
    ck_assert_int_eq(mproc_pool_join(pool, WAIT_S), 0);
    mproc_pool_destroy(pool);
}

static int exit_with(void *arg, size_t len)
{
    (void)len;
    return *(int *)arg;
}

static int die_by_sigkill(void *arg, size_t len)
{
    (void)arg;
    (void)len;
    raise(SIGKILL);
    return 0;
}

/* Starts a child of its own (named Process-N:1) and joins it. */
static int start_grandchild(void *arg, size_t len)
{
    (void)arg;
    (void)len;
    int zero = 0;
    mproc_process *p;
    if (mproc_process_create(&p, exit_with, &zero, sizeof zero, NULL) ||
        mproc_process_start(p) || mproc_process_join(p, MPROC_FOREVER))
        return 1;
    return mproc_process_destroy(p) == 0 ? 0 : 2;
}

/* ---- the level ------------------------------------------------------------
 */

/* The level a fresh process sees with MPROC_DEBUG set to value (NULL:
 * unset), as its exit status. */
static int level_for(const char *value)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (value)
            setenv("MPROC_DEBUG", value, 1);
        else
            unsetenv("MPROC_DEBUG");
        _exit(mproc_log_level());
    }
    return child_exit_status(pid);
}

START_TEST(log_level_reads_mproc_debug)
{
    ck_assert_int_eq(level_for(NULL), MPROC_LOG_OFF);
    ck_assert_int_eq(level_for(""), MPROC_LOG_OFF);
    ck_assert_int_eq(level_for("0"), MPROC_LOG_OFF);
    ck_assert_int_eq(level_for("1"), MPROC_LOG_INFO);
    ck_assert_int_eq(level_for("info"), MPROC_LOG_INFO);
    ck_assert_int_eq(level_for("yes"), MPROC_LOG_INFO);
    ck_assert_int_eq(level_for("2"), MPROC_LOG_DEBUG);
    ck_assert_int_eq(level_for("debug"), MPROC_LOG_DEBUG);
    ck_assert_int_eq(level_for("9"), MPROC_LOG_DEBUG);
}
END_TEST

START_TEST(log_to_stderr_overrides_the_environment)
{
    setenv("MPROC_DEBUG", "1", 1);
    ck_assert_int_eq(mproc_log_to_stderr(MPROC_LOG_OFF), 0);
    ck_assert_int_eq(mproc_log_level(), MPROC_LOG_OFF);
    capture_start();
    int zero = 0;
    ck_assert_int_eq(run_process(exit_with, &zero, sizeof zero), 0);
    char *text = capture_end();
    ck_assert_str_eq(text, "");
    free(text);
    ck_assert_int_eq(mproc_log_to_stderr(7), 0);
    ck_assert_int_eq(mproc_log_level(), MPROC_LOG_DEBUG);
    ck_assert_int_eq(mproc_log_to_stderr(-1), MPROC_EINVAL);
    ck_assert_int_eq(mproc_log_level(), MPROC_LOG_DEBUG);
}
END_TEST

/* ---- off ------------------------------------------------------------------
 */

static int hold_lock_and_return(void *arg, size_t len)
{
    (void)len;
    return mproc_lock_acquire(*(mproc_lock **)arg, MPROC_FOREVER) == 0 ? 0 : 1;
}

START_TEST(log_off_by_default_writes_nothing)
{
    unsetenv("MPROC_DEBUG");
    capture_start();
    int three = 3;
    ck_assert_int_eq(run_process(exit_with, &three, sizeof three), 3);
    ck_assert_int_eq(run_process(die_by_sigkill, NULL, 0), -SIGKILL);
    mproc_lock *l;
    ck_assert_int_eq(mproc_lock_create(&l), 0);
    ck_assert_int_eq(run_process(hold_lock_and_return, &l, sizeof l), 0);
    ck_assert_int_eq(mproc_lock_acquire(l, 5.0), MPROC_EOWNERDEAD);
    mproc_lock_destroy(l);
    char *text = capture_end();
    ck_assert_str_eq(text, "");
    free(text);
    ck_assert_int_eq(mproc_log_level(), MPROC_LOG_OFF);
}
END_TEST

/* ---- process start and exit ---------------------------------------------- */

START_TEST(log_shows_start_and_exit_with_pid_and_name)
{
    setenv("MPROC_DEBUG", "1", 1);
    capture_start();
    int three = 3;
    struct ran r = run_named(exit_with, &three, sizeof three);
    ck_assert_int_eq(r.code, 3);
    struct ran k = run_named(die_by_sigkill, NULL, 0);
    ck_assert_int_eq(k.code, -SIGKILL);
    char *text = capture_end();
    ck_assert_lines(text);
    const char *me = prefix_of("MainProcess");
    ck_assert_logged(text, "%sstarted %s (pid %d)\n", me, r.name, (int)r.pid);
    ck_assert_logged(text, "%s%s (pid %d) exited with code 3\n", me, r.name,
                     (int)r.pid);
    ck_assert_logged(text, "(pid %d) killed by signal 9 (SIGKILL)\n",
                     (int)k.pid);
    free(text);
}
END_TEST

START_TEST(log_lines_of_a_child_carry_its_pid_and_name)
{
    setenv("MPROC_DEBUG", "1", 1);
    capture_start();
    struct ran r = run_named(start_grandchild, NULL, 0);
    ck_assert_int_eq(r.code, 0);
    char *text = capture_end();
    ck_assert_lines(text);
    ck_assert_logged(text, "mproc[%d %s]: started %s:1 (pid ", (int)r.pid,
                     r.name, r.name);
    ck_assert_logged(text, "mproc[%d %s]: %s:1 (pid ", (int)r.pid, r.name,
                     r.name);
    free(text);
}
END_TEST

static int sleep_forever(void *arg, size_t len)
{
    (void)arg;
    (void)len;
    for (;;)
        pause();
    return 0;
}

/* Starts a daemon, "sleeper", and returns: the exit terminates it. The
 * daemon must not inherit the runner's SIGTERM handler (helpers.h). */
static int start_daemon_and_return(void *arg, size_t len)
{
    (void)arg;
    (void)len;
    default_sigterm_sigint();
    mproc_process_opts o = {.name = "sleeper", .daemon = true};
    mproc_process *p;
    if (mproc_process_create(&p, sleep_forever, NULL, 0, &o) != 0 ||
        mproc_process_start(p) != 0)
        return 1;
    return 0;
}

START_TEST(log_debug_level_adds_exit_handling_and_pool_life)
{
    setenv("MPROC_DEBUG", "2", 1);
    capture_start();
    struct ran r = run_named(start_daemon_and_return, NULL, 0);
    ck_assert_int_eq(r.code, 0);
    run_idle_pool();
    char *text = capture_end();
    ck_assert_lines(text);
    ck_assert_logged(text,
                     "mproc[%d %s]: at exit: terminating daemon sleeper "
                     "(pid ",
                     (int)r.pid, r.name);
    ck_assert_logged(text, "mproc[%d %s]: sleeper (pid ", (int)r.pid, r.name);
    ck_assert_logged(text, ") killed by signal 15 (SIGTERM)\n");
    ck_assert_logged(text, "%spool ", prefix_of("MainProcess"));
    ck_assert_logged(text, " created with 1 workers\n");
    ck_assert_logged(text, " closed: its workers exit once its tasks are done");
    ck_assert_logged(text, "started ForkPoolWorker-1 (pid ");
    free(text);
}
END_TEST

START_TEST(log_info_level_leaves_out_debug_lines)
{
    setenv("MPROC_DEBUG", "1", 1);
    capture_start();
    run_idle_pool();
    char *text = capture_end();
    ck_assert_lines(text);
    ck_assert_logged(text, "started ForkPoolWorker-1 (pid ");
    ck_assert_ptr_null(strstr(text, " created with "));
    ck_assert_ptr_null(strstr(text, " closed: "));
    ck_assert_ptr_null(strstr(text, "pool worker"));
    ck_assert_ptr_null(strstr(text, "at exit: "));
    free(text);
}
END_TEST

/* ---- recovery events ------------------------------------------------------
 */

START_TEST(log_shows_a_lock_recovered_from_a_dead_holder)
{
    setenv("MPROC_DEBUG", "1", 1);
    mproc_lock *l;
    ck_assert_int_eq(mproc_lock_create(&l), 0);
    capture_start();
    struct ran r = run_named(hold_lock_and_return, &l, sizeof l);
    ck_assert_int_eq(r.code, 0);
    ck_assert_int_eq(mproc_lock_acquire(l, WAIT_S), MPROC_EOWNERDEAD);
    char *text = capture_end();
    ck_assert_lines(text);
    ck_assert_logged(text, "%slock 0x", prefix_of("MainProcess"));
    ck_assert_logged(text, " recovered from dead holder pid %d\n", (int)r.pid);
    free(text);
    mproc_lock_destroy(l);
}
END_TEST

static int crash_task(const void *arg, size_t len, mproc_buf *out)
{
    (void)arg;
    (void)len;
    (void)out;
    raise(SIGKILL);
    return 0;
}

START_TEST(log_shows_a_pool_worker_replaced_and_why)
{
    setenv("MPROC_DEBUG", "1", 1);
    capture_start();
    mproc_pool *pool;
    mproc_pool_opts po = {.processes = 1};
    ck_assert_int_eq(mproc_pool_create(&pool, &po), 0);
    ck_assert_int_eq(mproc_pool_apply(pool, crash_task, NULL, 0, NULL, NULL),
                     MPROC_EWORKERDIED);
    mproc_pool_destroy(pool);
    char *text = capture_end();
    ck_assert_lines(text);
    ck_assert_logged(text, "%spool worker ForkPoolWorker-1 (pid ",
                     prefix_of("MainProcess"));
    ck_assert_logged(text, ") killed by signal 9 (SIGKILL) running a task; "
                           "replacing it\n");
    ck_assert_logged(text, "started ForkPoolWorker-2 (pid ");
    free(text);
}
END_TEST

/* Puts a message 25 times the ring's size: it streams, and blocks once the
 * ring is full, holding the producers' lock. */
static int put_stream(void *arg, size_t len)
{
    (void)len;
    mproc_queue *q = *(mproc_queue **)arg;
    static char big[100000];
    return mproc_queue_put(q, big, sizeof big, MPROC_FOREVER) == 0 ? 0 : 1;
}

static int put_ok(void *arg, size_t len)
{
    (void)len;
    mproc_queue *q = *(mproc_queue **)arg;
    return mproc_queue_put(q, "ok", 2, MPROC_FOREVER) == 0 ? 0 : 1;
}

START_TEST(log_shows_a_queue_repaired_after_a_producer_died)
{
    setenv("MPROC_DEBUG", "1", 1);
    mproc_queue_opts o = {.maxsize = 4, .capacity = 4096};
    mproc_queue *q;
    ck_assert_int_eq(mproc_queue_create(&q, &o), 0);
    capture_start();
    mproc_process *p = start_process(put_stream, &q, sizeof q);
    WAIT_UNTIL(mproc_queue_qsize(q) != 0); /* its first piece is in */
    kill_and_join(p);
    /* whichever of the get (waiting in the stream) and the put first needs
     * the dead producer's lock takes it over and repairs */
    p = start_process(put_ok, &q, sizeof q);
    void *buf;
    size_t len;
    ck_assert_int_eq(mproc_queue_get_alloc(q, &buf, &len, WAIT_S), 0);
    ck_assert_uint_eq(len, 2);
    free(buf);
    ck_assert_int_eq(finish_process(p), 0);
    char *text = capture_end();
    ck_assert_lines(text);
    ck_assert_logged(text, "]: queue 0x");
    ck_assert_logged(text, ": producer died; repairing\n");
    ck_assert_logged(text, " recovered from dead holder pid ");
    free(text);
    mproc_queue_destroy(q);
}
END_TEST

START_TEST(log_has_the_forkserver_restarted_event)
{
    ck_assert_int_eq(mproc_log_to_stderr(MPROC_LOG_OFF), 0);
    capture_start();
    mproc__log_forkserver_restarted(100, 200);
    char *text = capture_end();
    ck_assert_str_eq(text, "");
    free(text);
    ck_assert_int_eq(mproc_log_to_stderr(MPROC_LOG_INFO), 0);
    capture_start();
    mproc__log_forkserver_restarted(100, 200);
    text = capture_end();
    ck_assert_lines(text);
    ck_assert_logged(text,
                     "%sforkserver (pid 100) is gone; restarted as pid 200\n",
                     prefix_of("MainProcess"));
    free(text);
}
END_TEST

/* Takes the Lock its argument names (a reference) and returns 0 when it
 * was recovered from a dead holder. */
static int take_ref_lock(void *arg, size_t len)
{
    mproc_ref ref;
    mproc_lock *l;
    if (len != sizeof ref)
        return 2;
    memcpy(&ref, arg, sizeof ref);
    if (mproc_lock_open(&l, ref) != 0)
        return 3;
    return mproc_lock_acquire(l, MPROC_FOREVER) == MPROC_EOWNERDEAD ? 0 : 1;
}

START_TEST(log_lines_of_a_spawned_child_carry_its_name)
{
    setenv("MPROC_DEBUG", "1", 1);
    mproc_lock *l;
    ck_assert_int_eq(mproc_lock_create(&l), 0);
    capture_start();
    ck_assert_int_eq(run_process(hold_lock_and_return, &l, sizeof l), 0);
    mproc_ref ref;
    ck_assert_int_eq(mproc_lock_ref(l, &ref), 0);
    ck_assert_int_eq(mproc_set_start_method(MPROC_START_SPAWN, true), 0);
    struct ran r = run_named(take_ref_lock, &ref, sizeof ref);
    ck_assert_int_eq(r.code, 0);
    char *text = capture_end();
    ck_assert_lines(text);
    ck_assert_logged(text, "mproc[%d %s]: lock 0x", (int)r.pid, r.name);
    free(text);
    mproc_lock_destroy(l);
}
END_TEST

/* The one child of the test process that it did not start itself: the
 * forkserver, once the process's children are joined. */
static pid_t only_child(void)
{
    pid_t found = 0;
    DIR *d = opendir("/proc");
    ck_assert_ptr_nonnull(d);
    for (struct dirent *e; (e = readdir(d));) {
        char path[64], comm[64], state;
        int pid = atoi(e->d_name), ppid;
        snprintf(path, sizeof path, "/proc/%d/stat", pid);
        FILE *f = pid > 0 ? fopen(path, "r") : NULL;
        if (!f)
            continue;
        if (fscanf(f, "%*d %63s %c %d", comm, &state, &ppid) == 3 &&
            ppid == getpid()) {
            ck_assert_int_eq(found, 0);
            found = pid;
        }
        fclose(f);
    }
    closedir(d);
    ck_assert_int_ne(found, 0);
    return found;
}

START_TEST(log_shows_the_forkserver_restarted)
{
    setenv("MPROC_DEBUG", "1", 1);
    ck_assert_int_eq(mproc_set_start_method(MPROC_START_FORKSERVER, true), 0);
    capture_start();
    int seven = 7;
    ck_assert_int_eq(run_process(exit_with, &seven, sizeof seven), 7);
    pid_t server = only_child();
    ck_assert_int_eq(kill(server, SIGKILL), 0);
    wait_zombie(server);
    ck_assert_int_eq(run_process(exit_with, &seven, sizeof seven), 7);
    char *text = capture_end();
    ck_assert_lines(text);
    ck_assert_logged(text, "%sforkserver (pid %d) is gone; restarted as pid ",
                     prefix_of("MainProcess"), (int)server);
    ck_assert_logged(text, " exited with code 7\n");
    free(text);
}
END_TEST

/* ---- the lines themselves ---------------------------------------------- */

START_TEST(log_cuts_a_long_line_and_ends_it)
{
    setenv("MPROC_DEBUG", "1", 1);
    char name[700];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    mproc_process_opts o = {.name = name};
    mproc_process *p;
    int zero = 0;
    ck_assert_int_eq(
        mproc_process_create(&p, exit_with, &zero, sizeof zero, &o), 0);
    capture_start();
    ck_assert_int_eq(mproc_process_start(p), 0);
    ck_assert_int_eq(finish_process(p), 0);
    char *text = capture_end();
    ck_assert_lines(text);
    for (const char *l = text; *l; l = strchr(l, '\n') + 1)
        ck_assert_int_le(strchr(l, '\n') - l + 1, 512);
    free(text);
}
END_TEST

START_TEST(log_to_a_closed_pipe_raises_no_sigpipe_and_keeps_errno)
{
    setenv("MPROC_DEBUG", "1", 1);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    close(fds[0]);
    int saved = dup(STDERR_FILENO);
    ck_assert_int_eq(dup2(fds[1], STDERR_FILENO), STDERR_FILENO);
    int zero = 0;
    /* logs "started" and "exited": no SIGPIPE ends this process */
    ck_assert_int_eq(run_process(exit_with, &zero, sizeof zero), 0);
    errno = 1234;
    mproc__log_forkserver_restarted(100, 200);
    int err = errno;
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fds[1]);
    ck_assert_int_eq(err, 1234);
    sigset_t pending;
    sigpending(&pending);
    ck_assert(!sigismember(&pending, SIGPIPE));
}
END_TEST

int main(int argc, char **argv)
{
    test_init(&argc, &argv, NULL);
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("log");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, log_level_reads_mproc_debug);
    tcase_add_test(tc, log_to_stderr_overrides_the_environment);
    tcase_add_test(tc, log_off_by_default_writes_nothing);
    tcase_add_test(tc, log_shows_start_and_exit_with_pid_and_name);
    tcase_add_test(tc, log_lines_of_a_child_carry_its_pid_and_name);
    tcase_add_test(tc, log_debug_level_adds_exit_handling_and_pool_life);
    tcase_add_test(tc, log_info_level_leaves_out_debug_lines);
    tcase_add_test(tc, log_shows_a_lock_recovered_from_a_dead_holder);
    tcase_add_test(tc, log_shows_a_pool_worker_replaced_and_why);
    tcase_add_test(tc, log_shows_a_queue_repaired_after_a_producer_died);
    tcase_add_test(tc, log_has_the_forkserver_restarted_event);
    /* spawn and the forkserver exec the program, which fails under
     * valgrind; no spawn or forkserver case runs there */
    if (!under_valgrind()) {
        tcase_add_test(tc, log_lines_of_a_spawned_child_carry_its_name);
        tcase_add_test(tc, log_shows_the_forkserver_restarted);
    }
    tcase_add_test(tc, log_cuts_a_long_line_and_ends_it);
    tcase_add_test(tc, log_to_a_closed_pipe_raises_no_sigpipe_and_keeps_errno);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
