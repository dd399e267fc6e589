/* test_shared.c - Value, Array (raw and synchronized) and SharedMemory. */
#include "check_main.h"
#include "mproc.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* A name no other test run uses: "mproc_test_<pid>_<tag>". */
static const char *test_name(const char *tag)
{
    static char buf[64];
    snprintf(buf, sizeof buf, "mproc_test_%d_%s", (int)getpid(), tag);
    return buf;
}

static bool shm_exists(const char *name)
{
    char path[300];
    snprintf(path, sizeof path, "/dev/shm/%s", name);
    return access(path, F_OK) == 0;
}

/* Resident pages of the calling process, from /proc/self/statm. */
static long resident_pages(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, rss = -1;
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &rss) != 2)
            rss = -1;
        fclose(f);
    }
    return rss;
}

/* Arrays: creation, sharing, sizes. */

START_TEST(array_create_is_zero_filled_and_aligned)
{
    mproc_array *a;
    ck_assert_int_eq(
        mproc_array_create(&a, sizeof(int64_t), 1000, MPROC_LOCK_NONE), 0);
    int64_t *d = mproc_array_data(a);
    ck_assert_uint_eq((uintptr_t)d % 64, 0);
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(d[i], 0);
    mproc_array_destroy(a);
}
END_TEST

START_TEST(array_len_counts_elements)
{
    mproc_array *a;
    ck_assert_int_eq(mproc_array_create(&a, 12, 77, MPROC_LOCK_NONE), 0);
    ck_assert_uint_eq(mproc_array_len(a), 77);
    mproc_array_destroy(a);
}
END_TEST

START_TEST(value_is_an_array_of_one_element)
{
    mproc_array *v;
    ck_assert_int_eq(mproc_value_create(&v, sizeof(double), MPROC_LOCK_NONE),
                     0);
    ck_assert_uint_eq(mproc_array_len(v), 1);
    *(double *)mproc_array_data(v) = 2.5;
    ck_assert(*(double *)mproc_array_data(v) == 2.5);
    mproc_array_destroy(v);
}
END_TEST

START_TEST(array_empty_is_allowed)
{
    mproc_array *a;
    ck_assert_int_eq(mproc_array_create(&a, 4, 0, MPROC_LOCK_NONE), 0);
    ck_assert_uint_eq(mproc_array_len(a), 0);
    ck_assert_ptr_nonnull(mproc_array_data(a));
    mproc_array_destroy(a);
}
END_TEST

static mproc_array *shared_arr;

static int negate_all(void *arg, size_t len)
{
    (void)arg;
    (void)len;
    int *d = mproc_array_data(shared_arr);
    for (size_t i = 0; i < mproc_array_len(shared_arr); i++) {
        if (d[i] != (int)i)
            return 1; /* the parent's writes before start must be seen */
        d[i] = -d[i];
    }
    return 0;
}

START_TEST(array_is_shared_both_ways_with_a_child)
{
    ck_assert_int_eq(
        mproc_array_create(&shared_arr, sizeof(int), 10, MPROC_LOCK_NONE), 0);
    int *d = mproc_array_data(shared_arr);
    for (int i = 0; i < 10; i++)
        d[i] = i;
    ck_assert_int_eq(run_process(negate_all, NULL, 0), 0);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(d[i], -i);
    mproc_array_destroy(shared_arr);
}
END_TEST

static int destroy_copy(void *arg, size_t len)
{
    (void)arg;
    (void)len;
    *(int *)mproc_array_data(shared_arr) = 7;
    mproc_array_destroy(shared_arr);
    return 0;
}

START_TEST(array_destroy_in_child_keeps_parent_mapping)
{
    ck_assert_int_eq(
        mproc_value_create(&shared_arr, sizeof(int), MPROC_LOCK_NONE), 0);
    ck_assert_int_eq(run_process(destroy_copy, NULL, 0), 0);
    ck_assert_int_eq(*(int *)mproc_array_data(shared_arr), 7);
    mproc_array_destroy(shared_arr);
}
END_TEST

START_TEST(array_create_rejects_bad_arguments)
{
    mproc_array *a = (mproc_array *)&a;
    ck_assert_int_eq(mproc_array_create(NULL, 4, 4, MPROC_LOCK_NONE),
                     MPROC_EINVAL);
    ck_assert_int_eq(mproc_array_create(&a, 0, 4, MPROC_LOCK_NONE),
                     MPROC_EINVAL);
    ck_assert_int_eq(mproc_array_create(&a, 4, 4, (mproc_lock_kind)7),
                     MPROC_EINVAL);
    ck_assert_int_eq(mproc_value_create(&a, 0, MPROC_LOCK_NONE), MPROC_EINVAL);
    ck_assert_ptr_eq(a, (mproc_array *)&a); /* untouched on failure */
}
END_TEST

