/*
 * test_pool_transport.c - the pool's seam: function references (kit
 * fnref), and the pool driven through a fake transport that runs tasks in
 * this process under a plan each test sets.
 */
#include "check_main.h"
#include "kit/fnref.h"
#include "mproc.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- fnref ------------------------------------------------------------ */

static int forty_two(void)
{
    return 42;
}

typedef size_t (*strlen_fn)(const char *);

START_TEST(fnref_of_a_static_function_resolves_to_it)
{
    mproc__fnref ref;
    ck_assert_int_eq(mproc__fnref_of((void (*)(void))forty_two, &ref), 0);
    ck_assert_uint_eq(ref.zero, 0);
    ck_assert_ptr_nonnull(mproc__fnref_path(ref.object));
    void (*fn)(void) = NULL;
    ck_assert_int_eq(mproc__fnref_resolve(&ref, NULL, &fn), 0);
    ck_assert(fn == (void (*)(void))forty_two);
    ck_assert_int_eq(((int (*)(void))fn)(), 42);
}
END_TEST

START_TEST(fnref_of_a_libc_function_resolves_to_it)
{
    mproc__fnref ref, mine;
    ck_assert_int_eq(mproc__fnref_of((void (*)(void))strlen, &ref), 0);
    ck_assert_int_eq(mproc__fnref_of((void (*)(void))forty_two, &mine), 0);
    void (*fn)(void) = NULL;
    ck_assert_int_eq(mproc__fnref_resolve(&ref, NULL, &fn), 0);
    ck_assert(fn == (void (*)(void))strlen);
    ck_assert_uint_eq(((strlen_fn)fn)("abcd"), 4);
    /* two objects, two entries: the program and the C library */
    ck_assert_uint_ne(ref.object, mine.object);
}
END_TEST

START_TEST(fnref_of_a_non_function_address_fails_with_einval)
{
    mproc__fnref ref = {.object = 7, .offset = 9};
    int on_stack = 0;
    void *heap = malloc(1 << 20);
    ck_assert_ptr_nonnull(heap);
    ck_assert_int_eq(
        mproc__fnref_of((void (*)(void))(uintptr_t)&on_stack, &ref),
        MPROC_EINVAL);
    ck_assert_int_eq(mproc__fnref_of((void (*)(void))(uintptr_t)heap, &ref),
                     MPROC_EINVAL);
    ck_assert_int_eq(mproc__fnref_of(NULL, &ref), MPROC_EINVAL);
    ck_assert_uint_eq(ref.object, 7); /* untouched on failure */
    free(heap);
}
END_TEST

START_TEST(fnref_of_the_same_function_is_the_same_bytes)
{
    mproc__fnref a, b;
    ck_assert_int_eq(mproc__fnref_of((void (*)(void))forty_two, &a), 0);
    ck_assert_int_eq(mproc__fnref_of((void (*)(void))forty_two, &b), 0);
    ck_assert_int_eq(memcmp(&a, &b, sizeof a), 0);
}
END_TEST

START_TEST(fnref_resolves_by_index_in_a_forked_child)
{
    mproc__fnref ref;
    ck_assert_int_eq(mproc__fnref_of((void (*)(void))forty_two, &ref), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        void (*fn)(void) = NULL;
        if (mproc__fnref_resolve(&ref, NULL, &fn) != 0)
            _exit(1);
        _exit(((int (*)(void))fn)() == 42 ? 0 : 2);
    }
    ck_assert_int_eq(child_exit_status(pid), 0);
}
END_TEST

START_TEST(fnref_unknown_index_fails_with_enoent)
{
    mproc__fnref ref = {.object = MPROC__FNREF_OBJECTS - 1, .offset = 0};
    void (*fn)(void) = NULL;
    ck_assert_int_eq(mproc__fnref_resolve(&ref, NULL, &fn), -ENOENT);
    ck_assert_ptr_null(mproc__fnref_path(MPROC__FNREF_OBJECTS - 1));
    ck_assert_int_eq(mproc__fnref_resolve(NULL, NULL, &fn), MPROC_EINVAL);
}
END_TEST

START_TEST(fnref_resolves_by_path_through_the_loader)
{
    mproc__fnref ref;
    ck_assert_int_eq(mproc__fnref_of((void (*)(void))strlen, &ref), 0);
    const char *path = mproc__fnref_path(ref.object);
    ck_assert_ptr_nonnull(path);
    ck_assert_int_eq(path[0], '/'); /* a shared object, by absolute path */
    /* Another spelling of the same file: not in the table by that name,
     * so the loader (dlopen) finds it; the index is then ignored. */
    char alias[4096];
    snprintf(alias, sizeof alias, "/.%s", path);
    ref.object = MPROC__FNREF_OBJECTS - 1;
    void (*fn)(void) = NULL;
    ck_assert_int_eq(mproc__fnref_resolve(&ref, alias, &fn), 0);
    ck_assert(fn == (void (*)(void))strlen);
    ck_assert_int_eq(mproc__fnref_resolve(&ref, "/nonexistent/libnone.so", &fn),
                     -ENOENT);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pool_transport");
    TCase *fr = tcase_create("fnref");
    tcase_add_test(fr, fnref_of_a_static_function_resolves_to_it);
    tcase_add_test(fr, fnref_of_a_libc_function_resolves_to_it);
    tcase_add_test(fr, fnref_of_a_non_function_address_fails_with_einval);
    tcase_add_test(fr, fnref_of_the_same_function_is_the_same_bytes);
    tcase_add_test(fr, fnref_resolves_by_index_in_a_forked_child);
    tcase_add_test(fr, fnref_unknown_index_fails_with_enoent);
    tcase_add_test(fr, fnref_resolves_by_path_through_the_loader);
    suite_add_tcase(s, fr);
    return run_suite(s);
}
