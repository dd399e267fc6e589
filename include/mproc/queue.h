/*
 * mproc/queue.h - Queue, SimpleQueue and JoinableQueue: Python's
 * multiprocessing queues in C, as byte messages in shared memory.
 *
 * A queue is a ring of records in one memfd-backed shared mapping. Any
 * number of producer and consumer processes (and threads) use it at once;
 * every message is delivered whole, exactly once, in order per producer.
 * There is no feeder thread: put returns once the message is in shared
 * memory, so ending a process that used a queue never hangs.
 *
 * Kinds, as in Python:
 * - Queue(maxsize): opts.maxsize > 0 bounds the items; the ring holds
 *   opts.capacity bytes (default 1 MiB) and a message larger than that
 *   streams through it in pieces while a consumer reads.
 * - SimpleQueue / Queue() (maxsize 0): unbounded. The ring is a large sparse
 *   mapping (by default the machine's RAM rounded up to a power of two, or
 *   opts.capacity) whose pages are taken on touch and given back as they
 *   drain, except those of its first min(capacity / 4, 128 MiB) bytes,
 *   which it keeps and returns to whenever it runs empty (so a reused
 *   queue does not pay for fresh pages); a put never blocks and fails with
 * MPROC_ENOMEM only when the memory is not there. Every message is stored
 * whole. The ring is left out of core dumps (a dump would read, and so
 * allocate, all of it).
 * - JoinableQueue: opts.joinable adds task_done and join.
 *
 * Safety facts of mproc_queue:
 * - Threads: every call is thread-safe, on one handle or several.
 * - Processes: a queue created before mproc_process_start (or fork) is
 *   usable in the child as it is; producers and consumers may be in any
 *   processes that share it.
 * - Fork: a child inherits the handle; it and its parent use the same
 *   queue. Each process destroys its own handle. Under every start
 *   method a child may instead open the queue's reference
 *   (mproc_queue_ref, mproc_queue_open).
 * - Crash: a process killed at any instant inside any call never corrupts,
 *   blocks or deadlocks the queue for the others, and the message it was
 *   putting or getting is delivered whole exactly once or not at all (a
 *   consumer killed after taking a message takes it with it). Locks record
 *   their holder's process token; a process waiting for a lock re-checks
 *   the holder's life every 50 ms while it waits and, if it died, takes the
 *   lock over and completes or rolls back the dead holder's operation. A
 *   call blocked for data, room or join sleeps on a futex until the first
 *   change, or 50 ms; then, and before it times out, it looks again and, if
 *   a process of the other side died halfway through a put or get,
 *   completes what that process committed. So a message whose producer
 *   died after committing it is there for a waiting get within 50 ms, and
 *   for any get with a timeout above 0, even if no producer ever calls
 *   again; a call with timeout 0 does not settle (docs/api/queue.md: who
 *   repairs what, and when).
 * - Kept locks: a process that makes many calls in a row on one side keeps
 *   that side's lock between them, so a put or get needs no atomic
 *   read-modify-write; another process or thread that calls takes it back
 *   at once (a membarrier(2) call, then a wait for the keeper's call in
 *   progress to end). The creator of the queue registers for membarrier's
 *   expedited global barrier, and its forked children inherit that (a
 *   process that opens a reference registers itself): a process that a
 *   seccomp filter later forbids membarrier must not use a queue created
 *   where it worked (the call aborts with a message). Up to 8
 *   processes per side keep a slot for this for their lifetime; more just
 *   use the plain locks.
 *
 * Blocking: timeouts are seconds; MPROC_FOREVER (negative) waits as long as
 * it takes, 0 tries once and fails with MPROC_EAGAIN, > 0 fails with
 * MPROC_ETIMEDOUT at the deadline. A call always waits for the queue's
 * short internal locks (up to 100 ms even with a timeout of 0) before it
 * decides it would block. EINTR never leaks out.
 *
 * Memory: a message of n bytes takes 16 + n rounded up to 64 bytes of ring
 * (a cache line: 64 bytes for up to 48 bytes, 128 for a 64-byte message).
 */
#ifndef MPROC_QUEUE_H
#define MPROC_QUEUE_H

#include "errors.h"
#include "ref.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mproc_queue mproc_queue;

/* Options of mproc_queue_create; a zeroed struct or NULL is Python's
 * Queue(): unbounded, not joinable. */
