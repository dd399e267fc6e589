/*
 * mproc/errors.h - the error model, timeouts, symbol export and version.
 *
 * Every fallible mproc call returns an int: 0 (or a documented count, index
 * or flag, always >= 0) on success and a negative MPROC_E* code on failure.
 * Codes that have an errno equivalent are that errno negated; the others sit
 * in a reserved range below MPROC__ERESERVED_BASE that no errno reaches.
 * errno is never the result channel.
 */
#ifndef MPROC_ERRORS_H
#define MPROC_ERRORS_H

#include <errno.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the functions exported from libmproc; everything else is hidden. */
#if defined(MPROC_BUILDING)
#define MPROC_API __attribute__((visibility("default")))
#else
#define MPROC_API
#endif

#define MPROC_VERSION_MAJOR 0
#define MPROC_VERSION_MINOR 1
#define MPROC_VERSION_PATCH 0
/* The version as one comparable number: 0xMMmmpp. */
#define MPROC_VERSION_HEX                                                      \
    ((MPROC_VERSION_MAJOR << 16) | (MPROC_VERSION_MINOR << 8) |                \
     MPROC_VERSION_PATCH)

/* A timeout that never expires. Any negative timeout means the same. */
#define MPROC_FOREVER (-1.0)

/* Codes with an errno equivalent. */
#define MPROC_EAGAIN (-EAGAIN)         /* non-blocking call would block */
#define MPROC_ETIMEDOUT (-ETIMEDOUT)   /* the timeout expired */
#define MPROC_EINVAL (-EINVAL)         /* misuse or bad argument */
#define MPROC_ENOMEM (-ENOMEM)         /* out of memory */
#define MPROC_EBADF (-EBADF)           /* closed object or wrong end */
#define MPROC_EMSGSIZE (-EMSGSIZE)     /* caller's buffer too small */
#define MPROC_ESHUTDOWN (-ESHUTDOWN)   /* queue shut down */
#define MPROC_EOWNERDEAD (-EOWNERDEAD) /* acquired; previous holder died */
#define MPROC_EPERM (-EPERM)           /* release of a lock not held */
#define MPROC_EBUSY (-EBUSY)           /* object still in use */
#define MPROC_EPROTO (-EPROTO)         /* malformed data from a peer */
#define MPROC_ENOENT (-ENOENT)         /* no such key, name or reference */
#define MPROC_ECANCELED (-ECANCELED)   /* pool terminated before result */

/* Codes of mproc's own, in the reserved range. */
#define MPROC__ERESERVED_BASE (-10000)
#define MPROC_EOF (MPROC__ERESERVED_BASE - 1)         /* peer closed */
#define MPROC_EBROKEN (MPROC__ERESERVED_BASE - 2)     /* barrier broken */
#define MPROC_EWORKERDIED (MPROC__ERESERVED_BASE - 3) /* pool worker died */
#define MPROC_ETASKFAILED (MPROC__ERESERVED_BASE - 4) /* task failed */
#define MPROC_EAUTH (MPROC__ERESERVED_BASE - 5)       /* auth failed */
#define MPROC_ENOINIT (MPROC__ERESERVED_BASE - 6) /* mproc_init not called */

/*
 * mproc_strerror - a human-readable description of an mproc result code.
 *
 * code: any value an mproc call returned. 0 gives "success"; a negative
 *       errno value not in the table above gives the C library's text for
 *       it; anything else gives "unknown error".
 *
 * Returns a static string; never NULL. Thread-safe, async-signal-safe.
 */
MPROC_API const char *mproc_strerror(int code);

/*
 * mproc_err_name - the symbolic name of an mproc result code.
 *
 * mproc_err_name(MPROC_EAGAIN) is "MPROC_EAGAIN"; 0 is "MPROC_OK". A
 * negative errno value outside the table gives its errno name ("EEXIST");
 * anything else gives "MPROC_EUNKNOWN".
 *
 * Returns a static string; never NULL. Thread-safe, async-signal-safe.
 */
MPROC_API const char *mproc_err_name(int code);

/* mproc_version - MPROC_VERSION_HEX of the library actually loaded. */
MPROC_API unsigned mproc_version(void);

/* mproc_version_string - the loaded library's version, "MAJOR.MINOR.PATCH". */
MPROC_API const char *mproc_version_string(void);

#ifdef __cplusplus
}
#endif

#endif /* MPROC_ERRORS_H */
