/*
 * internal.h - helpers shared by mproc's areas; never installed.
 *
 * Non-static functions here carry the mproc__ prefix and are hidden from
 * the shared library's symbol table (-fvisibility=hidden). The raw Linux
 * wrappers live in sys/sys.h.
 */
#ifndef MPROC_INTERNAL_H
#define MPROC_INTERNAL_H

#include "mproc.h"
#include "sys/sys.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * mproc__die - report misuse that would corrupt state (a handle used after
 * destroy, a shared layout with a wrong magic) and abort. Never returns.
 */
_Noreturn void mproc__die(const char *file, int line, const char *what);

/* Aborts with file and line when a handle fails its validity check. */
#define MPROC__CHECK(cond, what)                                               \
    do {                                                                       \
        if (!(cond))                                                           \
            mproc__die(__FILE__, __LINE__, what);                              \
    } while (0)

#endif /* MPROC_INTERNAL_H */
