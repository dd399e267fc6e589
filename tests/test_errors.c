/* test_errors.c - result codes, their names and texts, and the version. */
#include "check_main.h"
#include "mproc.h"

#include <stdio.h>
#include <string.h>

START_TEST(err_name_names_every_code)
{
    static const struct {
        int code;
        const char *name;
    } table[] = {
        {0, "MPROC_OK"},
        {MPROC_EAGAIN, "MPROC_EAGAIN"},
        {MPROC_ETIMEDOUT, "MPROC_ETIMEDOUT"},
        {MPROC_EINVAL, "MPROC_EINVAL"},
        {MPROC_ENOMEM, "MPROC_ENOMEM"},
        {MPROC_EBADF, "MPROC_EBADF"},
        {MPROC_EMSGSIZE, "MPROC_EMSGSIZE"},
        {MPROC_ESHUTDOWN, "MPROC_ESHUTDOWN"},
        {MPROC_EOF, "MPROC_EOF"},
        {MPROC_EOWNERDEAD, "MPROC_EOWNERDEAD"},
        {MPROC_EPERM, "MPROC_EPERM"},
        {MPROC_EBROKEN, "MPROC_EBROKEN"},
        {MPROC_EBUSY, "MPROC_EBUSY"},
        {MPROC_EWORKERDIED, "MPROC_EWORKERDIED"},
        {MPROC_ETASKFAILED, "MPROC_ETASKFAILED"},
        {MPROC_EAUTH, "MPROC_EAUTH"},
        {MPROC_ENOINIT, "MPROC_ENOINIT"},
        {MPROC_EPROTO, "MPROC_EPROTO"},
        {MPROC_ENOENT, "MPROC_ENOENT"},
        {MPROC_ECANCELED, "MPROC_ECANCELED"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        ck_assert_str_eq(mproc_err_name(table[i].code), table[i].name);
        ck_assert_str_ne(mproc_strerror(table[i].code), "unknown error");
    }
}
END_TEST

START_TEST(errno_codes_are_negative_errno)
{
    ck_assert_int_eq(MPROC_EAGAIN, -EAGAIN);
    ck_assert_int_eq(MPROC_ETIMEDOUT, -ETIMEDOUT);
    ck_assert_int_eq(MPROC_EOWNERDEAD, -EOWNERDEAD);
    ck_assert_int_lt(MPROC_EOF, -4095); /* below every errno */
}
END_TEST

START_TEST(unlisted_errno_uses_c_library_names)
{
    ck_assert_str_eq(mproc_err_name(-EEXIST), "EEXIST");
    ck_assert_str_eq(mproc_strerror(-EEXIST), "File exists");
}
END_TEST

START_TEST(unknown_codes_have_placeholder_names)
{
    ck_assert_str_eq(mproc_err_name(12345), "MPROC_EUNKNOWN");
    ck_assert_str_eq(mproc_strerror(-99999), "unknown error");
    ck_assert_str_eq(mproc_err_name(MPROC__ERESERVED_BASE - 99),
                     "MPROC_EUNKNOWN");
}
END_TEST

START_TEST(enomem_text_names_the_address_space)
{
    /* many unbounded queues use up the address space, not the memory */
    ck_assert_ptr_nonnull(
        strstr(mproc_strerror(MPROC_ENOMEM), "address space"));
}
END_TEST

START_TEST(version_matches_header)
{
    ck_assert_uint_eq(mproc_version(), MPROC_VERSION_HEX);
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", MPROC_VERSION_MAJOR,
             MPROC_VERSION_MINOR, MPROC_VERSION_PATCH);
    ck_assert_str_eq(mproc_version_string(), want);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("errors");
    TCase *tc = tcase_create("errors");
    tcase_add_test(tc, err_name_names_every_code);
    tcase_add_test(tc, errno_codes_are_negative_errno);
    tcase_add_test(tc, unlisted_errno_uses_c_library_names);
    tcase_add_test(tc, unknown_codes_have_placeholder_names);
    tcase_add_test(tc, enomem_text_names_the_address_space);
    tcase_add_test(tc, version_matches_header);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