START_TEST(array_unmappable_size_is_enomem_and_leaks_nothing)
{
    int fds = open_fds();
    long rss = resident_pages();
    mproc_array *a = (mproc_array *)&a;
    /* elem_size * count overflows size_t. */
    ck_assert_int_eq(mproc_array_create(&a, 8, SIZE_MAX / 8, MPROC_LOCK_NONE),
                     MPROC_ENOMEM);
    /* Representable, but beyond any address space. */
    ck_assert_int_eq(
        mproc_array_create(&a, 1, (size_t)1 << 62, MPROC_LOCK_NONE),
        MPROC_ENOMEM);
    ck_assert_int_eq(
        mproc_array_create(&a, 1, (size_t)INT64_MAX + 1, MPROC_LOCK_NONE),
        MPROC_ENOMEM);
    ck_assert_ptr_eq(a, (mproc_array *)&a);
    ck_assert_int_eq(open_fds(), fds);
    ck_assert_int_lt(resident_pages() - rss, 256);
}
END_TEST

START_TEST(array_larger_than_free_memory_takes_pages_on_touch)
{
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    size_t n = (size_t)pages * (size_t)psize * 2; /* twice the RAM */
    mproc_array *a;
    ck_assert_int_eq(mproc_array_create(&a, 1, n, MPROC_LOCK_NONE), 0);
    long rss = resident_pages();
    char *d = mproc_array_data(a);
    d[0] = 1;
    d[n / 2] = 2;
    d[n - 1] = 3;
    ck_assert_int_eq(d[0] + d[n / 2] + d[n - 1], 6);
    ck_assert_int_lt(resident_pages() - rss, 64);
    mproc_array_destroy(a);
}
END_TEST

START_TEST(raw_array_has_no_lock)
{
    mproc_array *a;
    ck_assert_int_eq(mproc_array_create(&a, 4, 4, MPROC_LOCK_NONE), 0);
    ck_assert_int_eq(mproc_array_lock(a, 0), MPROC_EINVAL);
    ck_assert_int_eq(mproc_array_unlock(a), MPROC_EINVAL);
    mproc_array_destroy(a);
}
END_TEST

START_TEST(array_destroy_accepts_null)
{
    mproc_array_destroy(NULL);
    mproc_shm_close(NULL);
}
END_TEST

START_TEST(array_use_after_destroy_aborts)
{
    mproc_array *a;
    ck_assert_int_eq(mproc_array_create(&a, 4, 4, MPROC_LOCK_NONE), 0);
    void *keep = malloc(64); /* keep the freed handle's memory unreused */
    mproc_array_destroy(a);
    (void)mproc_array_len(a);
    free(keep);
}
END_TEST

/* Synchronized arrays: the lock. */

static const mproc_lock_kind lock_kinds[] = {MPROC_LOCK_RLOCK, MPROC_LOCK_LOCK};

static int add_under_lock(void *arg, size_t len)
{
    (void)len;
    long n = *(long *)arg;
    int64_t *v = mproc_array_data(shared_arr);
    for (long i = 0; i < n; i++) {
        if (mproc_array_lock(shared_arr, 10 * TIME_SCALE) != 0)
            return 1;
        int64_t x = *v;
        if (i % 64 == 0)
            sched_yield(); /* widen the window a missing lock would open */
        *v = x + 1;
        if (mproc_array_unlock(shared_arr) != 0)
            return 2;
    }
    return 0;
}

START_TEST(value_lock_makes_increments_from_two_processes_exact)
{
    mproc_lock_kind kind = lock_kinds[_i];
    ck_assert_int_eq(mproc_value_create(&shared_arr, sizeof(int64_t), kind), 0);
    long n = 20000;
    mproc_process *p[2];
    for (int i = 0; i < 2; i++)
        p[i] = start_process(add_under_lock, &n, sizeof n);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(finish_process(p[i]), 0);
    ck_assert_int_eq(*(int64_t *)mproc_array_data(shared_arr), 2 * n);
    mproc_array_destroy(shared_arr);
}
END_TEST

START_TEST(array_rlock_is_reentrant_and_owned)
{
    mproc_array *a;
    ck_assert_int_eq(mproc_array_create(&a, 8, 8, MPROC_LOCK_RLOCK), 0);
    ck_assert_int_eq(mproc_array_lock(a, 0), 0);
    ck_assert_int_eq(mproc_array_lock(a, 0), 0);
    ck_assert_int_eq(mproc_array_unlock(a), 0);
    ck_assert_int_eq(mproc_array_unlock(a), 0);
    ck_assert_int_eq(mproc_array_unlock(a), MPROC_EPERM);
    mproc_array_destroy(a);
}
END_TEST

