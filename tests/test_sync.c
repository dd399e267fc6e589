/* test_sync.c - Lock, RLock, Semaphore, Condition, Event, Barrier: Python's
 * semantics across processes, timeouts, and owner death. */
#include "check_main.h"
#include "kit/lock.h"
#include "mproc.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

/* A page shared with every process a test starts, for facts a child must
 * hand back beyond its exit status (readiness, counters). */
struct shared {
    _Atomic int ready;
    _Atomic int woken;
    _Atomic int stop;
    long counter;
    int inside;
};
static struct shared *sh;

/* The objects under test, made before children start (they inherit them). */
static mproc_lock *lk;
static mproc_rlock *rl;
static mproc_semaphore *sem;
static mproc_condition *cond;
static mproc_event *ev;
static mproc_barrier *bar;

static void setup(void)
{
    default_sigterm_sigint();
    sh = shared_mem(sizeof *sh);
    lk = NULL;
    rl = NULL;
    sem = NULL;
    cond = NULL;
    ev = NULL;
    bar = NULL;
}

static void teardown(void)
{
    mproc_lock_destroy(lk);
    mproc_condition_destroy(cond);
    mproc_rlock_destroy(rl);
    mproc_semaphore_destroy(sem);
    mproc_event_destroy(ev);
    mproc_barrier_destroy(bar);
    munmap(sh, sizeof *sh);
}

/* Starts target with the argument arg. */
static mproc_process *run(mproc_target target, long arg)
{
    return start_process(target, &arg, sizeof arg);
}

static long arg_of(const void *arg)
{
    long v;
    memcpy(&v, arg, sizeof v);
    return v;
}

/* Waits until n children have said they are ready. */
static void wait_ready(int n)
{
    WAIT_UNTIL(atomic_load(&sh->ready) >= n);
}

/* ---- Lock ---- */

START_TEST(lock_acquire_and_release_toggle_locked)
{
    ck_assert_int_eq(mproc_lock_create(&lk), 0);
    ck_assert(!mproc_lock_locked(lk));
    ck_assert_int_eq(mproc_lock_acquire(lk, MPROC_FOREVER), 0);
    ck_assert(mproc_lock_locked(lk));
    ck_assert_int_eq(mproc_lock_release(lk), 0);
    ck_assert(!mproc_lock_locked(lk));
}
END_TEST

START_TEST(lock_release_of_unlocked_is_einval)
{
    ck_assert_int_eq(mproc_lock_create(&lk), 0);
    ck_assert_int_eq(mproc_lock_release(lk), MPROC_EINVAL);
}
END_TEST

START_TEST(lock_try_when_held_is_eagain)
{
    ck_assert_int_eq(mproc_lock_create(&lk), 0);
    ck_assert_int_eq(mproc_lock_acquire(lk, 0), 0);
    ck_assert_int_eq(mproc_lock_acquire(lk, 0), MPROC_EAGAIN);
}
END_TEST

START_TEST(lock_acquire_times_out_when_held)
{
    ck_assert_int_eq(mproc_lock_create(&lk), 0);
    ck_assert_int_eq(mproc_lock_acquire(lk, 0), 0);
    double t0 = now_s();
    ck_assert_int_eq(mproc_lock_acquire(lk, 0.12), MPROC_ETIMEDOUT);
    double dt = now_s() - t0;
    ck_assert(dt >= 0.11 && dt < 5.0 * TIME_SCALE);
}
END_TEST

START_TEST(lock_nan_timeout_is_einval)
{
    ck_assert_int_eq(mproc_lock_create(&lk), 0);
    ck_assert_int_eq(mproc_lock_acquire(lk, NAN), MPROC_EINVAL);
    ck_assert(!mproc_lock_locked(lk));
}
END_TEST

START_TEST(lock_wait_absorbs_signals)
{
    alarm_every(5000);
    ck_assert_int_eq(mproc_lock_create(&lk), 0);
    ck_assert_int_eq(mproc_lock_acquire(lk, 0), 0);
    double t0 = now_s();
    ck_assert_int_eq(mproc_lock_acquire(lk, 0.2), MPROC_ETIMEDOUT);
    ck_assert(now_s() - t0 >= 0.19);
    alarm_every(0);
}
END_TEST

static int release_lock(void *arg, size_t len)
{
    (void)arg, (void)len;
    return mproc_lock_release(lk) == 0 ? 0 : 1;
}

START_TEST(lock_released_by_another_process)
{
    ck_assert_int_eq(mproc_lock_create(&lk), 0);
    ck_assert_int_eq(mproc_lock_acquire(lk, 0), 0);
    ck_assert_int_eq(finish_process(run(release_lock, 0)), 0);
    ck_assert(!mproc_lock_locked(lk));
}
END_TEST

static int count_under_lock(void *arg, size_t len)
{
    (void)len;
    long n = arg_of(arg);
    for (long i = 0; i < n; i++) {
        if (mproc_lock_acquire(lk, 10 * TIME_SCALE) != 0)
            return 1;
        sh->counter++;
        if (mproc_lock_release(lk) != 0)
            return 2;
    }
    return 0;
}

START_TEST(lock_excludes_other_processes)
{
    ck_assert_int_eq(mproc_lock_create(&lk), 0);
    mproc_process *a = run(count_under_lock, 20000);
    mproc_process *b = run(count_under_lock, 20000);
    ck_assert_int_eq(count_under_lock(&(long){20000}, sizeof(long)), 0);
    ck_assert_int_eq(finish_process(a), 0);
    ck_assert_int_eq(finish_process(b), 0);
    ck_assert_int_eq(sh->counter, 60000);
}
END_TEST

static int acquire_lock_and_exit(void *arg, size_t len)
{
    (void)arg, (void)len;
    if (mproc_lock_acquire(lk, 0) != 0)
        return 1;
    atomic_store(&sh->ready, 1);
    if (arg_of(arg))
        pause(); /* wait to be killed */
    mproc__exit(0);
}

START_TEST(lock_holder_exit_gives_eownerdead_once)
{
    ck_assert_int_eq(mproc_lock_create(&lk), 0);
    ck_assert_int_eq(finish_process(run(acquire_lock_and_exit, 0)), 0);
    ck_assert(mproc_lock_locked(lk));
    ck_assert_int_eq(mproc_lock_acquire(lk, MPROC_FOREVER), MPROC_EOWNERDEAD);
    ck_assert_int_eq(mproc_lock_release(lk), 0);
    ck_assert_int_eq(mproc_lock_acquire(lk, 0), 0);
    ck_assert_int_eq(mproc_lock_release(lk), 0);
}
END_TEST

static int acquire_lock_forever(void *arg, size_t len)
{
    (void)arg, (void)len;
    atomic_fetch_add(&sh->ready, 1);
    int rc = mproc_lock_acquire(lk, MPROC_FOREVER);
    return rc == MPROC_EOWNERDEAD ? 0 : rc == 0 ? 1 : 2;
}

START_TEST(lock_holder_sigkill_wakes_blocked_waiter_with_eownerdead)
{
    ck_assert_int_eq(mproc_lock_create(&lk), 0);
    mproc_process *holder = run(acquire_lock_and_exit, 1);
    wait_ready(1);
    mproc_process *waiter = run(acquire_lock_forever, 0);
    wait_ready(2);
    wait_blocked(mproc_process_pid(waiter), SYS_futex); /* on the lock */
    double t0 = now_s();
    kill_and_join(holder);
    ck_assert_int_eq(finish_process(waiter), 0);
    ck_assert(now_s() - t0 < 2.0 * TIME_SCALE);
}
END_TEST

START_TEST(lock_try_on_dead_holder_gives_eownerdead)
{
    ck_assert_int_eq(mproc_lock_create(&lk), 0);
    mproc_process *holder = run(acquire_lock_and_exit, 1);
    wait_ready(1);
    kill_and_join(holder);
    ck_assert_int_eq(mproc_lock_acquire(lk, 0), MPROC_EOWNERDEAD);
    ck_assert_int_eq(mproc_lock_acquire(lk, 0), MPROC_EAGAIN);
}
END_TEST

