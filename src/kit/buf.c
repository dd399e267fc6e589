/*
 * kit/buf.c - mproc_buf, the growable buffer user callbacks write into
 * (mproc/buf.h, kit/buf.h).
 *
 * Plain heap memory: data grows by doubling from 256 bytes (or straight to
 * what is asked, near SIZE_MAX), so n appends cost O(n) copies in all. A
 * failed growth leaves the buffer as it was. The owner empties it between
 * uses (mproc__buf_reset) and keeps the memory, so a worker running many
 * tasks allocates only for the largest result it has seen.
 */
#include "buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_CAP 256

void *mproc_buf_reserve(mproc_buf *b, size_t len)
{
    if (!b || len > SIZE_MAX - b->len)
        return NULL;
    size_t need = b->len + len;
    if (need > b->cap || !b->data) {
        size_t cap = b->cap ? b->cap : FIRST_CAP;
        while (cap < need)
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        char *d = realloc(b->data, cap);
        if (!d)
            return NULL;
        b->data = d;
        b->cap = cap;
    }
    void *p = b->data + b->len;
    b->len = need;
    return p;
}

int mproc_buf_append(mproc_buf *b, const void *data, size_t len)
{
    if (!b || (!data && len))
        return MPROC_EINVAL;
    if (len == 0)
        return 0;
    void *p = mproc_buf_reserve(b, len);
    if (!p)
        return MPROC_ENOMEM;
    memcpy(p, data, len);
    return 0;
}

void mproc__buf_free(mproc_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
