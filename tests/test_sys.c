/* test_sys.c - the raw Linux wrappers under src/sys/. */
#include "check_main.h"
#include "kit/presence.h"
#include "kit/token.h"
#include "mproc.h"
#include "sys/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static int64_t ns(double s)
{
    return (int64_t)(s * 1e9);
}

START_TEST(deadline_negative_timeout_is_forever)
{
    int64_t d;
    ck_assert_int_eq(mproc__deadline(MPROC_FOREVER, &d), 0);
    ck_assert(d == MPROC__NO_DEADLINE);
    ck_assert_int_eq(mproc__deadline(-0.5, &d), 0);
    ck_assert(d == MPROC__NO_DEADLINE);
}
END_TEST

START_TEST(deadline_positive_timeout_is_now_plus_timeout)
{
    int64_t d, before = mproc__now();
    ck_assert_int_eq(mproc__deadline(1.5, &d), 0);
    ck_assert(d >= before + ns(1.5));
    ck_assert(d <= mproc__now() + ns(1.5));
}
END_TEST

START_TEST(deadline_huge_timeout_saturates_to_forever)
{
    int64_t d;
    ck_assert_int_eq(mproc__deadline(1e300, &d), 0);
    ck_assert(d == MPROC__NO_DEADLINE);
}
END_TEST

START_TEST(deadline_nan_is_einval)
{
    int64_t d = 42;
    ck_assert_int_eq(mproc__deadline(NAN, &d), MPROC_EINVAL);
    ck_assert(d == 42);
}
END_TEST

START_TEST(expired_is_eagain_for_zero_and_etimedout_otherwise)
{
    ck_assert_int_eq(mproc__expired(0), MPROC_EAGAIN);
    ck_assert_int_eq(mproc__expired(0.1), MPROC_ETIMEDOUT);
}
END_TEST

START_TEST(futex_wait_returns_at_once_when_value_differs)
{
    _Atomic uint32_t word = 1;
    double t0 = now_s();
    ck_assert_int_eq(mproc__futex_wait(&word, 0, MPROC__NO_DEADLINE), 0);
    ck_assert(now_s() - t0 < 1.0 * TIME_SCALE);
}
END_TEST

START_TEST(futex_wait_times_out_no_earlier_than_deadline)
{
    _Atomic uint32_t word = 0;
    int64_t deadline = mproc__now() + ns(0.2);
    int rc;
    do
        rc = mproc__futex_wait(&word, 0, deadline);
    while (rc == 0);
    ck_assert_int_eq(rc, MPROC_ETIMEDOUT);
    ck_assert(mproc__now() >= deadline);
    ck_assert(mproc__now() < deadline + ns(1.0 * TIME_SCALE));
}
END_TEST

