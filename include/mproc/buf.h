/*
 * mproc/buf.h - mproc_buf: a growable byte buffer a callback writes its
 * result into.
 *
 * mproc hands an mproc_buf to code of yours that produces bytes of a size
 * nobody knows in advance: a pool task (mproc_task_fn, mproc/pool.h)
 * appends its result to one; the shared dict's update function will write
 * a key's new value into one. You never create or free an mproc_buf: the
 * library owns it, hands it to your function empty, and takes the bytes
 * when the function returns.
 *
 * Safety facts of an mproc_buf:
 * - Threads: not thread-safe; it belongs to the one call of your function
 *   that received it. Use it from that thread (or hand it to another
 *   thread and wait for it before returning).
 * - Processes: it is private memory of the process running your function
 *   (for a pool task, the worker); only what it holds when the function
 *   returns is carried to the caller, copied.
 * - Fork: a child forked inside your function gets its own copy; what the
 *   child appends never reaches the result.
 * - Crash: if the process dies inside a call, the buffer dies with it and
 *   the task fails as its process's death says (MPROC_EWORKERDIED).
 * - Ownership: the bytes stay the library's. Keep no pointer into the
 *   buffer past the call that received it: growing moves the bytes.
 */
#ifndef MPROC_BUF_H
#define MPROC_BUF_H

#include "errors.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A growable byte buffer, handed to your function by the library. */
typedef struct mproc_buf mproc_buf;

/*
 * mproc_buf_append - append len bytes read at data to b.
 *
 * b:    the buffer your function received.
 * data: the bytes; may be NULL when len is 0.
 * len:  how many; 0 appends nothing.
 *
 * Returns 0; MPROC_EINVAL if b is NULL, or data is NULL with len > 0;
 * MPROC_ENOMEM when memory runs out (or b would outgrow SIZE_MAX bytes):
 * b is then as it was. Not thread-safe (see above).
 */
MPROC_API int mproc_buf_append(mproc_buf *b, const void *data, size_t len);

/*
 * mproc_buf_reserve - append len bytes to b without writing them, and
 * return where they start, for your function to fill in place.
 *
 * The bytes are uninitialised; the pointer stays valid until the next
 * call on b or the end of your function, whichever comes first (growing
 * moves the buffer). len 0 appends nothing and returns where the next
 * byte would go (not NULL).
 *
 * Returns the first of the len bytes; NULL if b is NULL or memory runs
 * out (b is then as it was). Not thread-safe (see above).
 */
MPROC_API void *mproc_buf_reserve(mproc_buf *b, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* MPROC_BUF_H */