typedef struct {
    size_t maxsize;  /* items; 0 = unbounded (SimpleQueue) */
    size_t capacity; /* bytes of ring, rounded up to a power of two (at
                        least 128); 0 = 1 MiB when bounded, RAM when not */
    bool joinable;   /* JoinableQueue: task_done and join */
} mproc_queue_opts;

/*
 * mproc_queue_create - make a new queue in its own shared mapping.
 *
 * out:  receives the handle; untouched on failure.
 * opts: NULL or zeroed for Python's defaults; see mproc_queue_opts.
 *
 * Returns 0; MPROC_EINVAL if out is NULL or capacity exceeds 2^40;
 * MPROC_ENOMEM when the mapping cannot be made - for an unbounded queue
 * also when the address space runs out: each reserves a range the size of
 * its ring (RAM rounded up to a power of two by default), so a process
 * holds at most about 128 TiB / that size of them at once (4096 with 32
 * GiB rings; docs/api/queue.md); another negative errno value (-EMFILE)
 * from memfd_create. Nothing leaks on failure. Thread-safe.
 */
MPROC_API int mproc_queue_create(mproc_queue **out,
                                 const mproc_queue_opts *opts);

/*
 * mproc_queue_put - append a message of len bytes (len may be 0).
 *
 * Bounded queue: waits while maxsize items are queued or the ring lacks
 * room. A message larger than the ring streams through it in pieces, so
 * put then returns only once consumers have taken all but the last piece;
 * if the timeout expires, or the queue is shut down, midway, the pieces
 * already sent are withdrawn (consumers discard them) and the put fails.
 * Unbounded queue: never waits for room (only, briefly, for the lock).
 * The bytes are copied; data may be reused at once.
 *
 * Returns 0 once the message is in shared memory; MPROC_EAGAIN (timeout 0)
 * or MPROC_ETIMEDOUT when no room came in time; MPROC_ESHUTDOWN after
 * mproc_queue_shutdown; MPROC_ENOMEM when an unbounded queue cannot hold
 * the message (ring full, or no memory for its pages); MPROC_EINVAL for a
 * NULL q, NULL data with len > 0, or a NaN timeout.
 * Thread- and process-safe. If the caller is killed inside put, the
 * message is delivered whole or not at all, and the queue stays usable.
 */
MPROC_API int mproc_queue_put(mproc_queue *q, const void *data, size_t len,
                              double timeout);

/* mproc_queue_put_nowait - mproc_queue_put with a timeout of 0. */
MPROC_API int mproc_queue_put_nowait(mproc_queue *q, const void *data,
                                     size_t len);

/*
 * mproc_queue_get - remove the oldest message and copy it into buf.
 *
 * buf, cap: the caller's buffer (buf may be NULL when cap is 0).
 * len:      receives the message's length (also on MPROC_EMSGSIZE).
 *
 * Waits for a message as the timeout allows. Once a streamed message
 * (larger than a bounded queue's ring) has begun to arrive, get waits for
 * the rest while its producer lives, whatever the timeout.
 *
 * Returns 0; MPROC_EMSGSIZE when the message is longer than cap - it stays
 * at the head of the queue and *len tells its size; MPROC_EAGAIN (timeout
 * 0) or MPROC_ETIMEDOUT when no message came in time; MPROC_ESHUTDOWN once
 * the queue is shut down and empty; MPROC_EINVAL for NULL q or len, NULL
 * buf with cap > 0, or a NaN timeout.
 * Thread- and process-safe. If the caller is killed inside get, its
 * message is delivered to nobody or stays for the next get, never torn.
 */
MPROC_API int mproc_queue_get(mproc_queue *q, void *buf, size_t cap,
                              size_t *len, double timeout);

/* mproc_queue_get_nowait - mproc_queue_get with a timeout of 0. */
MPROC_API int mproc_queue_get_nowait(mproc_queue *q, void *buf, size_t cap,
                                     size_t *len);

/*
 * mproc_queue_get_alloc - remove the oldest message into a new buffer.
 *
 * *data receives a malloc'd buffer of *len bytes (at least 1 byte is
 * allocated, so a 0-byte message gives a non-NULL pointer); the caller
 * free()s it. Waits as mproc_queue_get does.
 *
 * Returns 0; MPROC_ENOMEM when the buffer cannot be allocated (the message
 * stays); MPROC_EAGAIN, MPROC_ETIMEDOUT, MPROC_ESHUTDOWN as for get;
 * MPROC_EINVAL for NULL arguments or a NaN timeout. *data and *len are
 * untouched on failure. Thread- and process-safe.
 */
