/*
 * kit/check.c - the one way mproc stops on corrupting misuse.
 */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>

void mproc__die(const char *file, int line, const char *what)
{
    fprintf(stderr, "mproc: %s:%d: %s\n", file, line, what);
    fflush(stderr);
    abort();
}
