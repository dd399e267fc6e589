/*
 * kit/buf.h - what the library sees of an mproc_buf (mproc/buf.h).
 *
 * The public header gives users an opaque type and two calls that append;
 * the areas that hand a buffer to user code (the pool's workers, the
 * shared dict) own it, empty it between uses and free it with these.
 *
 * An mproc_buf is process-local heap memory, never shared: it holds a
 * pointer. A zero-filled struct is an empty buffer that owns nothing.
 */
#ifndef MPROC_KIT_BUF_H
#define MPROC_KIT_BUF_H

#include "mproc/buf.h"

#include <stddef.h>

struct mproc_buf {
    char *data; /* malloc'd, cap bytes; NULL while cap is 0 */
    size_t len; /* bytes appended */
    size_t cap;
};

/* mproc__buf_reset - empty b for the next use, keeping its memory. */
static inline void mproc__buf_reset(mproc_buf *b)
{
    b->len = 0;
}

/* mproc__buf_free - release b's memory; b is then empty and may be used
 * again. */
void mproc__buf_free(mproc_buf *b);

#endif /* MPROC_KIT_BUF_H */