MPROC_API int mproc_queue_get_alloc(mproc_queue *q, void **data, size_t *len,
                                    double timeout);

/*
 * mproc_queue_qsize - the number of messages queued (put and not yet begun
 * to be got). Approximate while others use the queue, as in Python.
 * 0 for NULL. Never blocks; thread- and process-safe.
 */
MPROC_API size_t mproc_queue_qsize(mproc_queue *q);

/* mproc_queue_empty - qsize() == 0. Approximate, as in Python. */
MPROC_API bool mproc_queue_empty(mproc_queue *q);

/*
 * mproc_queue_full - true when a bounded queue holds maxsize messages or
 * has no byte room for even an empty one; false for unbounded queues.
 * Approximate, as in Python.
 */
MPROC_API bool mproc_queue_full(mproc_queue *q);

/*
 * mproc_queue_shutdown - Python 3.13's Queue.shutdown, for all processes.
 *
 * From now on puts fail with MPROC_ESHUTDOWN (a streamed put in progress
 * is withdrawn), and every blocked put, get and join is woken. Gets take
 * what is left and then fail with MPROC_ESHUTDOWN. immediate: also discard
 * every queued message now (for a JoinableQueue each counts as done, so
 * join returns once the messages already taken are done). Shutting down
 * again is harmless; a later immediate shutdown still discards.
 *
 * Returns 0; MPROC_EINVAL for NULL. Thread- and process-safe; an
 * immediate shutdown waits for the consumers' lock.
 */
MPROC_API int mproc_queue_shutdown(mproc_queue *q, bool immediate);

/*
 * mproc_queue_task_done - a JoinableQueue consumer's "this message is
 * handled". Messages a shutdown discarded, or whose put was withdrawn,
 * count as done by themselves.
 *
 * Returns 0; MPROC_EINVAL for a queue that is not joinable, or when called
 * more times than messages were put (Python's ValueError). Thread- and
 * process-safe; a single atomic operation, so a crash cannot tear it.
 */
MPROC_API int mproc_queue_task_done(mproc_queue *q);

/*
 * mproc_queue_join - wait until every message put has been marked done.
 *
 * Returns 0; MPROC_EAGAIN (timeout 0) or MPROC_ETIMEDOUT; MPROC_EINVAL
 * for a queue that is not joinable or a NaN timeout. Thread- and
 * process-safe.
 */
MPROC_API int mproc_queue_join(mproc_queue *q, double timeout);

/*
 * mproc_queue_destroy - release this process's handle (NULL is fine).
 *
 * The queue itself lives on while any other process still holds it; its
 * memory is freed when the last one lets go (or exits). Using q afterwards
 * is misuse. Not to be called while other threads of this process use q.
 */
MPROC_API void mproc_queue_destroy(mproc_queue *q);

/*
 * mproc_queue_ref - the reference of q's queue (mproc/ref.h), into *out:
 * 16 bytes to copy into a child's argument bytes. Registers the queue with
 * this process, so that every child started from now on may open it,
 * until this handle is destroyed; taking it again gives the same bytes.
 * Returns 0; MPROC_EINVAL if out is NULL; MPROC_ENOMEM. Thread-safe.
 * Aborts when q is a destroyed handle.
 */
MPROC_API int mproc_queue_ref(mproc_queue *q, mproc_ref *out);

/*
 * mproc_queue_open - a new handle, *out, on the queue that ref names, in a
 * process that was given it (a child started after its parent took ref,
 * under any start method, or the process that took it). The handle is as
 * the creator's: same queue, same kind and bound, every call allowed; it
 * starts as a process new to the queue (its kept locks and slots are its
 * own) and is released on its own with mproc_queue_destroy, which leaves
 * every other handle working. Opening an unbounded queue maps its whole
 * sparse ring again, taking no memory.
 *
 * Returns 0; MPROC_ENOENT when this process was not given ref (made up,
 * taken after this process started, or withdrawn by a destroy before the
 * start); MPROC_EINVAL if out is NULL, ref names another kind of object,
 * or the shared block is of another layout version; MPROC_ENOMEM; a
 * negative errno value: -EMFILE when no descriptor is left, or the error
 * of membarrier registration (-ENOSYS, -EPERM) where the creator's queue
 * keeps its locks and this process may not (see "Kept locks" above).
 * *out is untouched on failure. Thread-safe.
 */
MPROC_API int mproc_queue_open(mproc_queue **out, mproc_ref ref);

#ifdef __cplusplus
}
#endif

#endif /* MPROC_QUEUE_H */
