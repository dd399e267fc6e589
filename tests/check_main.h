/*
 * check_main.h - what every test executable shares: the Check runner, and
 * through helpers.h the helpers the test files have in common.
 */
#ifndef MPROC_CHECK_MAIN_H
#define MPROC_CHECK_MAIN_H

#include "helpers.h"

#include <check.h>
#include <stdlib.h>

/* Runs suite s in fork mode (each test in its own process, with a
 * timeout); returns the process exit status. */
static inline int run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif /* MPROC_CHECK_MAIN_H */
