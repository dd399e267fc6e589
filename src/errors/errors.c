/*
 * errors.c - names and descriptions of mproc's result codes.
 *
 * One table holds every code of mproc/errors.h with its name and text, so
 * the two lookups cannot disagree. Codes outside the table that are negative
 * errno values (a call may pass one through, such as -EEXIST or -EMFILE)
 * are described by the C library.
 */
#include "mproc/errors.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct code_info {
    int code;
    const char *name;
    const char *text;
};

static const struct code_info codes[] = {
    {0, "MPROC_OK", "success"},
    {MPROC_EAGAIN, "MPROC_EAGAIN", "operation would block"},
    {MPROC_ETIMEDOUT, "MPROC_ETIMEDOUT", "timeout expired"},
    {MPROC_EINVAL, "MPROC_EINVAL", "invalid argument or misuse"},
    {MPROC_ENOMEM, "MPROC_ENOMEM", "out of memory or address space"},
    {MPROC_EBADF, "MPROC_EBADF", "object closed or wrong end"},
    {MPROC_EMSGSIZE, "MPROC_EMSGSIZE", "buffer too small for the message"},
    {MPROC_ESHUTDOWN, "MPROC_ESHUTDOWN", "queue shut down"},
    {MPROC_EOWNERDEAD, "MPROC_EOWNERDEAD",
     "acquired, but the previous holder died holding it"},
    {MPROC_EPERM, "MPROC_EPERM", "not the owner of the lock"},
    {MPROC_EBUSY, "MPROC_EBUSY", "object still in use"},
    {MPROC_EPROTO, "MPROC_EPROTO", "malformed data from the peer"},
    {MPROC_ENOENT, "MPROC_ENOENT", "no such key, name or reference"},
    {MPROC_ECANCELED, "MPROC_ECANCELED", "canceled: the pool was terminated"},
    {MPROC_EOF, "MPROC_EOF", "end of file: the peer closed the connection"},
    {MPROC_EBROKEN, "MPROC_EBROKEN", "barrier broken"},
    {MPROC_EWORKERDIED, "MPROC_EWORKERDIED",
     "the pool worker died running the task"},
    {MPROC_ETASKFAILED, "MPROC_ETASKFAILED",
     "the task function returned an error status"},
    {MPROC_EAUTH, "MPROC_EAUTH", "authentication failed"},
    {MPROC_ENOINIT, "MPROC_ENOINIT",
     "spawn and forkserver need mproc_init(&argc, &argv) first in main"},
};

static const struct code_info *lookup(int code)
{
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (codes[i].code == code)
            return &codes[i];
    return NULL;
}

static bool is_errno(int code)
{
    return code < 0 && code > -4096;
}

const char *mproc_strerror(int code)
{
    const struct code_info *info = lookup(code);
    if (info)
        return info->text;
    const char *text = is_errno(code) ? strerrordesc_np(-code) : NULL;
    return text ? text : "unknown error";
}

const char *mproc_err_name(int code)
{
    const struct code_info *info = lookup(code);
    if (info)
        return info->name;
    const char *name = is_errno(code) ? strerrorname_np(-code) : NULL;
    return name ? name : "MPROC_EUNKNOWN";
}

unsigned mproc_version(void)
{
    return MPROC_VERSION_HEX;
}

const char *mproc_version_string(void)
{
#define STR2(x) #x
#define STR(x) STR2(x)
    return STR(MPROC_VERSION_MAJOR) "." STR(MPROC_VERSION_MINOR) "." STR(
        MPROC_VERSION_PATCH);
#undef STR
#undef STR2
}