START_TEST(array_lock_unlock_when_unlocked_is_einval)
{
    mproc_array *a;
    ck_assert_int_eq(mproc_array_create(&a, 8, 8, MPROC_LOCK_LOCK), 0);
    ck_assert_int_eq(mproc_array_unlock(a), MPROC_EINVAL);
    ck_assert_int_eq(mproc_array_lock(a, 0), 0);
    ck_assert_int_eq(mproc_array_lock(a, 0), MPROC_EAGAIN); /* not an RLock */
    ck_assert_int_eq(mproc_array_unlock(a), 0);
    mproc_array_destroy(a);
}
END_TEST

START_TEST(array_lock_nan_timeout_is_einval)
{
    mproc_array *a;
    ck_assert_int_eq(mproc_array_create(&a, 8, 1, lock_kinds[_i]), 0);
    ck_assert_int_eq(mproc_array_lock(a, 0.0 / 0.0), MPROC_EINVAL);
    ck_assert_int_lt(mproc_array_unlock(a), 0); /* nothing was acquired */
    mproc_array_destroy(a);
}
END_TEST

/* Tries the lock the parent holds: must fail once and time out once. */
static int try_held_lock(void *arg, size_t len)
{
    (void)arg;
    (void)len;
    if (mproc_array_lock(shared_arr, 0) != MPROC_EAGAIN)
        return 1;
    double t0 = now_s();
    if (mproc_array_lock(shared_arr, 0.05) != MPROC_ETIMEDOUT)
        return 2;
    double waited = now_s() - t0;
    return waited >= 0.04 && waited < 5 * TIME_SCALE ? 0 : 3;
}

START_TEST(array_lock_times_out_while_another_process_holds_it)
{
    ck_assert_int_eq(mproc_array_create(&shared_arr, 8, 1, lock_kinds[_i]), 0);
    ck_assert_int_eq(mproc_array_lock(shared_arr, MPROC_FOREVER), 0);
    ck_assert_int_eq(run_process(try_held_lock, NULL, 0), 0);
    ck_assert_int_eq(mproc_array_unlock(shared_arr), 0);
    mproc_array_destroy(shared_arr);
}
END_TEST

static int unlock_parents_lock(void *arg, size_t len)
{
    (void)arg;
    (void)len;
    int want = *(int *)mproc_array_data(shared_arr);
    return mproc_array_unlock(shared_arr) == want ? 0 : 1;
}

START_TEST(array_lock_may_be_released_by_another_process)
{
    ck_assert_int_eq(
        mproc_array_create(&shared_arr, sizeof(int), 1, MPROC_LOCK_LOCK), 0);
    *(int *)mproc_array_data(shared_arr) = 0; /* the child expects 0 */
    ck_assert_int_eq(mproc_array_lock(shared_arr, 0), 0);
    ck_assert_int_eq(run_process(unlock_parents_lock, NULL, 0), 0);
    ck_assert_int_eq(mproc_array_lock(shared_arr, 0), 0);
    ck_assert_int_eq(mproc_array_unlock(shared_arr), 0);
    mproc_array_destroy(shared_arr);
}
END_TEST

START_TEST(array_rlock_release_by_another_process_is_eperm)
{
    ck_assert_int_eq(
        mproc_array_create(&shared_arr, sizeof(int), 1, MPROC_LOCK_RLOCK), 0);
    *(int *)mproc_array_data(shared_arr) = MPROC_EPERM;
    ck_assert_int_eq(mproc_array_lock(shared_arr, 0), 0);
    ck_assert_int_eq(run_process(unlock_parents_lock, NULL, 0), 0);
    ck_assert_int_eq(mproc_array_unlock(shared_arr), 0);
    mproc_array_destroy(shared_arr);
}
END_TEST

static int lock_and_die(void *arg, size_t len)
{
    (void)arg;
    (void)len;
    if (mproc_array_lock(shared_arr, 0) != 0)
        return 1;
    ((int *)mproc_array_data(shared_arr))[0] = 1; /* half an update */
    raise(SIGKILL);
    return 2;
}

START_TEST(array_lock_holder_death_gives_eownerdead)
{
    ck_assert_int_eq(
        mproc_array_create(&shared_arr, sizeof(int), 2, lock_kinds[_i]), 0);
    ck_assert_int_eq(run_process(lock_and_die, NULL, 0), -SIGKILL);
    double t0 = now_s();
    ck_assert_int_eq(mproc_array_lock(shared_arr, 10 * TIME_SCALE),
                     MPROC_EOWNERDEAD);
    ck_assert_double_lt(now_s() - t0, 5 * TIME_SCALE);
    int *d = mproc_array_data(shared_arr);
    ck_assert_int_eq(d[0], 1); /* what the dead holder wrote stays */
    d[1] = 1;                  /* repair */
    ck_assert_int_eq(mproc_array_unlock(shared_arr), 0);
    ck_assert_int_eq(mproc_array_lock(shared_arr, 0), 0);
    ck_assert_int_eq(mproc_array_unlock(shared_arr), 0);
    mproc_array_destroy(shared_arr);
}
END_TEST