START_TEST(futex_wake_wakes_a_waiter_in_another_process)
{
    void *mem;
    ck_assert_int_eq(mproc__shared_map("test", 4096, 0, &mem, NULL), 0);
    _Atomic uint32_t *word = mem;
    pid_t pid = fork();
    if (pid == 0) {
        while (atomic_load(word) == 0)
            mproc__futex_wait(word, 0, mproc__now() + ns(10));
        _exit(atomic_load(word) == 7 ? 0 : 1);
    }
    wait_blocked(pid, SYS_futex);
    atomic_store(word, 7);
    ck_assert_int_ge(mproc__futex_wake(word, 1), 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    mproc__shared_unmap(mem, 4096);
}
END_TEST

START_TEST(poll_in_retries_signals_until_the_deadline)
{
    alarm_every(20000);
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
    int64_t deadline = mproc__now() + ns(0.3);
    ck_assert_int_eq(mproc__poll_in(fds[0], deadline), 0);
    ck_assert(mproc__now() >= deadline);
    alarm_every(0);
}
END_TEST

START_TEST(nap_grows_and_stops_at_the_deadline)
{
    int64_t nap = 0, deadline = mproc__now() + ns(0.1);
    ck_assert_int_eq(mproc__nap(deadline, &nap), 1);
    ck_assert(nap == ns(0.001));
    ck_assert_int_eq(mproc__nap(deadline, &nap), 1);
    ck_assert(nap == ns(0.002));
    while (mproc__nap(deadline, &nap))
        ck_assert(nap <= ns(0.064));
    ck_assert(mproc__now() >= deadline);
}
END_TEST

START_TEST(poll_in_reports_a_readable_fd)
{
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
    ck_assert_int_eq(write(fds[1], "x", 1), 1);
    ck_assert_int_eq(mproc__poll_in(fds[0], MPROC__NO_DEADLINE), 1);
    ck_assert_int_eq(mproc__poll_in(fds[0], mproc__now()), 1);
}
END_TEST

START_TEST(pidfd_reap_reports_exit_status_and_signal)
{
    pid_t a = fork();
    if (a == 0)
        _exit(42);
    pid_t b = fork();
    if (b == 0) {
        pause();
        _exit(0);
    }
    int fa = mproc__pidfd_open(a), fb = mproc__pidfd_open(b);
    if (fa == -ENOSYS) { /* valgrind < 3.20: the by-PID path */
        printf("pidfd_open: ENOSYS, checking the by-PID fallback\n");
        fa = fb = -1;
    } else {
        ck_assert_int_ge(fa, 0);
        ck_assert_int_ge(fb, 0);
        ck_assert(fcntl(fa, F_GETFD) & FD_CLOEXEC);
    }
    int code = 0;
    ck_assert_int_eq(mproc__child_reap(fb, b, false, &code), 0); /* runs */
    ck_assert_int_eq(mproc__child_signal(fb, b, SIGKILL), 0);
    ck_assert_int_eq(mproc__child_reap(fa, a, true, &code), 1);
    ck_assert_int_eq(code, 42);
    ck_assert_int_eq(mproc__child_reap(fb, b, true, &code), 1);
    ck_assert_int_eq(code, -SIGKILL);
    ck_assert_int_eq(mproc__child_reap(fa, a, false, &code), -ECHILD);
    if (fa >= 0) {
        ck_assert_int_eq(mproc__child_signal(fa, a, SIGTERM), -ESRCH);
        close(fa);
        close(fb);
    }
}
END_TEST

START_TEST(shared_map_is_shared_with_forked_children)
{
    void *mem;
    int fd;
    ck_assert_int_eq(mproc__shared_map("test", 8192, 0, &mem, &fd), 0);
    ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    ck_assert_int_eq(((char *)mem)[8191], 0); /* zero-filled */
    pid_t pid = fork();
    if (pid == 0) {
        strcpy(mem, "from child");
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    ck_assert_str_eq(mem, "from child");
    close(fd);
    mproc__shared_unmap(mem, 8192);
}
END_TEST

START_TEST(shared_map_rejects_zero_and_unmappable_sizes_leaking_nothing)
{
    void *mem = NULL;
    int before = open_fds();
    ck_assert_int_eq(mproc__shared_map("test", 0, 0, &mem, NULL), MPROC_EINVAL);
    ck_assert_int_eq(mproc__shared_map("test", SIZE_MAX / 2, 0, &mem, NULL),
                     MPROC_ENOMEM);
    ck_assert_ptr_null(mem);
    ck_assert_int_eq(open_fds(), before);
}
END_TEST

START_TEST(shared_map_sparse_takes_pages_on_touch)
{
    void *mem;
    size_t size = (size_t)4 << 30; /* 4 GiB of address space */
    ck_assert_int_eq(
        mproc__shared_map("test", size, MPROC__MAP_SPARSE, &mem, NULL), 0);
    ((char *)mem)[size - 1] = 1;
    ck_assert_int_eq(((char *)mem)[size - 1], 1);
    mproc__shared_unmap(mem, size);
}
END_TEST

START_TEST(token_names_a_live_process_until_it_exits)
{
    uint64_t me = mproc__self_token();
    ck_assert_int_eq((pid_t)(uint32_t)me, getpid());
    ck_assert(mproc__token_alive(me));
    ck_assert(!mproc__token_alive(me + ((uint64_t)1 << 32))); /* reused PID */
    ck_assert(!mproc__token_alive(0));

    _Atomic uint64_t *child_token;
    ck_assert_int_eq(
        mproc__shared_map("test", 4096, 0, (void **)&child_token, NULL), 0);
    pid_t pid = fork();
    if (pid == 0) {
        *child_token = mproc__self_token(); /* not the parent's cache */
        pause();
    }
    WAIT_UNTIL(*child_token != 0);
    ck_assert_int_eq((pid_t)(uint32_t)*child_token, pid);
    ck_assert(mproc__token_alive(*child_token));
    kill(pid, SIGKILL);
    wait_zombie(pid); /* a zombie already counts as dead */
    ck_assert(!mproc__token_alive(*child_token));
    waitpid(pid, NULL, 0);
    ck_assert(!mproc__token_alive(*child_token));
}
END_TEST

START_TEST(robust_word_is_marked_when_its_holding_process_dies)
{
    struct {
        mproc__robust word;
        _Atomic int held;
    } * m;
    ck_assert_int_eq(mproc__shared_map("test", 4096, 0, (void **)&m, NULL), 0);
    ck_assert_int_eq(mproc__robust_init(&m->word), 0);
    ck_assert_int_eq(mproc__robust_try(&m->word), 0);
    ck_assert_int_eq(mproc__robust_try(&m->word), MPROC_EBUSY); /* by me */
    mproc__robust_release(&m->word);
    pid_t pid = fork();
    if (pid == 0) {
        m->held = mproc__robust_try(&m->word) == 0 ? 1 : -1;
        pause();
    }
    WAIT_UNTIL(m->held != 0);
    ck_assert_int_eq(m->held, 1);
    ck_assert_int_eq(mproc__robust_try(&m->word), MPROC_EBUSY);
    kill(pid, SIGKILL);
    wait_zombie(pid); /* marked as the thread exits, before any reaping */
    ck_assert_int_eq(mproc__robust_try(&m->word), MPROC_EOWNERDEAD);
    mproc__robust_release(&m->word);
    ck_assert_int_eq(mproc__robust_try(&m->word), 0); /* sound again */
    mproc__robust_release(&m->word);
    waitpid(pid, NULL, 0);
    mproc__shared_unmap(m, 4096);
}
END_TEST

/* A guard and a table of two presences in shared memory. */
struct presences {
    mproc__lock guard;
    mproc__presence table[2];
    _Atomic int held; /* a child's hold: index + 1; -1 for none */
};

/* Forks a child that holds a presence of m's table, looking from index 0,
 * until killed; returns once it holds one, and its PID. */
static pid_t fork_holder(struct presences *m)
{
    m->held = 0;
    pid_t pid = fork();
    if (pid == 0) {
        mproc__lock_acquire(&m->guard, MPROC_FOREVER);
        int i = mproc__presence_hold(m->table, 2, 0, &m->guard);
        mproc__lock_release(&m->guard);
        m->held = i < 0 ? -1 : i + 1;
        pause();
    }
    WAIT_UNTIL(m->held != 0);
    return pid;
}

static void kill_zombie(pid_t pid)
{
    kill(pid, SIGKILL);
    wait_zombie(pid);
}

START_TEST(presences_are_held_checked_and_freed_by_a_holders_death)
{
    struct presences *m;
    ck_assert_int_eq(mproc__shared_map("test", 4096, 0, (void **)&m, NULL), 0);
    ck_assert_int_eq(mproc__lock_acquire(&m->guard, 0), 0);
    ck_assert_int_eq(mproc__presence_hold(m->table, 2, 1, &m->guard), 1);
    ck_assert_int_eq(mproc__presence_hold(m->table, 2, 1, &m->guard), 0);
    ck_assert_int_eq(mproc__presence_hold(m->table, 2, 0, &m->guard), -1);
    ck_assert(mproc__presence_alive(&m->table[0])); /* held by me */
    mproc__presence_drop(&m->table[0]);
    mproc__presence_drop(&m->table[1]);
    ck_assert(!mproc__presence_alive(&m->table[0])); /* held by nobody */
    mproc__lock_release(&m->guard);

    /* A holder's death shows in a look, which frees the presence. */
    pid_t pid = fork_holder(m);
    ck_assert_int_eq(m->held, 1);
    ck_assert(mproc__presence_alive(&m->table[0]));
    kill_zombie(pid);
    ck_assert(!mproc__presence_alive(&m->table[0]));
    pid_t again = fork_holder(m);
    ck_assert_int_eq(m->held, 1); /* the freed one, first again */

    /* A hold takes a dead holder's presence without a look first. */
    kill_zombie(again);
    ck_assert_int_eq(mproc__lock_acquire(&m->guard, 0), 0);
    ck_assert_int_eq(mproc__presence_hold(m->table, 2, 0, &m->guard), 0);
    mproc__presence_drop(&m->table[0]);
    mproc__lock_release(&m->guard);
    waitpid(pid, NULL, 0);
    waitpid(again, NULL, 0);
    mproc__shared_unmap(m, 4096);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sys");
    TCase *tc = tcase_create("sys");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, deadline_negative_timeout_is_forever);
    tcase_add_test(tc, deadline_positive_timeout_is_now_plus_timeout);
    tcase_add_test(tc, deadline_huge_timeout_saturates_to_forever);
    tcase_add_test(tc, deadline_nan_is_einval);
    tcase_add_test(tc, expired_is_eagain_for_zero_and_etimedout_otherwise);
    tcase_add_test(tc, futex_wait_returns_at_once_when_value_differs);
    tcase_add_test(tc, futex_wait_times_out_no_earlier_than_deadline);
    tcase_add_test(tc, futex_wake_wakes_a_waiter_in_another_process);
    tcase_add_test(tc, poll_in_retries_signals_until_the_deadline);
    tcase_add_test(tc, poll_in_reports_a_readable_fd);
    tcase_add_test(tc, nap_grows_and_stops_at_the_deadline);
    tcase_add_test(tc, pidfd_reap_reports_exit_status_and_signal);
    tcase_add_test(tc, shared_map_is_shared_with_forked_children);
    tcase_add_test(
        tc, shared_map_rejects_zero_and_unmappable_sizes_leaking_nothing);
    tcase_add_test(tc, shared_map_sparse_takes_pages_on_touch);
    tcase_add_test(tc, token_names_a_live_process_until_it_exits);
    tcase_add_test(tc, robust_word_is_marked_when_its_holding_process_dies);
    tcase_add_test(tc, presences_are_held_checked_and_freed_by_a_holders_death);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