START_TEST(lock_holder_with_reused_pid_counts_as_dead)
{
    /* The holder's PID is ours, its start time another process's: the
     * holder died and its PID was recycled (to us). */
    mproc__lock l;
    mproc__lock_init(&l);
    uint64_t me = mproc__self_token();
    atomic_store(&l.own, me + ((uint64_t)1 << 32));
    ck_assert_int_eq(mproc__lock_acquire(&l, 0), MPROC_EOWNERDEAD);
    ck_assert(mproc__lock_mine(&l));
    ck_assert_int_eq(mproc__lock_release(&l), 0);
}
END_TEST

START_TEST(lock_held_by_live_process_is_never_taken_over)
{
    ck_assert_int_eq(mproc_lock_create(&lk), 0);
    mproc_process *holder = run(acquire_lock_and_exit, 1);
    wait_ready(1);
    ck_assert_int_eq(mproc_lock_acquire(lk, 0.3), MPROC_ETIMEDOUT);
    ck_assert_int_eq(mproc_lock_acquire(lk, 0), MPROC_EAGAIN);
    kill_and_join(holder);
}
END_TEST

static int wait_lock_then_release(void *arg, size_t len)
{
    (void)arg, (void)len;
    atomic_fetch_add(&sh->ready, 1);
    if (mproc_lock_acquire(lk, 10 * TIME_SCALE) != 0)
        return 1;
    return mproc_lock_release(lk) == 0 ? 0 : 2;
}

START_TEST(lock_release_wakes_waiter_in_other_process)
{
    ck_assert_int_eq(mproc_lock_create(&lk), 0);
    ck_assert_int_eq(mproc_lock_acquire(lk, 0), 0);
    mproc_process *w = run(wait_lock_then_release, 0);
    wait_ready(1);
    wait_blocked(mproc_process_pid(w), SYS_futex);
    ck_assert_int_eq(mproc_lock_release(lk), 0);
    ck_assert_int_eq(finish_process(w), 0);
}
END_TEST

/* ---- RLock ---- */