/* Stress: holders SIGKILLed at random points. The array holds {a, b,
 * repairs} with a == b whenever the lock is free; a holder breaks it for a
 * moment. A lock that returns 0 must find it intact; MPROC_EOWNERDEAD lets
 * the acquirer repair it (and count the repair). Children exit 3 on finding
 * it broken. */
static int churn(void *arg, size_t len)
{
    (void)arg;
    (void)len;
    volatile int64_t *d = mproc_array_data(shared_arr);
    for (;;) {
        int rc = mproc_array_lock(shared_arr, 30 * TIME_SCALE);
        if (rc == MPROC_EOWNERDEAD) {
            d[1] = d[0];
            d[2]++;
        } else if (rc != 0)
            return 1;
        else if (d[0] != d[1])
            return 3;
        d[0]++;
        for (int i = 0; i < 5000; i++)
            __asm__ volatile("" ::: "memory");
        d[1]++;
        if (mproc_array_unlock(shared_arr) != 0)
            return 2;
    }
}

START_TEST(array_lock_survives_holders_killed_at_random)
{
    mproc_lock_kind kind = lock_kinds[_i];
    ck_assert_int_eq(mproc_array_create(&shared_arr, sizeof(int64_t), 3, kind),
                     0);
    srand((unsigned)getpid());
    enum { WORKERS = 3, ROUNDS = 40 };
    mproc_process *p[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        p[i] = start_process(churn, NULL, 0);
    int deaths = 0;
    for (int r = 0; r < ROUNDS; r++) {
        /* Long enough for the others to take over from the last victim,
         * so that each kill lands in steady churn: about a third of them
         * kill the holder. */
        usleep(60000 + (useconds_t)(rand() % 20000));
        int victim = rand() % WORKERS;
        /* -SIGKILL, not 3: it never found the data broken. */
        kill_and_join(p[victim]);
        deaths++;
        p[victim] = start_process(churn, NULL, 0);
    }
    for (int i = 0; i < WORKERS; i++)
        kill_and_join(p[i]);
    int64_t *d = mproc_array_data(shared_arr);
    int rc = mproc_array_lock(shared_arr, 30 * TIME_SCALE);
    if (rc == MPROC_EOWNERDEAD)
        d[1] = d[0];
    else
        ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(d[0], d[1]);
    ck_assert_int_gt(d[0], deaths); /* work went on between the kills */
    ck_assert_int_gt(d[2], 0);      /* and some kills hit a holder */
    ck_assert_int_eq(mproc_array_unlock(shared_arr), 0);
    mproc_array_destroy(shared_arr);
}
END_TEST

/* References. */

/* What a child given an array's reference is told: the reference, then
 * how many times to add 1 to each element under the array's lock. */
struct array_ref_arg {
    mproc_ref ref;
    long n;
};

/*
 * Opens the array (of int64 elements) from its argument bytes alone, and
 * n times adds 1 to each element under the array's lock. Exits 0, or the
 * step that failed.
 */
static int ref_array_child(void *arg, size_t len)
{
    struct array_ref_arg a;
    mproc_array *arr;
    if (len != sizeof a)
        return 1;
    memcpy(&a, arg, sizeof a);
    if (mproc_array_open(&arr, a.ref) != 0)
        return 2;
    int64_t *d = mproc_array_data(arr);
    size_t count = mproc_array_len(arr);
    int rc = 0;
    for (long i = 0; i < a.n && rc == 0; i++) {
        if (mproc_array_lock(arr, WAIT_S) != 0)
            rc = 3;
        for (size_t k = 0; k < count && rc == 0; k++) {
            int64_t x = d[k];
            if (i % 64 == 0)
                sched_yield(); /* widen the window a missing lock would open */
            d[k] = x + 1;
        }
        if (rc == 0 && mproc_array_unlock(arr) != 0)
            rc = 4;
    }
    mproc_array_destroy(arr);
    return rc;
}

/* Two children that open the array's reference add under its lock; the
 * parent sees every addition: the same memory and the same lock. */
START_TEST(array_opened_in_children_shares_memory_and_lock)
{
    mproc_lock_kind kind = lock_kinds[_i];
    mproc_array *arr;
    ck_assert_int_eq(mproc_array_create(&arr, sizeof(int64_t), 16, kind), 0);
    struct array_ref_arg a = {.n = 2000};
    ck_assert_int_eq(mproc_array_ref(arr, &a.ref), 0);
    mproc_process *p[2];
    for (int i = 0; i < 2; i++)
        p[i] = start_process(ref_array_child, &a, sizeof a);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(finish_process(p[i]), 0);
    const int64_t *d = mproc_array_data(arr);
    for (int k = 0; k < 16; k++)
        ck_assert_int_eq(d[k], 2 * a.n);
    mproc_array_destroy(arr);
}
END_TEST

/* An opened handle has the creator's element size, count and lock kind. */
START_TEST(array_opened_keeps_its_shape_and_lock_kind)
{
    mproc_array *raw, *locked, *empty, *o;
    mproc_ref ref;
    ck_assert_int_eq(mproc_array_create(&raw, 3, 7, MPROC_LOCK_NONE), 0);
    ck_assert_int_eq(mproc_array_ref(raw, &ref), 0);
    ck_assert_int_eq(mproc_array_open(&o, ref), 0);
    ck_assert_uint_eq(mproc_array_len(o), 7);
    ck_assert_int_eq(mproc_array_lock(o, 0), MPROC_EINVAL);
    mproc_array_destroy(o);

    ck_assert_int_eq(mproc_array_create(&locked, 8, 1, MPROC_LOCK_LOCK), 0);
    ck_assert_int_eq(mproc_array_ref(locked, &ref), 0);
    ck_assert_int_eq(mproc_array_open(&o, ref), 0);
    ck_assert_int_eq(mproc_array_lock(locked, 0), 0);
    ck_assert_int_eq(mproc_array_lock(o, 0), MPROC_EAGAIN); /* one Lock */
    ck_assert_int_eq(mproc_array_unlock(o), 0);
    mproc_array_destroy(o);

    ck_assert_int_eq(mproc_array_create(&empty, 8, 0, MPROC_LOCK_RLOCK), 0);
    ck_assert_int_eq(mproc_array_ref(empty, &ref), 0);
    ck_assert_int_eq(mproc_array_open(&o, ref), 0);
    ck_assert_uint_eq(mproc_array_len(o), 0);
    mproc_array_destroy(o);
    mproc_array_destroy(raw);
    mproc_array_destroy(locked);
    mproc_array_destroy(empty);
}
END_TEST

static mproc_array *late_arr;

static int array_ref_now(mproc_ref *out)
{
    return mproc_array_ref(late_arr, out);
}

static int open_array(mproc_ref ref)
{
    mproc_array *a;
    int rc = mproc_array_open(&a, ref);
    mproc_array_destroy(rc == 0 ? a : NULL);
    return rc;
}

static void destroy_late_array(void)
{
    mproc_array_destroy(late_arr);
}

START_TEST(array_open_of_reference_not_given_is_enoent)
{
    ck_assert_int_eq(mproc_value_create(&late_arr, 8, MPROC_LOCK_RLOCK), 0);
    assert_only_given_opens(array_ref_now, open_array, destroy_late_array);
}
END_TEST

START_TEST(array_open_as_another_kind_is_einval)
{
    mproc_array *arr;
    mproc_ref ref;
    ck_assert_int_eq(mproc_array_create(&arr, 8, 8, MPROC_LOCK_RLOCK), 0);
    ck_assert_int_eq(mproc_array_ref(arr, &ref), 0);
    assert_kind_kept(ref, open_array);
    ck_assert_int_eq(mproc_array_open(NULL, ref), MPROC_EINVAL);
    ck_assert_int_eq(mproc_array_ref(arr, NULL), MPROC_EINVAL);
    mproc_array_destroy(arr);
}
END_TEST

/* Destroying an opened handle unmaps and closes only its own: the
 * creator's handle and data work on. */
START_TEST(array_destroy_of_opened_handle_leaves_the_original)
{
    mproc_array *arr, *o;
    mproc_ref ref;
    ck_assert_int_eq(mproc_array_create(&arr, 8, 4, MPROC_LOCK_RLOCK), 0);
    ck_assert_int_eq(mproc_array_ref(arr, &ref), 0);
    int fds = open_fds();
    ck_assert_int_eq(mproc_array_open(&o, ref), 0);
    ck_assert_int_eq(open_fds(), fds + 1);
    ((int64_t *)mproc_array_data(o))[3] = 42;
    mproc_array_destroy(o);
    ck_assert_int_eq(open_fds(), fds);
    ck_assert_int_eq(((int64_t *)mproc_array_data(arr))[3], 42);
    struct array_ref_arg a = {ref, 1};
    ck_assert_int_eq(run_process(ref_array_child, &a, sizeof a), 0);
    ck_assert_int_eq(((int64_t *)mproc_array_data(arr))[3], 43);
    mproc_array_destroy(arr);
}
END_TEST

/* SharedMemory. */

START_TEST(shm_create_then_open_shares_memory)
{
    const char *name = test_name("share");
    mproc_shm *c, *o;
    ck_assert_int_eq(mproc_shm_create(&c, name, 10000), 0);
    ck_assert_int_eq(mproc_shm_open(&o, name), 0);
    ck_assert_uint_eq(mproc_shm_size(o), 10000);
    ck_assert_str_eq(mproc_shm_name(o), name);
    ck_assert_ptr_ne(mproc_shm_buf(c), mproc_shm_buf(o));
    ck_assert_int_eq(((char *)mproc_shm_buf(o))[9999], 0);
    memcpy(mproc_shm_buf(c), "hello", 6);
    ck_assert_str_eq(mproc_shm_buf(o), "hello");
    ck_assert_int_eq(mproc_shm_unlink(c), 0);
    mproc_shm_close(o);
    mproc_shm_close(c);
}
END_TEST

START_TEST(shm_random_name_is_psm_and_8_hex_digits)
{
    mproc_shm *m;
    ck_assert_int_eq(mproc_shm_create(&m, NULL, 1), 0);
    const char *name = mproc_shm_name(m);
    ck_assert_uint_eq(strlen(name), 12);
    ck_assert_int_eq(strncmp(name, "psm_", 4), 0);
    ck_assert_uint_eq(strspn(name + 4, "0123456789abcdef"), 8);
    ck_assert(shm_exists(name));
    ck_assert_int_eq(mproc_shm_unlink(m), 0);
    ck_assert(!shm_exists(name));
    mproc_shm_close(m);
}
END_TEST

START_TEST(shm_create_on_taken_name_is_eexist)
{
    const char *name = test_name("taken");
    mproc_shm *m, *again = (mproc_shm *)&again;
    ck_assert_int_eq(mproc_shm_create(&m, name, 100), 0);
    ck_assert_int_eq(mproc_shm_create(&again, name, 100), -EEXIST);
    ck_assert_ptr_eq(again, (mproc_shm *)&again);
    ck_assert(shm_exists(name)); /* the failed create removed nothing */
    ck_assert_int_eq(mproc_shm_unlink(m), 0);
    mproc_shm_close(m);
}
END_TEST

START_TEST(shm_block_has_mode_0600)
{
    const char *name = test_name("mode");
    mproc_shm *m;
    ck_assert_int_eq(mproc_shm_create(&m, name, 100), 0);
    char path[300];
    snprintf(path, sizeof path, "/dev/shm/%s", name);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(st.st_size, 100);
    ck_assert_int_eq(mproc_shm_unlink(m), 0);
    mproc_shm_close(m);
}
END_TEST

START_TEST(shm_open_missing_name_is_enoent)
{
    mproc_shm *m = (mproc_shm *)&m;
    ck_assert_int_eq(mproc_shm_open(&m, test_name("missing")), -ENOENT);
    ck_assert_ptr_eq(m, (mproc_shm *)&m);
}
END_TEST

START_TEST(shm_bad_names_are_rejected)
{
    mproc_shm *m = (mproc_shm *)&m;
    char longname[MPROC_SHM_NAME_MAX + 2];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    const char *bad[] = {"", "a/b", "/lead", ".", ".."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(mproc_shm_create(&m, bad[i], 10), MPROC_EINVAL);
        ck_assert_int_eq(mproc_shm_open(&m, bad[i]), MPROC_EINVAL);
    }
    ck_assert_int_eq(mproc_shm_create(&m, longname, 10), -ENAMETOOLONG);
    ck_assert_int_eq(mproc_shm_open(&m, longname), -ENAMETOOLONG);
    ck_assert_int_eq(mproc_shm_open(&m, NULL), MPROC_EINVAL);
    ck_assert_int_eq(mproc_shm_open(NULL, "x"), MPROC_EINVAL);
    ck_assert_int_eq(mproc_shm_create(NULL, NULL, 10), MPROC_EINVAL);
    ck_assert_ptr_eq(m, (mproc_shm *)&m);
}
END_TEST

START_TEST(shm_longest_name_works)
{
    char name[MPROC_SHM_NAME_MAX + 1];
    memset(name, 'y', sizeof name - 1);
    name[sizeof name - 1] = 0;
    mproc_shm *m, *o;
    ck_assert_int_eq(mproc_shm_create(&m, name, 10), 0);
    ck_assert_int_eq(mproc_shm_open(&o, name), 0);
    ck_assert_int_eq(mproc_shm_unlink(m), 0);
    mproc_shm_close(o);
    mproc_shm_close(m);
}
END_TEST

START_TEST(shm_create_size_zero_is_einval)
{
    mproc_shm *m = (mproc_shm *)&m;
    ck_assert_int_eq(mproc_shm_create(&m, test_name("zero"), 0), MPROC_EINVAL);
    ck_assert_int_eq(mproc_shm_create(&m, NULL, 0), MPROC_EINVAL);
    ck_assert(!shm_exists(test_name("zero")));
    ck_assert_ptr_eq(m, (mproc_shm *)&m);
}
END_TEST

START_TEST(shm_open_unsized_block_is_einval)
{
    /* A block its creator has made but not sized yet (Python's window
     * between shm_open and ftruncate). */
    char path[80];
    snprintf(path, sizeof path, "/%s", test_name("unsized"));
    int fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    ck_assert_int_ge(fd, 0);
    close(fd);
    int fds = open_fds();
    mproc_shm *m = (mproc_shm *)&m;
    ck_assert_int_eq(mproc_shm_open(&m, path + 1), MPROC_EINVAL);
    ck_assert_int_eq(open_fds(), fds);
    shm_unlink(path);
}
END_TEST

START_TEST(shm_unmappable_size_is_enomem_and_leaves_no_name)
{
    int fds = open_fds();
    mproc_shm *m = (mproc_shm *)&m;
    const char *name = test_name("huge");
    ck_assert_int_eq(mproc_shm_create(&m, name, (size_t)1 << 62), MPROC_ENOMEM);
    ck_assert_int_eq(mproc_shm_create(&m, name, SIZE_MAX), MPROC_ENOMEM);
    ck_assert(!shm_exists(name));
    ck_assert_int_eq(open_fds(), fds);
    ck_assert_ptr_eq(m, (mproc_shm *)&m);
}
END_TEST

START_TEST(shm_keeps_no_fd_open)
{
    int fds = open_fds();
    mproc_shm *m, *o;
    ck_assert_int_eq(mproc_shm_create(&m, test_name("fds"), 100), 0);
    ck_assert_int_eq(mproc_shm_open(&o, test_name("fds")), 0);
    ck_assert_int_eq(open_fds(), fds);
    ck_assert_int_eq(mproc_shm_unlink(m), 0);
    mproc_shm_close(o);
    mproc_shm_close(m);
}
END_TEST

START_TEST(shm_close_never_unlinks)
{
    const char *name = test_name("close");
    mproc_shm *m, *o;
    ck_assert_int_eq(mproc_shm_create(&m, name, 100), 0);
    ((char *)mproc_shm_buf(m))[5] = 42;
    ck_assert_int_eq(mproc_shm_open(&o, name), 0);
    mproc_shm_close(o);
    mproc_shm_close(m);
    ck_assert(shm_exists(name));
    ck_assert_int_eq(mproc_shm_open(&o, name), 0);
    ck_assert_int_eq(((char *)mproc_shm_buf(o))[5], 42);
    ck_assert_int_eq(mproc_shm_unlink(o), 0);
    mproc_shm_close(o);
}
END_TEST

/* The child attaches the block named arg + 1, writes its mark, and then
 * exits (arg[0] 'x') or is killed by SIGKILL ('k') without closing. */
static mproc_shm *volatile left_open; /* reachable: no leak at exit */

static int attach_and_leave(void *arg, size_t len)
{
    (void)len;
    const char *how = arg;
    mproc_shm *m;
    if (mproc_shm_open(&m, how + 1) != 0)
        return 1;
    ((char *)mproc_shm_buf(m))[0] = 'C';
    left_open = m;
    if (how[0] == 'k')
        raise(SIGKILL);
    return 0;
}

START_TEST(shm_attacher_that_exits_or_dies_never_unlinks)
{
    const char *name = test_name("attach");
    char arg[80];
    mproc_shm *m;
    ck_assert_int_eq(mproc_shm_create(&m, name, 100), 0);
    snprintf(arg, sizeof arg, "x%s", name);
    ck_assert_int_eq(run_process(attach_and_leave, arg, strlen(arg) + 1), 0);
    arg[0] = 'k';
    ck_assert_int_eq(run_process(attach_and_leave, arg, strlen(arg) + 1),
                     -SIGKILL);
    ck_assert(shm_exists(name));
    ck_assert_int_eq(((char *)mproc_shm_buf(m))[0], 'C');
    ck_assert_int_eq(mproc_shm_unlink(m), 0);
    mproc_shm_close(m);
}
END_TEST

START_TEST(shm_unlink_removes_name_and_keeps_mapping)
{
    const char *name = test_name("unlink");
    mproc_shm *m, *o;
    ck_assert_int_eq(mproc_shm_create(&m, name, 4096), 0);
    ck_assert_int_eq(mproc_shm_open(&o, name), 0);
    ck_assert_int_eq(mproc_shm_unlink(o), 0); /* any holder may unlink */
    ck_assert(!shm_exists(name));
    ck_assert_int_eq(mproc_shm_unlink(m), -ENOENT);
    mproc_shm *again = (mproc_shm *)&again;
    ck_assert_int_eq(mproc_shm_open(&again, name), -ENOENT);
    ((char *)mproc_shm_buf(m))[4095] = 9;
    ck_assert_int_eq(((char *)mproc_shm_buf(o))[4095], 9);
    mproc_shm_close(o);
    mproc_shm_close(m);
}
END_TEST

START_TEST(shm_use_after_close_aborts)
{
    mproc_shm *m;
    ck_assert_int_eq(mproc_shm_create(&m, NULL, 10), 0);
    char name[32];
    snprintf(name, sizeof name, "/%s", mproc_shm_name(m));
    shm_unlink(name);
    void *keep = malloc(sizeof name + 300);
    mproc_shm_close(m);
    (void)mproc_shm_size(m);
    free(keep);
}
END_TEST

int main(int argc, char **argv)
{
    test_init(&argc, &argv, NULL);
    Suite *s = suite_create("shared");
    TCase *tc = tcase_create("array");
    tcase_add_test(tc, array_create_is_zero_filled_and_aligned);
    tcase_add_test(tc, array_len_counts_elements);
    tcase_add_test(tc, value_is_an_array_of_one_element);
    tcase_add_test(tc, array_empty_is_allowed);
    tcase_add_test(tc, array_is_shared_both_ways_with_a_child);
    tcase_add_test(tc, array_destroy_in_child_keeps_parent_mapping);
    tcase_add_test(tc, array_create_rejects_bad_arguments);
    tcase_add_test(tc, array_unmappable_size_is_enomem_and_leaks_nothing);
    tcase_add_test(tc, array_larger_than_free_memory_takes_pages_on_touch);
    tcase_add_test(tc, raw_array_has_no_lock);
    tcase_add_test(tc, array_destroy_accepts_null);
    if (!checked_memory())
        tcase_add_test_raise_signal(tc, array_use_after_destroy_aborts,
                                    SIGABRT);
    suite_add_tcase(s, tc);

    tc = tcase_create("lock");
    tcase_add_loop_test(
        tc, value_lock_makes_increments_from_two_processes_exact, 0, 2);
    tcase_add_test(tc, array_rlock_is_reentrant_and_owned);
    tcase_add_test(tc, array_lock_unlock_when_unlocked_is_einval);
    tcase_add_loop_test(tc, array_lock_nan_timeout_is_einval, 0, 2);
    tcase_add_loop_test(tc, array_lock_times_out_while_another_process_holds_it,
                        0, 2);
    tcase_add_test(tc, array_lock_may_be_released_by_another_process);
    tcase_add_test(tc, array_rlock_release_by_another_process_is_eperm);
    tcase_add_loop_test(tc, array_lock_holder_death_gives_eownerdead, 0, 2);
    suite_add_tcase(s, tc);

    tc = tcase_create("ref");
    tcase_add_loop_test(tc, array_opened_in_children_shares_memory_and_lock, 0,
                        2);
    tcase_add_test(tc, array_opened_keeps_its_shape_and_lock_kind);
    tcase_add_test(tc, array_open_of_reference_not_given_is_enoent);
    tcase_add_test(tc, array_open_as_another_kind_is_einval);
    tcase_add_test(tc, array_destroy_of_opened_handle_leaves_the_original);
    suite_add_tcase(s, tc);

    tc = tcase_create("lock_stress");
    tcase_set_tags(tc, "stress");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, array_lock_survives_holders_killed_at_random, 0, 2);
    suite_add_tcase(s, tc);

    tc = tcase_create("shm");
    tcase_add_test(tc, shm_create_then_open_shares_memory);
    tcase_add_test(tc, shm_random_name_is_psm_and_8_hex_digits);
    tcase_add_test(tc, shm_create_on_taken_name_is_eexist);
    tcase_add_test(tc, shm_block_has_mode_0600);
    tcase_add_test(tc, shm_open_missing_name_is_enoent);
    tcase_add_test(tc, shm_bad_names_are_rejected);
    tcase_add_test(tc, shm_longest_name_works);
    tcase_add_test(tc, shm_create_size_zero_is_einval);
    tcase_add_test(tc, shm_open_unsized_block_is_einval);
    tcase_add_test(tc, shm_unmappable_size_is_enomem_and_leaves_no_name);
    tcase_add_test(tc, shm_keeps_no_fd_open);
    tcase_add_test(tc, shm_close_never_unlinks);
    tcase_add_test(tc, shm_attacher_that_exits_or_dies_never_unlinks);
    tcase_add_test(tc, shm_unlink_removes_name_and_keeps_mapping);
    if (!checked_memory())
        tcase_add_test_raise_signal(tc, shm_use_after_close_aborts, SIGABRT);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