START_TEST(rlock_is_reentrant)
{
    ck_assert_int_eq(mproc_rlock_create(&rl), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(mproc_rlock_acquire(rl, 0), 0);
    for (int i = 0; i < 3; i++) {
        ck_assert(mproc_rlock_locked(rl));
        ck_assert_int_eq(mproc_rlock_release(rl), 0);
    }
    ck_assert(!mproc_rlock_locked(rl));
    ck_assert_int_eq(mproc_rlock_release(rl), MPROC_EPERM);
}
END_TEST

static void *try_rlock_thread(void *arg)
{
    (void)arg;
    intptr_t rel = mproc_rlock_release(rl);
    intptr_t acq = mproc_rlock_acquire(rl, 0);
    return (void *)(intptr_t)(rel == MPROC_EPERM && acq == MPROC_EAGAIN ? 0
                                                                        : 1);
}

START_TEST(rlock_is_owned_by_one_thread)
{
    ck_assert_int_eq(mproc_rlock_create(&rl), 0);
    ck_assert_int_eq(mproc_rlock_acquire(rl, 0), 0);
    pthread_t t;
    void *res;
    ck_assert_int_eq(pthread_create(&t, NULL, try_rlock_thread, NULL), 0);
    ck_assert_int_eq(pthread_join(t, &res), 0);
    ck_assert_ptr_null(res);
    ck_assert_int_eq(mproc_rlock_release(rl), 0);
}
END_TEST

static int try_parents_rlock(void *arg, size_t len)
{
    (void)arg, (void)len;
    if (mproc_rlock_release(rl) != MPROC_EPERM)
        return 1;
    return mproc_rlock_acquire(rl, 0) == MPROC_EAGAIN ? 0 : 2;
}

START_TEST(rlock_is_not_owned_by_forked_child)
{
    ck_assert_int_eq(mproc_rlock_create(&rl), 0);
    ck_assert_int_eq(mproc_rlock_acquire(rl, 0), 0);
    ck_assert_int_eq(finish_process(run(try_parents_rlock, 0)), 0);
    ck_assert_int_eq(mproc_rlock_release(rl), 0);
}
END_TEST

static int take_rlock_twice_and_exit(void *arg, size_t len)
{
    (void)arg, (void)len;
    if (mproc_rlock_acquire(rl, 0) != 0 || mproc_rlock_acquire(rl, 0) != 0)
        return 1;
    return 0;
}

START_TEST(rlock_holder_death_gives_eownerdead_with_one_level)
{
    ck_assert_int_eq(mproc_rlock_create(&rl), 0);
    ck_assert_int_eq(finish_process(run(take_rlock_twice_and_exit, 0)), 0);
    ck_assert_int_eq(mproc_rlock_acquire(rl, 1.0 * TIME_SCALE),
                     MPROC_EOWNERDEAD);
    ck_assert_int_eq(mproc_rlock_release(rl), 0);
    ck_assert(!mproc_rlock_locked(rl));
    ck_assert_int_eq(mproc_rlock_acquire(rl, 0), 0);
    ck_assert_int_eq(mproc_rlock_release(rl), 0);
}
END_TEST

/* ---- Semaphore ---- */

START_TEST(semaphore_counts_units)
{
    ck_assert_int_eq(mproc_semaphore_create(&sem, 2, false), 0);
    ck_assert_int_eq(mproc_semaphore_get_value(sem), 2);
    ck_assert_int_eq(mproc_semaphore_acquire(sem, 0), 0);
    ck_assert_int_eq(mproc_semaphore_acquire(sem, 0), 0);
    ck_assert(mproc_semaphore_locked(sem));
    ck_assert_int_eq(mproc_semaphore_acquire(sem, 0), MPROC_EAGAIN);
    ck_assert_int_eq(mproc_semaphore_release(sem), 0);
    ck_assert_int_eq(mproc_semaphore_get_value(sem), 1);
    ck_assert(!mproc_semaphore_locked(sem));
}
END_TEST

START_TEST(semaphore_acquire_times_out)
{
    ck_assert_int_eq(mproc_semaphore_create(&sem, 0, false), 0);
    double t0 = now_s();
    ck_assert_int_eq(mproc_semaphore_acquire(sem, 0.1), MPROC_ETIMEDOUT);
    ck_assert(now_s() - t0 >= 0.09);
    ck_assert_int_eq(mproc_semaphore_acquire(sem, NAN), MPROC_EINVAL);
}
END_TEST

START_TEST(unbounded_semaphore_release_goes_above_start)
{
    ck_assert_int_eq(mproc_semaphore_create(&sem, 1, false), 0);
    ck_assert_int_eq(mproc_semaphore_release(sem), 0);
    ck_assert_int_eq(mproc_semaphore_get_value(sem), 2);
}
END_TEST

START_TEST(bounded_semaphore_refuses_release_above_start)
{
    ck_assert_int_eq(mproc_semaphore_create(&sem, 1, true), 0);
    ck_assert_int_eq(mproc_semaphore_release(sem), MPROC_EINVAL);
    ck_assert_int_eq(mproc_semaphore_acquire(sem, 0), 0);
    ck_assert_int_eq(mproc_semaphore_release(sem), 0);
    ck_assert_int_eq(mproc_semaphore_get_value(sem), 1);
}
END_TEST

START_TEST(semaphore_release_at_int_max_is_einval)
{
    ck_assert_int_eq(mproc_semaphore_create(&sem, INT_MAX, false), 0);
    ck_assert_int_eq(mproc_semaphore_release(sem), MPROC_EINVAL);
    ck_assert_int_eq(mproc_semaphore_get_value(sem), INT_MAX);
}
END_TEST

START_TEST(semaphore_create_rejects_bad_arguments)
{
    ck_assert_int_eq(mproc_semaphore_create(&sem, 0x80000000u, false),
                     MPROC_EINVAL);
    ck_assert_int_eq(mproc_semaphore_create(NULL, 1, false), MPROC_EINVAL);
    ck_assert_ptr_null(sem);
}
END_TEST

static int take_semaphore(void *arg, size_t len)
{
    (void)arg, (void)len;
    atomic_fetch_add(&sh->ready, 1);
    return mproc_semaphore_acquire(sem, 10 * TIME_SCALE) == 0 ? 0 : 1;
}

START_TEST(semaphore_release_wakes_waiter_in_other_process)
{
    ck_assert_int_eq(mproc_semaphore_create(&sem, 0, false), 0);
    mproc_process *a = run(take_semaphore, 0);
    mproc_process *b = run(take_semaphore, 0);
    wait_ready(2);
    wait_blocked(mproc_process_pid(a), SYS_futex);
    wait_blocked(mproc_process_pid(b), SYS_futex);
    ck_assert_int_eq(mproc_semaphore_release(sem), 0);
    ck_assert_int_eq(mproc_semaphore_release(sem), 0);
    ck_assert_int_eq(finish_process(a), 0);
    ck_assert_int_eq(finish_process(b), 0);
    ck_assert_int_eq(mproc_semaphore_get_value(sem), 0);
}
END_TEST

/* ---- Condition ---- */

START_TEST(condition_calls_without_lock_are_eperm)
{
    ck_assert_int_eq(mproc_condition_create(&cond, NULL), 0);
    ck_assert_int_eq(mproc_condition_wait(cond, 0), MPROC_EPERM);
    ck_assert_int_eq(mproc_condition_notify(cond, 1), MPROC_EPERM);
    ck_assert_int_eq(mproc_condition_notify_all(cond), MPROC_EPERM);
    ck_assert_int_eq(mproc_condition_release(cond), MPROC_EPERM);
}
END_TEST

START_TEST(condition_wait_times_out_with_lock_held_at_same_depth)
{
    ck_assert_int_eq(mproc_condition_create(&cond, NULL), 0);
    ck_assert_int_eq(mproc_condition_acquire(cond, 0), 0);
    ck_assert_int_eq(mproc_condition_acquire(cond, 0), 0);
    ck_assert_int_eq(mproc_condition_wait(cond, 0), MPROC_EAGAIN);
    double t0 = now_s();
    ck_assert_int_eq(mproc_condition_wait(cond, 0.1), MPROC_ETIMEDOUT);
    ck_assert(now_s() - t0 >= 0.09);
    ck_assert_int_eq(mproc_condition_release(cond), 0);
    ck_assert_int_eq(mproc_condition_release(cond), 0);
    ck_assert_int_eq(mproc_condition_release(cond), MPROC_EPERM);
}
END_TEST

static int wait_on_condition(void *arg, size_t len)
{
    (void)len;
    if (mproc_condition_acquire(cond, 10 * TIME_SCALE) != 0)
        return 1;
    atomic_fetch_add(&sh->ready, 1);
    int rc = mproc_condition_wait(cond, (double)arg_of(arg) * TIME_SCALE);
    if (rc == 0)
        atomic_fetch_add(&sh->woken, 1);
    if (mproc_condition_release(cond) != 0)
        return 2;
    return rc == 0 ? 0 : 3;
}

/* Waits until n waiters sit inside wait: each counted itself holding the
 * lock, which it gives up only inside wait. */
static void wait_waiters(int n)
{
    wait_ready(n);
    ck_assert_int_eq(mproc_condition_acquire(cond, 10 * TIME_SCALE), 0);
    mproc_condition_release(cond);
}

START_TEST(condition_notify_wakes_exactly_n_waiters)
{
    ck_assert_int_eq(mproc_condition_create(&cond, NULL), 0);
    mproc_process *w[3];
    for (int i = 0; i < 3; i++)
        w[i] = run(wait_on_condition, 20);
    wait_waiters(3);
    ck_assert_int_eq(mproc_condition_acquire(cond, 10 * TIME_SCALE), 0);
    ck_assert_int_eq(mproc_condition_notify(cond, 1), 0);
    ck_assert_int_eq(mproc_condition_release(cond), 0);
    WAIT_UNTIL(atomic_load(&sh->woken) >= 1);
    usleep(200000); /* room for a wrong second wake-up to show */
    ck_assert_int_eq(atomic_load(&sh->woken), 1);
    ck_assert_int_eq(mproc_condition_acquire(cond, 10 * TIME_SCALE), 0);
    ck_assert_int_eq(mproc_condition_notify_all(cond), 0);
    ck_assert_int_eq(mproc_condition_release(cond), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(finish_process(w[i]), 0);
    ck_assert_int_eq(atomic_load(&sh->woken), 3);
}
END_TEST

static int pong_on_condition(void *arg, size_t len)
{
    (void)len;
    if (mproc_condition_acquire(cond, 10 * TIME_SCALE) != 0)
        return 1;
    for (long i = 0; i < arg_of(arg); i++) {
        while (sh->counter == 0)
            if (mproc_condition_wait(cond, 10 * TIME_SCALE) != 0)
                return 2;
        sh->counter = 0;
        if (mproc_condition_notify(cond, 1) != 0)
            return 3;
    }
    return mproc_condition_release(cond) == 0 ? 0 : 4;
}

START_TEST(condition_notifier_that_then_waits_never_takes_its_own_notify)
{
    /* Regression: a notify followed at once by the notifier's own wait
     * must wake the other waiter, not the notifier (a ping-pong hung). */
    ck_assert_int_eq(mproc_condition_create(&cond, NULL), 0);
    mproc_process *p = run(pong_on_condition, 2000);
    ck_assert_int_eq(mproc_condition_acquire(cond, 10 * TIME_SCALE), 0);
    for (int i = 0; i < 2000; i++) {
        sh->counter = 1;
        ck_assert_int_eq(mproc_condition_notify(cond, 1), 0);
        while (sh->counter == 1)
            ck_assert_int_eq(mproc_condition_wait(cond, 10 * TIME_SCALE), 0);
    }
    ck_assert_int_eq(mproc_condition_release(cond), 0);
    ck_assert_int_eq(finish_process(p), 0);
}
END_TEST

START_TEST(condition_over_given_rlock_shares_it)
{
    ck_assert_int_eq(mproc_rlock_create(&rl), 0);
    ck_assert_int_eq(mproc_condition_create(&cond, rl), 0);
    ck_assert_int_eq(mproc_rlock_acquire(rl, 0), 0);
    ck_assert_int_eq(mproc_condition_wait(cond, 0.01), MPROC_ETIMEDOUT);
    ck_assert_int_eq(mproc_condition_notify(cond, 1), 0);
    ck_assert_int_eq(mproc_condition_release(cond), 0);
    ck_assert(!mproc_rlock_locked(rl));
}
END_TEST

static int notify_and_die_holding(void *arg, size_t len)
{
    (void)arg, (void)len;
    if (mproc_condition_acquire(cond, 10 * TIME_SCALE) != 0)
        return 1;
    mproc_condition_notify(cond, 1);
    return 0; /* exits holding the lock */
}

START_TEST(condition_wait_reports_eownerdead_when_lock_holder_died)
{
    ck_assert_int_eq(mproc_condition_create(&cond, NULL), 0);
    ck_assert_int_eq(mproc_condition_acquire(cond, 0), 0);
    mproc_process *p = run(notify_and_die_holding, 0);
    ck_assert_int_eq(mproc_condition_wait(cond, 10 * TIME_SCALE),
                     MPROC_EOWNERDEAD);
    ck_assert_int_eq(finish_process(p), 0);
    ck_assert_int_eq(mproc_condition_release(cond), 0);
    ck_assert_int_eq(mproc_condition_release(cond), MPROC_EPERM);
}
END_TEST

START_TEST(condition_over_given_rlock_wakes_waiter_on_rlock_release)
{
    ck_assert_int_eq(mproc_rlock_create(&rl), 0);
    ck_assert_int_eq(mproc_condition_create(&cond, rl), 0);
    mproc_process *w = run(wait_on_condition, 20);
    wait_waiters(1);
    ck_assert_int_eq(mproc_rlock_acquire(rl, 10 * TIME_SCALE), 0);
    ck_assert_int_eq(mproc_condition_notify(cond, 1), 0);
    ck_assert_int_eq(mproc_rlock_release(rl), 0); /* not through cond */
    double t0 = now_s();
    ck_assert_int_eq(finish_process(w), 0);
    ck_assert(now_s() - t0 < 5 * TIME_SCALE);
}
END_TEST

static int hold_condition_and_exit(void *arg, size_t len)
{
    (void)arg, (void)len;
    return mproc_condition_acquire(cond, 0) == 0 ? 0 : 1;
}

START_TEST(condition_lock_holder_death_gives_eownerdead)
{
    ck_assert_int_eq(mproc_condition_create(&cond, NULL), 0);
    ck_assert_int_eq(finish_process(run(hold_condition_and_exit, 0)), 0);
    ck_assert_int_eq(mproc_condition_acquire(cond, 1.0 * TIME_SCALE),
                     MPROC_EOWNERDEAD);
    ck_assert_int_eq(mproc_condition_notify(cond, 1), 0);
    ck_assert_int_eq(mproc_condition_release(cond), 0);
    ck_assert_int_eq(mproc_condition_acquire(cond, 0), 0);
    ck_assert_int_eq(mproc_condition_release(cond), 0);
}
END_TEST

START_TEST(condition_still_wakes_live_waiter_after_waiter_death)
{
    ck_assert_int_eq(mproc_condition_create(&cond, NULL), 0);
    mproc_process *doomed = run(wait_on_condition, 20);
    wait_waiters(1);
    kill_and_join(doomed);
    mproc_process *live = run(wait_on_condition, 20);
    wait_waiters(2);
    ck_assert_int_eq(mproc_condition_acquire(cond, 10 * TIME_SCALE), 0);
    ck_assert_int_eq(mproc_condition_notify(cond, 1), 0);
    ck_assert_int_eq(mproc_condition_release(cond), 0);
    double t0 = now_s();
    ck_assert_int_eq(finish_process(live), 0);
    ck_assert(now_s() - t0 < 5 * TIME_SCALE);
}
END_TEST

static int wait_and_get_killed(void *arg, size_t len)
{
    (void)arg, (void)len;
    if (mproc_condition_acquire(cond, 10 * TIME_SCALE) != 0)
        return 1;
    atomic_fetch_add(&sh->ready, 1);
    mproc_condition_wait(cond, MPROC_FOREVER);
    atomic_store(&sh->woken, 1);
    pause(); /* holding the lock, until killed */
    return 0;
}

START_TEST(condition_waiter_killed_after_wakeup_gives_eownerdead)
{
    ck_assert_int_eq(mproc_condition_create(&cond, NULL), 0);
    mproc_process *p = run(wait_and_get_killed, 0);
    wait_waiters(1);
    ck_assert_int_eq(mproc_condition_acquire(cond, 10 * TIME_SCALE), 0);
    ck_assert_int_eq(mproc_condition_notify(cond, 1), 0);
    ck_assert_int_eq(mproc_condition_release(cond), 0);
    WAIT_UNTIL(atomic_load(&sh->woken)); /* it re-took the lock */
    kill_and_join(p);
    ck_assert_int_eq(mproc_condition_acquire(cond, 5 * TIME_SCALE),
                     MPROC_EOWNERDEAD);
    ck_assert_int_eq(mproc_condition_release(cond), 0);
}
END_TEST

/* ---- Event ---- */

START_TEST(event_set_clear_and_is_set)
{
    ck_assert_int_eq(mproc_event_create(&ev), 0);
    ck_assert(!mproc_event_is_set(ev));
    ck_assert_int_eq(mproc_event_wait(ev, 0), MPROC_EAGAIN);
    ck_assert_int_eq(mproc_event_set(ev), 0);
    ck_assert(mproc_event_is_set(ev));
    ck_assert_int_eq(mproc_event_wait(ev, MPROC_FOREVER), 0);
    ck_assert_int_eq(mproc_event_set(ev), 0);
    ck_assert_int_eq(mproc_event_clear(ev), 0);
    ck_assert(!mproc_event_is_set(ev));
}
END_TEST

START_TEST(event_wait_times_out)
{
    ck_assert_int_eq(mproc_event_create(&ev), 0);
    double t0 = now_s();
    ck_assert_int_eq(mproc_event_wait(ev, 0.1), MPROC_ETIMEDOUT);
    ck_assert(now_s() - t0 >= 0.09);
    ck_assert_int_eq(mproc_event_wait(ev, NAN), MPROC_EINVAL);
}
END_TEST

static int wait_event(void *arg, size_t len)
{
    (void)arg, (void)len;
    atomic_fetch_add(&sh->ready, 1);
    return mproc_event_wait(ev, 10 * TIME_SCALE) == 0 ? 0 : 1;
}

START_TEST(event_set_wakes_every_waiter)
{
    ck_assert_int_eq(mproc_event_create(&ev), 0);
    mproc_process *w[3];
    for (int i = 0; i < 3; i++)
        w[i] = run(wait_event, 0);
    wait_ready(3);
    for (int i = 0; i < 3; i++)
        wait_blocked(mproc_process_pid(w[i]), SYS_futex);
    ck_assert_int_eq(mproc_event_set(ev), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(finish_process(w[i]), 0);
}
END_TEST

START_TEST(event_waiter_sees_set_even_if_cleared_at_once)
{
    ck_assert_int_eq(mproc_event_create(&ev), 0);
    mproc_process *w = run(wait_event, 0);
    wait_ready(1);
    /* Set and clear at once while the waiter sleeps, and again while it
     * has not returned within a second (scaled): only a waiter that
     * remembers a set it slept through can return; one that looks for the
     * flag alone almost never sees it. */
    int code = 1000;
    for (int i = 0; i < 8 && code == 1000; i++) {
        wait_blocked(mproc_process_pid(w), SYS_futex);
        ck_assert_int_eq(mproc_event_set(ev), 0);
        ck_assert_int_eq(mproc_event_clear(ev), 0);
        if (mproc_process_join(w, 1.0 * TIME_SCALE) == 0)
            mproc_process_exitcode(w, &code);
    }
    ck_assert_int_eq(code, 0);
    mproc_process_destroy(w);
}
END_TEST

/* ---- Barrier ---- */

/* Waits at the barrier with the timeout arg, scaled (negative: for ever);
 * exits with its index, 100 when the barrier broke, 101 on other errors. */
static int barrier_party(void *arg, size_t len)
{
    (void)len;
    atomic_fetch_add(&sh->ready, 1);
    int rc = mproc_barrier_wait(bar, (double)arg_of(arg) * TIME_SCALE);
    return rc >= 0 ? rc : rc == MPROC_EBROKEN ? 100 : 101;
}

START_TEST(barrier_gives_each_party_its_own_index)
{
    ck_assert_int_eq(mproc_barrier_create(&bar, 3), 0);
    ck_assert_uint_eq(mproc_barrier_parties(bar), 3);
    mproc_process *a = run(barrier_party, 10);
    mproc_process *b = run(barrier_party, 10);
    int mine = mproc_barrier_wait(bar, 10 * TIME_SCALE);
    ck_assert_int_ge(mine, 0);
    int ca = finish_process(a), cb = finish_process(b);
    ck_assert_msg(ca >= 0 && ca < 3 && cb >= 0 && cb < 3,
                  "children exited %d and %d", ca, cb);
    ck_assert_int_eq((1 << mine) | (1 << ca) | (1 << cb), 7);
    ck_assert_uint_eq(mproc_barrier_n_waiting(bar), 0);
}
END_TEST

static int barrier_rounds(void *arg, size_t len)
{
    (void)len;
    for (long i = 0; i < arg_of(arg); i++)
        if (mproc_barrier_wait(bar, 10 * TIME_SCALE) < 0)
            return 1;
    return 0;
}

START_TEST(barrier_is_reusable)
{
    ck_assert_int_eq(mproc_barrier_create(&bar, 2), 0);
    mproc_process *p = run(barrier_rounds, 500);
    ck_assert_int_eq(barrier_rounds(&(long){500}, sizeof(long)), 0);
    ck_assert_int_eq(finish_process(p), 0);
}
END_TEST

START_TEST(barrier_with_one_party_returns_at_once)
{
    ck_assert_int_eq(mproc_barrier_create(&bar, 1), 0);
    ck_assert_int_eq(mproc_barrier_wait(bar, 0), 0);
    ck_assert_int_eq(mproc_barrier_wait(bar, 0), 0);
}
END_TEST

START_TEST(barrier_timeout_breaks_it_until_reset)
{
    ck_assert_int_eq(mproc_barrier_create(&bar, 2), 0);
    double t0 = now_s();
    ck_assert_int_eq(mproc_barrier_wait(bar, 0.1), MPROC_EBROKEN);
    ck_assert(now_s() - t0 >= 0.09);
    ck_assert(mproc_barrier_broken(bar));
    ck_assert_int_eq(mproc_barrier_wait(bar, 10 * TIME_SCALE), MPROC_EBROKEN);
    ck_assert_int_eq(mproc_barrier_reset(bar), 0);
    ck_assert(!mproc_barrier_broken(bar));
    ck_assert_int_eq(mproc_barrier_wait(bar, 0), MPROC_EBROKEN);
    ck_assert_int_eq(mproc_barrier_wait(bar, NAN), MPROC_EINVAL);
}
END_TEST

START_TEST(barrier_timeout_breaks_it_for_other_waiters)
{
    ck_assert_int_eq(mproc_barrier_create(&bar, 3), 0);
    mproc_process *p = run(barrier_party, 10);
    wait_ready(1);
    wait_blocked(mproc_process_pid(p), SYS_futex);
    ck_assert_int_eq(mproc_barrier_wait(bar, 0.05), MPROC_EBROKEN);
    ck_assert_int_eq(finish_process(p), 100);
}
END_TEST

START_TEST(barrier_abort_breaks_waiters)
{
    ck_assert_int_eq(mproc_barrier_create(&bar, 2), 0);
    mproc_process *p = run(barrier_party, 10);
    wait_ready(1);
    WAIT_UNTIL(mproc_barrier_n_waiting(bar) >= 1);
    ck_assert_int_eq(mproc_barrier_abort(bar), 0);
    ck_assert_int_eq(finish_process(p), 100);
    ck_assert(mproc_barrier_broken(bar));
    ck_assert_uint_eq(mproc_barrier_n_waiting(bar), 0);
}
END_TEST

START_TEST(barrier_reset_breaks_waiters_and_empties_it)
{
    ck_assert_int_eq(mproc_barrier_create(&bar, 2), 0);
    mproc_process *p = run(barrier_party, 10);
    wait_ready(1);
    WAIT_UNTIL(mproc_barrier_n_waiting(bar) >= 1);
    ck_assert_int_eq(mproc_barrier_reset(bar), 0);
    ck_assert_int_eq(finish_process(p), 100);
    ck_assert(!mproc_barrier_broken(bar));
    ck_assert_uint_eq(mproc_barrier_n_waiting(bar), 0);
    p = run(barrier_party, 10);
    ck_assert_int_ge(mproc_barrier_wait(bar, 10 * TIME_SCALE), 0);
    ck_assert_int_lt(finish_process(p), 2);
}
END_TEST

START_TEST(barrier_killed_party_breaks_it)
{
    ck_assert_int_eq(mproc_barrier_create(&bar, 3), 0);
    mproc_process *doomed = run(barrier_party, -1);
    mproc_process *other = run(barrier_party, -1);
    wait_ready(2);
    WAIT_UNTIL(mproc_barrier_n_waiting(bar) >= 2);
    double t0 = now_s();
    kill_and_join(doomed);
    ck_assert_int_eq(finish_process(other), 100);
    ck_assert(now_s() - t0 < 2 * TIME_SCALE);
    ck_assert(mproc_barrier_broken(bar));
}
END_TEST

/* ---- All types ---- */

START_TEST(create_rejects_null_out_and_destroy_accepts_null)
{
    ck_assert_int_eq(mproc_lock_create(NULL), MPROC_EINVAL);
    ck_assert_int_eq(mproc_rlock_create(NULL), MPROC_EINVAL);
    ck_assert_int_eq(mproc_condition_create(NULL, NULL), MPROC_EINVAL);
    ck_assert_int_eq(mproc_event_create(NULL), MPROC_EINVAL);
    ck_assert_int_eq(mproc_barrier_create(NULL, 2), MPROC_EINVAL);
    ck_assert_int_eq(mproc_barrier_create(&bar, 0), MPROC_EINVAL);
    ck_assert_int_eq(mproc_barrier_create(&bar, (1u << 20) + 1), MPROC_EINVAL);
    ck_assert_ptr_null(bar);
    mproc_lock_destroy(NULL);
    mproc_rlock_destroy(NULL);
    mproc_semaphore_destroy(NULL);
    mproc_condition_destroy(NULL);
    mproc_event_destroy(NULL);
    mproc_barrier_destroy(NULL);
}
END_TEST

/* Each object keeps its memfd (a reference hands it on) and closes it at
 * destroy. */
START_TEST(objects_hold_one_fd_each_until_destroyed)
{
    int before = open_fds();
    ck_assert_int_eq(mproc_lock_create(&lk), 0);
    ck_assert_int_eq(mproc_rlock_create(&rl), 0);
    ck_assert_int_eq(mproc_semaphore_create(&sem, 1, true), 0);
    ck_assert_int_eq(mproc_condition_create(&cond, rl), 0);
    ck_assert_int_eq(mproc_event_create(&ev), 0);
    ck_assert_int_eq(mproc_barrier_create(&bar, 4), 0);
    ck_assert_int_eq(open_fds(), before + 6);
    teardown();
    ck_assert_int_eq(open_fds(), before);
    sh = shared_mem(sizeof *sh); /* for the fixture's teardown */
    lk = NULL;
    rl = NULL;
    sem = NULL;
    cond = NULL;
    ev = NULL;
    bar = NULL;
}
END_TEST

/* ---- References ---- */

/*
 * What a child does with the references in its argument bytes: it opens
 * them and uses the objects with its parent, reporting through its exit
 * code. Each uses nothing of its parent but the references, so it runs
 * under any start method.
 */

/* Releases the Lock its parent holds (a Lock is anyone's to release). */
static int ref_lock_child(void *arg, size_t len)
{
    mproc_lock *l;
    if (mproc_lock_open(&l, ref_arg(arg, len, 0)) != 0)
        return 1;
    int rc = mproc_lock_locked(l) && mproc_lock_release(l) == 0 ? 0 : 2;
    mproc_lock_destroy(l);
    return rc;
}

/* Takes the RLock twice and exits holding it (the handle destroyed: the
 * lock stays held by this process). */
static int ref_rlock_child(void *arg, size_t len)
{
    mproc_rlock *r;
    if (mproc_rlock_open(&r, ref_arg(arg, len, 0)) != 0)
        return 1;
    int rc = mproc_rlock_acquire(r, 0) == 0 && mproc_rlock_acquire(r, 0) == 0
                 ? 0
                 : 2;
    mproc_rlock_destroy(r);
    return rc;
}

/* Gives the Semaphore two units, then finds a bounded one full. */
static int ref_semaphore_child(void *arg, size_t len)
{
    mproc_semaphore *s;
    if (mproc_semaphore_open(&s, ref_arg(arg, len, 0)) != 0)
        return 1;
    int rc = mproc_semaphore_release(s) == 0 &&
                     mproc_semaphore_release(s) == 0 &&
                     mproc_semaphore_release(s) == MPROC_EINVAL
                 ? 0
                 : 2;
    mproc_semaphore_destroy(s);
    return rc;
}

/* Notifies the Condition its parent waits on. With a second reference
 * (its RLock), checks that the Condition's lock is that RLock. */
static int ref_condition_child(void *arg, size_t len)
{
    mproc_condition *c;
    mproc_rlock *r = NULL;
    mproc_ref rref = ref_arg(arg, len, 1);
    if (mproc_condition_open(&c, ref_arg(arg, len, 0)) != 0 ||
        (rref.w[1] != 0 && mproc_rlock_open(&r, rref) != 0))
        return 1;
    int rc = mproc_condition_acquire(c, WAIT_S) == 0 ? 0 : 2;
    if (rc == 0 && r &&
        (!mproc_rlock_locked(r) || mproc_rlock_release(r) != 0 ||
         mproc_rlock_acquire(r, 0) != 0))
        rc = 3; /* the Condition's lock is the RLock, held by this thread */
    if (rc == 0 &&
        (mproc_condition_notify(c, 1) != 0 || mproc_condition_release(c) != 0))
        rc = 4;
    mproc_condition_destroy(c);
    mproc_rlock_destroy(r);
    return rc;
}

/* Sets the Event. */
static int ref_event_child(void *arg, size_t len)
{
    mproc_event *e;
    if (mproc_event_open(&e, ref_arg(arg, len, 0)) != 0)
        return 1;
    int rc = mproc_event_set(e) == 0 ? 0 : 2;
    mproc_event_destroy(e);
    return rc;
}

/* Meets its parent at a Barrier of two; exits with 10 + its index. */
static int ref_barrier_child(void *arg, size_t len)
{
    mproc_barrier *b;
    if (mproc_barrier_open(&b, ref_arg(arg, len, 0)) != 0)
        return 1;
    int rc = mproc_barrier_parties(b) == 2 ? mproc_barrier_wait(b, WAIT_S) : -1;
    mproc_barrier_destroy(b);
    return rc >= 0 ? 10 + rc : 2;
}

START_TEST(lock_opened_in_child_releases_parents_hold)
{
    mproc_ref ref;
    ck_assert_int_eq(mproc_lock_create(&lk), 0);
    ck_assert_int_eq(mproc_lock_acquire(lk, 0), 0);
    ck_assert_int_eq(mproc_lock_ref(lk, &ref), 0);
    mproc_process *p = start_process(ref_lock_child, &ref, sizeof ref);
    ck_assert_int_eq(mproc_lock_acquire(lk, WAIT_S), 0);
    ck_assert_int_eq(finish_process(p), 0);
}
END_TEST

START_TEST(rlock_opened_in_child_is_the_same_rlock)
{
    mproc_ref ref;
    ck_assert_int_eq(mproc_rlock_create(&rl), 0);
    ck_assert_int_eq(mproc_rlock_ref(rl, &ref), 0);
    ck_assert_int_eq(run_process(ref_rlock_child, &ref, sizeof ref), 0);
    ck_assert_int_eq(mproc_rlock_acquire(rl, WAIT_S), MPROC_EOWNERDEAD);
    ck_assert_int_eq(mproc_rlock_release(rl), 0);
    ck_assert(!mproc_rlock_locked(rl));
}
END_TEST

START_TEST(semaphore_opened_in_child_keeps_its_bound)
{
    mproc_ref ref;
    ck_assert_int_eq(mproc_semaphore_create(&sem, 2, true), 0);
    ck_assert_int_eq(mproc_semaphore_acquire(sem, 0), 0);
    ck_assert_int_eq(mproc_semaphore_acquire(sem, 0), 0);
    ck_assert_int_eq(mproc_semaphore_ref(sem, &ref), 0);
    ck_assert_int_eq(run_process(ref_semaphore_child, &ref, sizeof ref), 0);
    ck_assert_int_eq(mproc_semaphore_get_value(sem), 2);
}
END_TEST

START_TEST(condition_opened_in_child_notifies_parent)
{
    mproc_ref ref;
    ck_assert_int_eq(mproc_condition_create(&cond, NULL), 0);
    ck_assert_int_eq(mproc_condition_acquire(cond, 0), 0);
    ck_assert_int_eq(mproc_condition_ref(cond, &ref), 0);
    mproc_process *p = start_process(ref_condition_child, &ref, sizeof ref);
    ck_assert_int_eq(mproc_condition_wait(cond, WAIT_S), 0);
    ck_assert_int_eq(mproc_condition_release(cond), 0);
    ck_assert_int_eq(finish_process(p), 0);
}
END_TEST

/* The Condition's reference carries its RLock: the child opens the
 * Condition, and the RLock it opens on its own is the same lock. */
START_TEST(condition_over_given_rlock_opens_with_its_rlock)
{
    mproc_ref refs[2];
    ck_assert_int_eq(mproc_rlock_create(&rl), 0);
    ck_assert_int_eq(mproc_condition_create(&cond, rl), 0);
    ck_assert_int_eq(mproc_condition_ref(cond, &refs[0]), 0);
    ck_assert_int_eq(mproc_rlock_ref(rl, &refs[1]), 0);
    ck_assert_int_eq(mproc_rlock_acquire(rl, 0), 0);
    mproc_process *p = start_process(ref_condition_child, refs, sizeof refs);
    ck_assert_int_eq(mproc_condition_wait(cond, WAIT_S), 0);
    ck_assert_int_eq(mproc_rlock_release(rl), 0);
    ck_assert_int_eq(finish_process(p), 0);
}
END_TEST

/* Taking the Condition's reference alone hands its RLock on too. */
START_TEST(condition_ref_hands_its_rlock_on)
{
    mproc_ref ref;
    ck_assert_int_eq(mproc_rlock_create(&rl), 0);
    ck_assert_int_eq(mproc_condition_create(&cond, rl), 0);
    ck_assert_int_eq(mproc_condition_ref(cond, &ref), 0);
    ck_assert_int_eq(mproc_condition_acquire(cond, 0), 0);
    mproc_process *p = start_process(ref_condition_child, &ref, sizeof ref);
    ck_assert_int_eq(mproc_condition_wait(cond, WAIT_S), 0);
    ck_assert(mproc_rlock_locked(rl));
    ck_assert_int_eq(mproc_condition_release(cond), 0);
    ck_assert(!mproc_rlock_locked(rl));
    ck_assert_int_eq(finish_process(p), 0);
}
END_TEST

START_TEST(event_opened_in_child_is_set_for_parent)
{
    mproc_ref ref;
    ck_assert_int_eq(mproc_event_create(&ev), 0);
    ck_assert_int_eq(mproc_event_ref(ev, &ref), 0);
    mproc_process *p = start_process(ref_event_child, &ref, sizeof ref);
    ck_assert_int_eq(mproc_event_wait(ev, WAIT_S), 0);
    ck_assert_int_eq(finish_process(p), 0);
}
END_TEST

START_TEST(barrier_opened_in_child_meets_parent)
{
    mproc_ref ref;
    ck_assert_int_eq(mproc_barrier_create(&bar, 2), 0);
    ck_assert_int_eq(mproc_barrier_ref(bar, &ref), 0);
    mproc_process *p = start_process(ref_barrier_child, &ref, sizeof ref);
    int mine = mproc_barrier_wait(bar, WAIT_S);
    ck_assert_int_ge(mine, 0);
    ck_assert_int_eq(finish_process(p), 10 + (1 - mine));
}
END_TEST

/* Opens ref as each kind of sync object but an Event; returns the first
 * result that is not want, or want. Nothing may be opened. */
static int open_as_each(mproc_ref ref, int want)
{
    mproc_lock *l = NULL;
    mproc_rlock *r = NULL;
    mproc_semaphore *s = NULL;
    mproc_condition *c = NULL;
    mproc_barrier *b = NULL;
    int rcs[5] = {
        mproc_lock_open(&l, ref),      mproc_rlock_open(&r, ref),
        mproc_semaphore_open(&s, ref), mproc_condition_open(&c, ref),
        mproc_barrier_open(&b, ref),
    };
    ck_assert(!l && !r && !s && !c && !b);
    for (int k = 0; k < 5; k++)
        if (rcs[k] != want)
            return rcs[k];
    return want;
}

static int lock_ref_now(mproc_ref *out)
{
    return mproc_lock_ref(lk, out);
}

static int open_lock(mproc_ref ref)
{
    mproc_lock *l;
    int rc = mproc_lock_open(&l, ref);
    mproc_lock_destroy(rc == 0 ? l : NULL);
    return rc;
}

static void destroy_lk(void)
{
    mproc_lock_destroy(lk);
    lk = NULL;
}

/* A child started before lk's reference was taken holds lk's handle and
 * memfd by fork, but was not given the Lock. */
START_TEST(sync_open_of_reference_not_given_is_enoent)
{
    mproc_ref ref, again;
    ck_assert_int_eq(mproc_lock_create(&lk), 0);
    ck_assert_int_eq(mproc_lock_ref(lk, &ref), 0);
    ck_assert_int_eq(mproc_lock_ref(lk, &again), 0);
    ck_assert(memcmp(&ref, &again, sizeof ref) == 0);
    destroy_lk();
    ck_assert_int_eq(mproc_lock_create(&lk), 0);
    assert_only_given_opens(lock_ref_now, open_lock, destroy_lk);
}
END_TEST

static int open_event(mproc_ref ref)
{
    mproc_event *e;
    int rc = mproc_event_open(&e, ref);
    mproc_event_destroy(rc == 0 ? e : NULL);
    return rc;
}

START_TEST(sync_open_as_another_kind_is_einval)
{
    mproc_ref ref, zeros = {{0, 0}};
    ck_assert_int_eq(mproc_event_create(&ev), 0);
    ck_assert_int_eq(mproc_event_ref(ev, &ref), 0);
    ck_assert_int_eq(open_as_each(ref, MPROC_EINVAL), MPROC_EINVAL);
    assert_kind_kept(ref, open_event);
    ck_assert_int_eq(open_as_each(zeros, MPROC_EINVAL), MPROC_EINVAL);
    ck_assert_int_eq(mproc_event_open(NULL, ref), MPROC_EINVAL);
    ck_assert_int_eq(mproc_event_ref(ev, NULL), MPROC_EINVAL);
}
END_TEST

/* Destroying an opened handle closes its own descriptor only: the
 * creator's handle works on, here and in a child. */
START_TEST(sync_destroy_of_opened_handle_leaves_the_original)
{
    mproc_ref ref;
    ck_assert_int_eq(mproc_event_create(&ev), 0);
    ck_assert_int_eq(mproc_event_ref(ev, &ref), 0);
    int fds = open_fds();
    mproc_event *e;
    ck_assert_int_eq(mproc_event_open(&e, ref), 0);
    ck_assert_int_eq(open_fds(), fds + 1);
    ck_assert_int_eq(mproc_event_set(e), 0);
    mproc_event_destroy(e);
    ck_assert_int_eq(open_fds(), fds);
    ck_assert(mproc_event_is_set(ev));
    ck_assert_int_eq(mproc_event_clear(ev), 0);
    mproc_process *p = start_process(ref_event_child, &ref, sizeof ref);
    ck_assert_int_eq(finish_process(p), 0);
    ck_assert(mproc_event_is_set(ev));
    ck_assert_int_eq(mproc_event_open(&e, ref), 0);
    mproc_event_destroy(e);
}
END_TEST

/* Each object holds a descriptor, and a program may hold thousands: past
 * the soft RLIMIT_NOFILE the library raises it to the hard limit. */
START_TEST(lock_create_raises_the_soft_fd_limit)
{
    struct rlimit old, low;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = old.rlim_max < 256 ? old.rlim_max : 256;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    int fds = open_fds();
    size_t n = 3000;
    if (old.rlim_max < n + 128) {
        n = old.rlim_max > 128 ? (size_t)old.rlim_max - 128 : 0;
        printf("hard RLIMIT_NOFILE %llu: creating %zu locks\n",
               (unsigned long long)old.rlim_max, n);
    }
    mproc_lock **locks = calloc(n + 1, sizeof *locks);
    for (size_t k = 0; k < n; k++)
        ck_assert_int_eq(mproc_lock_create(&locks[k]), 0);
    struct rlimit now;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &now), 0);
    if (n + (size_t)fds >= (size_t)low.rlim_cur)
        ck_assert_uint_eq(now.rlim_cur, old.rlim_max);
    ck_assert_int_eq(open_fds(), fds + (int)n);
    ck_assert_int_eq(mproc_lock_acquire(locks[n - 1], 0), 0);
    for (size_t k = 0; k < n; k++)
        mproc_lock_destroy(locks[k]);
    ck_assert_int_eq(open_fds(), fds);
    free(locks);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
}
END_TEST

/* ---- Stress: SIGKILL at random moments ---- */

static int chaos_worker(void *arg, size_t len)
{
    (void)len;
    unsigned seed = (unsigned)arg_of(arg);
    while (!atomic_load(&sh->stop)) {
        int rc = mproc_lock_acquire(lk, MPROC_FOREVER);
        if (rc == MPROC_EOWNERDEAD)
            sh->inside = 0; /* repair */
        else if (rc != 0)
            return 1;
        if (sh->inside)
            return 2; /* two holders at once */
        sh->inside = 1;
        sh->counter++;
        if (rand_r(&seed) % 4 == 0)
            usleep(200); /* a long hold: a kill lands in it often */
        sh->inside = 0;
        if (mproc_lock_release(lk) != 0)
            return 3;

        rc = mproc_condition_acquire(cond, MPROC_FOREVER);
        if (rc != 0 && rc != MPROC_EOWNERDEAD)
            return 4;
        if (mproc_condition_notify(cond, 1) != 0)
            return 5;
        if (rand_r(&seed) % 4 == 0)
            usleep(200);
        rc = mproc_condition_wait(cond, (rand_r(&seed) % 3) * 0.002);
        if (rc != 0 && rc != MPROC_EAGAIN && rc != MPROC_ETIMEDOUT &&
            rc != MPROC_EOWNERDEAD)
            return 6;
        if (mproc_condition_release(cond) != 0)
            return 7;

        rc = mproc_semaphore_acquire(sem, 0.05);
        if (rc == 0) {
            if (rand_r(&seed) % 2)
                usleep(100);
            if (mproc_semaphore_release(sem) != 0)
                return 8;
        } else if (rc != MPROC_ETIMEDOUT) {
            return 9;
        }
    }
    return 0;
}

START_TEST(sync_survives_processes_killed_at_random)
{
    enum { ROUNDS = 200, WORKERS = 3 };
    ck_assert_int_eq(mproc_lock_create(&lk), 0);
    ck_assert_int_eq(mproc_condition_create(&cond, NULL), 0);
    unsigned seed = 12345;
    double t0 = now_s();
    for (int round = 0; round < ROUNDS; round++) {
        ck_assert_int_eq(mproc_semaphore_create(&sem, 2, true), 0);
        atomic_store(&sh->stop, 0);
        mproc_process *w[WORKERS];
        for (int i = 0; i < WORKERS; i++)
            w[i] = run(chaos_worker, round * WORKERS + i);
        usleep(rand_r(&seed) % 4000);
        int victim = (int)(rand_r(&seed) % WORKERS);
        ck_assert_int_eq(mproc_process_kill(w[victim]), 0);
        if (rand_r(&seed) % 4 == 0) /* sometimes a second one */
            mproc_process_kill(w[(victim + 1) % WORKERS]);
        usleep(rand_r(&seed) % 2000);
        atomic_store(&sh->stop, 1);
        for (int i = 0; i < WORKERS; i++) {
            int code = finish_process(w[i]);
            ck_assert_msg(code == 0 || code == -SIGKILL,
                          "round %d: worker %d exited %d", round, i, code);
        }
        /* The survivors - this process too - still get every lock. */
        int rc = mproc_lock_acquire(lk, 5 * TIME_SCALE);
        ck_assert(rc == 0 || rc == MPROC_EOWNERDEAD);
        sh->inside = 0;
        ck_assert_int_eq(mproc_lock_release(lk), 0);
        rc = mproc_condition_acquire(cond, 5 * TIME_SCALE);
        ck_assert(rc == 0 || rc == MPROC_EOWNERDEAD);
        ck_assert_int_eq(mproc_condition_release(cond), 0);
        mproc_semaphore_destroy(sem);
        sem = NULL;
    }
    ck_assert(sh->counter > 0);
    ck_assert_msg(now_s() - t0 < 50 * TIME_SCALE, "took %.1f s", now_s() - t0);
}
END_TEST

/* Meets the others until the barrier breaks: by a party killed while
 * waiting, or - when it was killed between waits, which cannot be told from
 * a slow party - by this wait's timeout. */
static int barrier_loop(void *arg, size_t len)
{
    (void)arg, (void)len;
    for (;;) {
        int rc = mproc_barrier_wait(bar, 0.2);
        if (rc == MPROC_EBROKEN)
            return 0;
        if (rc < 0)
            return 1;
    }
}

START_TEST(barrier_survives_parties_killed_at_random)
{
    enum { ROUNDS = 50, PARTIES = 3 };
    ck_assert_int_eq(mproc_barrier_create(&bar, PARTIES), 0);
    unsigned seed = 777;
    double t0 = now_s();
    for (int round = 0; round < ROUNDS; round++) {
        mproc_process *w[PARTIES];
        for (int i = 0; i < PARTIES; i++)
            w[i] = run(barrier_loop, i);
        usleep(rand_r(&seed) % 3000);
        int victim = (int)(rand_r(&seed) % PARTIES);
        kill_and_join(w[victim]);
        for (int i = 0; i < PARTIES; i++)
            if (i != victim)
                ck_assert_msg(finish_process(w[i]) == 0, "round %d", round);
        ck_assert(mproc_barrier_broken(bar));
        ck_assert_int_eq(mproc_barrier_reset(bar), 0);
    }
    ck_assert_msg(now_s() - t0 < 50 * TIME_SCALE, "took %.1f s", now_s() - t0);
}
END_TEST

int main(int argc, char **argv)
{
    test_init(&argc, &argv, setup);
    Suite *s = suite_create("sync");
    TCase *tc = tcase_create("sync");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, lock_acquire_and_release_toggle_locked);
    tcase_add_test(tc, lock_release_of_unlocked_is_einval);
    tcase_add_test(tc, lock_try_when_held_is_eagain);
    tcase_add_test(tc, lock_acquire_times_out_when_held);
    tcase_add_test(tc, lock_nan_timeout_is_einval);
    tcase_add_test(tc, lock_wait_absorbs_signals);
    tcase_add_test(tc, lock_released_by_another_process);
    tcase_add_test(tc, lock_excludes_other_processes);
    tcase_add_test(tc, lock_holder_exit_gives_eownerdead_once);
    tcase_add_test(tc,
                   lock_holder_sigkill_wakes_blocked_waiter_with_eownerdead);
    tcase_add_test(tc, lock_try_on_dead_holder_gives_eownerdead);
    tcase_add_test(tc, lock_holder_with_reused_pid_counts_as_dead);
    tcase_add_test(tc, lock_held_by_live_process_is_never_taken_over);
    tcase_add_test(tc, lock_release_wakes_waiter_in_other_process);
    tcase_add_test(tc, rlock_is_reentrant);
    tcase_add_test(tc, rlock_is_owned_by_one_thread);
    tcase_add_test(tc, rlock_is_not_owned_by_forked_child);
    tcase_add_test(tc, rlock_holder_death_gives_eownerdead_with_one_level);
    tcase_add_test(tc, semaphore_counts_units);
    tcase_add_test(tc, semaphore_acquire_times_out);
    tcase_add_test(tc, unbounded_semaphore_release_goes_above_start);
    tcase_add_test(tc, bounded_semaphore_refuses_release_above_start);
    tcase_add_test(tc, semaphore_release_at_int_max_is_einval);
    tcase_add_test(tc, semaphore_create_rejects_bad_arguments);
    tcase_add_test(tc, semaphore_release_wakes_waiter_in_other_process);
    tcase_add_test(tc, condition_calls_without_lock_are_eperm);
    tcase_add_test(tc, condition_wait_times_out_with_lock_held_at_same_depth);
    tcase_add_test(tc, condition_notify_wakes_exactly_n_waiters);
    tcase_add_test(
        tc, condition_notifier_that_then_waits_never_takes_its_own_notify);
    tcase_add_test(tc, condition_over_given_rlock_shares_it);
    tcase_add_test(tc,
                   condition_over_given_rlock_wakes_waiter_on_rlock_release);
    tcase_add_test(tc, condition_wait_reports_eownerdead_when_lock_holder_died);
    tcase_add_test(tc, condition_lock_holder_death_gives_eownerdead);
    tcase_add_test(tc, condition_still_wakes_live_waiter_after_waiter_death);
    tcase_add_test(tc, condition_waiter_killed_after_wakeup_gives_eownerdead);
    tcase_add_test(tc, event_set_clear_and_is_set);
    tcase_add_test(tc, event_wait_times_out);
    tcase_add_test(tc, event_set_wakes_every_waiter);
    tcase_add_test(tc, event_waiter_sees_set_even_if_cleared_at_once);
    tcase_add_test(tc, barrier_gives_each_party_its_own_index);
    tcase_add_test(tc, barrier_is_reusable);
    tcase_add_test(tc, barrier_with_one_party_returns_at_once);
    tcase_add_test(tc, barrier_timeout_breaks_it_until_reset);
    tcase_add_test(tc, barrier_timeout_breaks_it_for_other_waiters);
    tcase_add_test(tc, barrier_abort_breaks_waiters);
    tcase_add_test(tc, barrier_reset_breaks_waiters_and_empties_it);
    tcase_add_test(tc, barrier_killed_party_breaks_it);
    tcase_add_test(tc, create_rejects_null_out_and_destroy_accepts_null);
    tcase_add_test(tc, objects_hold_one_fd_each_until_destroyed);
    tcase_add_test(tc, lock_create_raises_the_soft_fd_limit);
    suite_add_tcase(s, tc);

    /* References: the cases that also run under spawn and forkserver
     * (CK_RUN_CASE=ref), where the other cases' children, which use the
     * parent's handles, have none. */
    TCase *ref = tcase_create("ref");
    tcase_add_checked_fixture(ref, setup, teardown);
    tcase_set_timeout(ref, 30);
    tc = ref;
    tcase_add_test(tc, lock_opened_in_child_releases_parents_hold);
    tcase_add_test(tc, rlock_opened_in_child_is_the_same_rlock);
    tcase_add_test(tc, semaphore_opened_in_child_keeps_its_bound);
    tcase_add_test(tc, condition_opened_in_child_notifies_parent);
    tcase_add_test(tc, condition_over_given_rlock_opens_with_its_rlock);
    tcase_add_test(tc, condition_ref_hands_its_rlock_on);
    tcase_add_test(tc, event_opened_in_child_is_set_for_parent);
    tcase_add_test(tc, barrier_opened_in_child_meets_parent);
    tcase_add_test(tc, sync_open_of_reference_not_given_is_enoent);
    tcase_add_test(tc, sync_open_as_another_kind_is_einval);
    tcase_add_test(tc, sync_destroy_of_opened_handle_leaves_the_original);
    suite_add_tcase(s, tc);

    TCase *stress = tcase_create("stress");
    tcase_set_tags(stress, "stress");
    tcase_add_checked_fixture(stress, setup, teardown);
    tcase_set_timeout(stress, 60);
    tcase_add_test(stress, sync_survives_processes_killed_at_random);
    tcase_add_test(stress, barrier_survives_parties_killed_at_random);
    suite_add_tcase(s, stress);
    return run_suite(s);
}
