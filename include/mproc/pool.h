/*
 * mproc/pool.h - Pool: Python's multiprocessing.Pool in C.
 *
 * A pool keeps `processes` forked worker processes (daemons named
 * "ForkPoolWorker-N", N counting the pool's workers from 1) that take
 * chunks of work from shared memory by themselves: tasks run whether or
 * not the caller is inside a pool call (apply_async, sleep, get works as
 * in Python). map/imap/imap_unordered run a function over an array of
 * fixed-size items; apply/apply_async run a function over a byte argument
 * and collect a variable-size result written into an mproc_buf. starmap is
 * map over an array of structs: put each call's arguments in one struct.
 *
 * Errors are data. A task function's non-zero status fails that task (or
 * that map) with MPROC_ETASKFAILED, the status kept as the error detail. A
 * worker that dies running a task (a signal, an OOM kill, _exit) fails
 * exactly that task with MPROC_EWORKERDIED and the worker's exit code (-N
 * for signal N) as detail, unless opts.retries allows a rerun; the pool
 * replaces the worker and stays usable. No pool call ever hangs because a
 * worker died.
 *
 * Supervision: there is no helper thread. The pool's own calls (every
 * blocking wait, every submit, and the progress calls) collect results, check
 * the workers' pidfds without blocking at least every 10 ms while they wait (a
 * futex wait in bounded slices), and replace workers that have ended. While the
 * caller is outside pool calls the surviving workers keep running queued
 * tasks; a worker that has ended (crashed, or retired after
 * maxtasksperchild) is replaced at the next pool call.
 *
 * Task functions travel to the workers as (loaded object, offset), found
 * with dladdr: a function of the main program (static ones too) or of any
 * shared object. A pointer that lies in no loaded object (code generated
 * at run time, a pointer into data) fails the submitting call with
 * MPROC_EINVAL. The workers are forked at create (replacements later), so
 * they hold the code loaded then: a task whose function is in an object
 * the caller loaded (dlopen) after its worker was forked fails with
 * MPROC_ENOENT instead of running. The objects functions come from are kept in
 * a table of 1024 per process; one more fails the call with MPROC_ENOMEM.
 *
 * Safety facts of mproc_pool, mproc_async and mproc_iter:
 * - Threads: every call is thread-safe (a mutex per pool; it is released
 *   while a call sleeps). An mproc_iter is consumed by one thread at a time.
 * - Processes: a pool and its results belong to the process that created
 *   the pool; they mean nothing in a forked child (a worker or any other).
 * - Fork: workers are forked from the thread calling the pool, copying
 *   only that thread, as Python's "fork" start method does.
 * - Crash: a worker that dies at any instant is noticed within about
 *   10 ms of a pool call waiting; the task it ran fails (or reruns) and
 *   nothing else is lost. If the caller dies, the workers (daemons) die
 *   with it.
 */
#ifndef MPROC_POOL_H
#define MPROC_POOL_H

#include "buf.h"
#include "errors.h"
#include "process.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mproc_pool mproc_pool;
typedef struct mproc_async mproc_async;
typedef struct mproc_iter mproc_iter;

/*
 * A map function: reads one input item at in, writes one output item at
 * out (in_size and out_size bytes, as given to the map call). Returns 0,
 * or a non-zero status that fails the map with MPROC_ETASKFAILED; it has
 * no mproc_buf, and says why with mproc_task_error.
 */
typedef int (*mproc_map_fn)(const void *in, void *out);

/*
 * An apply task: reads arglen bytes at arg and appends its result to
 * result (mproc_buf_append, mproc_buf_reserve: mproc/buf.h). Returns 0,
 * or a non-zero status (MPROC_ETASKFAILED): the bytes appended are then
 * its words, Python's exception text, for mproc_async_error_text (unless
 * it called mproc_task_error).
 */
typedef int (*mproc_task_fn)(const void *arg, size_t arglen, mproc_buf *result);

/* Lets the compiler check a printf-like call's format and arguments. */
#if defined(__GNUC__)
#define MPROC_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define MPROC_PRINTF(fmt, args)
#endif

/* The most bytes of a failing task's words that reach the caller. */
#define MPROC_ERROR_TEXT_MAX 1024
/* What ends words that were cut to MPROC_ERROR_TEXT_MAX bytes. */
#define MPROC_ERROR_TEXT_CUT "...[truncated]"

/*
 * mproc_task_error - say why the running task fails, as Python's exception
 * text does: called by a map function or an apply task in a worker before
 * it returns non-zero. printf's format and arguments; a later call
 * replaces the text, fmt NULL forgets it. For an apply task the text
 * replaces what it appended to its mproc_buf as its words.
 *
 * The words of a task that returns non-zero reach the caller through
 * mproc_async_error_text (apply, map) or mproc_iter_error_text (imap):
 * at most MPROC_ERROR_TEXT_MAX bytes; longer words keep their first
 * MPROC_ERROR_TEXT_MAX - 14 bytes followed by the 14 bytes of
 * MPROC_ERROR_TEXT_CUT, so that cut words are exactly
 * MPROC_ERROR_TEXT_MAX bytes long and end with the marker. Words of a
 * task that succeeds are dropped; a task whose worker dies has none.
 *
 * Thread-local: the text belongs to the calling thread, and is forgotten
 * before each task. Called outside a pool worker it does nothing useful
 * and no harm. Async-signal-unsafe (it formats).
 */
MPROC_API void mproc_task_error(const char *fmt, ...) MPROC_PRINTF(1, 2);

/* Options of mproc_pool_create; a zeroed struct or NULL is Python's
 * defaults. */
typedef struct {
    int processes;            /* workers; 0: mproc_cpu_count() */
    mproc_target initializer; /* run once in each worker, replacements too */
    const void *initarg;      /* its argument bytes, copied at create */
    size_t initarglen;
    unsigned maxtasksperchild; /* replace a worker after this many; 0: never */
    unsigned retries;          /* reruns of a task whose worker died; 0: none */
    mproc_start_method start_method; /* of the workers; DEFAULT: the default */
} mproc_pool_opts;

/*
 * mproc_pool_create - start a pool of worker processes.
 *
 * The initializer (if any) runs in each worker before its first task with
 * its own copy of the initarg bytes. An initializer that returns non-zero
 * ends its worker; the pool then counts as broken (Python would respawn
 * workers for ever): pending and later tasks fail with MPROC_EWORKERDIED,
 * the initializer's status as detail.
 *
 * Signals: each worker starts with SIGTERM reset to its default action and
 * unblocked, whatever the caller had installed (a test runner's handler,
 * say), so that terminate's SIGTERM ends it. The initializer may install
 * its own SIGTERM handler after that reset; terminate (and destroy)
 * escalates to SIGKILL after its 100 ms grace anyway.
 *
 * The pool's shared result rings and task arena (sparse reservations of
 * gigabytes) are left out of core dumps, the caller's and the workers'.
 *
 * Start methods: workers are forked by default ("ForkPoolWorker-N"). Under
 * spawn ("SpawnPoolWorker-N") or forkserver ("ForkServerPoolWorker-N")
 * they start from a clean program (mproc_init must have been called) and
 * open the pool's shared memory by reference; task functions and the
 * initializer are found in them by (object, path) as for a Process
 * target, so a function in a shared object loaded after the pool was
 * created works too. Spawn and forkserver workers see none of the caller's
 * memory: items and arguments are all they get.
 *
 * What a worker sees (data pointers). Under fork a worker is a copy of the
 * caller as it was when that worker was forked: at create, or later for a
 * replacement. A task may follow a pointer into memory that existed then,
 * and reads it as it was then (a private copy: what the caller writes
 * afterwards does not show). A pointer into memory allocated later
 * (malloc, mmap, a Value or Array created after the pool) reads whatever
 * the worker's copy holds at that address, or crashes the worker: the task
 * fails with MPROC_EWORKERDIED, and the same call may then succeed on the
 * replacement, forked after the allocation. Rely on neither. Under spawn
 * and forkserver a task sees none of the caller's memory. Ways to hand
 * tasks data made after create, under every start method:
 * - the item or argument bytes themselves, copied at the call;
 * - a SharedMemory block (mproc_shm_create) whose name travels in the
 *   item or argument bytes: a task opens it by name (mproc_shm_open) in
 *   any worker, at any time;
 * - a Value or Array created before the pool, whose contents the caller
 *   writes later: its memory is shared. Under fork the workers inherit its
 *   handle; under spawn and forkserver take its reference (mproc_array_ref)
 *   before create and open it (mproc_array_open) in the initializer or a
 *   task. A worker cannot open a reference taken after it started
 *   (MPROC_ENOENT);
 * - the initializer, which sets up what every task of a worker needs from
 *   its own copy of the initarg bytes.
 *
 * Returns 0 and sets *out; MPROC_EINVAL for a NULL out, negative
 * processes, initarg NULL with initarglen > 0, or a calling process that
 * is itself a daemon (daemons may not have children, as in Python);
 * MPROC_ENOMEM when the shared memory cannot be mapped; MPROC_EAGAIN (or
 * another negative errno) when the workers cannot be started; for spawn and
 * forkserver, the errors of mproc_process_start (MPROC_ENOINIT, or
 * MPROC_EINVAL for an initializer in no loaded object). Nothing is left
 * running or mapped on failure.
 */
MPROC_API int mproc_pool_create(mproc_pool **out, const mproc_pool_opts *opts);

/*
 * mproc_pool_map - Pool.map: out[i] = fn(in[i]) for i < n, in order.
 *
 * in holds n items of in_size bytes, out room for n items of out_size
 * bytes (either size may be 0). chunksize: items per task; 0 picks
 * Python's: ceil(n / (4 * processes)). map is map_async + get: it
 * returns when every chunk is done or as soon as one has failed.
 *
 * Returns 0; MPROC_ETASKFAILED (an item's function returned non-zero) or
 * MPROC_EWORKERDIED (a worker died running it, retries spent) - use
 * map_async and mproc_async_error to learn which item and why; the
 * contents of out are then unspecified; MPROC_ECANCELED when the pool is
 * terminated meanwhile; MPROC_ENOENT when a worker could not find fn (see
 * above); MPROC_EINVAL for a NULL fn or one in no loaded object, NULL
 * arrays with n > 0 and a non-zero item size, or a pool closed or
 * terminated; MPROC_ENOMEM when the items do not fit the pool's shared
 * arena (or fn's object does not fit the table of objects).
 */
MPROC_API int mproc_pool_map(mproc_pool *p, mproc_map_fn fn, const void *in,
                             size_t in_size, void *out, size_t out_size,
                             size_t n, size_t chunksize);

/*
 * mproc_pool_map_async - Pool.map_async. The input is copied at once into
 * shared memory: in may be reused when this returns. Results are copied
 * into out as chunks complete (inside pool calls): out must stay valid
 * until the result is ready or destroyed. *res receives the result; free
 * it with mproc_async_destroy. Returns as mproc_pool_map's argument checks.
 */
MPROC_API int mproc_pool_map_async(mproc_pool *p, mproc_map_fn fn,
                                   const void *in, size_t in_size, void *out,
                                   size_t out_size, size_t n, size_t chunksize,
                                   mproc_async **res);

/*
 * mproc_pool_imap, mproc_pool_imap_unordered - Pool.imap and
 * imap_unordered: an iterator over fn(in[i]). imap yields in order;
 * imap_unordered as chunks finish, with each item's index. Memory stays
 * bounded: at most 4 * processes chunks are submitted or waiting to be
 * consumed; the next ones are submitted as the consumer advances. in is
 * read lazily: it must stay valid until the iterator has returned
 * MPROC_EOF or is destroyed. chunksize 0 picks Python's rule, capped so
 * that a chunk holds at most 256 KiB of items.
 *
 * Returns 0 and sets *it; the errors of mproc_pool_map_async.
 */
MPROC_API int mproc_pool_imap(mproc_pool *p, mproc_map_fn fn, const void *in,
                              size_t in_size, size_t out_size, size_t n,
                              size_t chunksize, mproc_iter **it);
MPROC_API int mproc_pool_imap_unordered(mproc_pool *p, mproc_map_fn fn,
                                        const void *in, size_t in_size,
                                        size_t out_size, size_t n,
                                        size_t chunksize, mproc_iter **it);

/*
 * mproc_iter_next - the next result of an imap: copies out_size bytes to
 * out (may be NULL to skip) and its item number to *index (may be NULL).
 *
 * A failure ends the iteration. A chunk is yielded only once all of it is
 * in, and a chunk in which an item failed yields none of its items (it
 * fails as a whole, as Python's chunks do): next returns the failure once,
 * with *index naming the failed item, then MPROC_EOF; the chunks still
 * running finish in the workers and are discarded. So with chunksize 2 and
 * item 7 of 20 failing, imap yields items 0-5, the failure at index 7,
 * then MPROC_EOF, as CPython's imap does; imap_unordered yields the chunks
 * that finished before the failed one, then the failure, then MPROC_EOF.
 * CPython ends there only for chunksize > 1 and goes on past a failed item
 * at chunksize 1; mproc ends at every chunksize, so that what the caller
 * sees does not depend on the chunking (chunksize 0 chooses it).
 *
 * Returns 0; MPROC_EOF after the last item, and after a failure;
 * MPROC_ETIMEDOUT (MPROC_EAGAIN for timeout 0) if none is ready in time;
 * MPROC_ETASKFAILED or MPROC_EWORKERDIED (or MPROC_ENOENT, see above) for a
 * failed item
 * (mproc_iter_error tells more); MPROC_ECANCELED once the pool is
 * terminated; MPROC_ENOMEM when the next chunks do not fit the pool's
 * arena; MPROC_EINVAL for a NULL it.
 */
MPROC_API int mproc_iter_next(mproc_iter *it, void *out, size_t *index,
                              double timeout);

/*
 * mproc_iter_error - the detail of the last failure mproc_iter_next
 * returned (extension): the code (0 if none), and in *index / *detail
 * (each may be NULL) the item and the task status or worker exit code.
 */
MPROC_API int mproc_iter_error(mproc_iter *it, size_t *index, int *detail);

/*
 * mproc_iter_error_text - the words of the task whose failure
 * mproc_iter_next returned (see mproc_task_error): NUL-terminated, owned by
 * the iterator, valid until it is destroyed; *len (may be NULL) their
 * length without the NUL. NULL (and *len 0) when there is no such failure,
 * the failure was not a task's (a worker died, the pool was terminated,
 * the function was not found), the task said nothing, or it is NULL.
 */
MPROC_API const char *mproc_iter_error_text(mproc_iter *it, size_t *len);

/*
 * mproc_iter_progress - how far an imap or imap_unordered has come: *done
 * the items whose results are in (computed by the workers, whether or not
 * mproc_iter_next has yielded them yet), *total the items of the call (n).
 * Either pointer may be NULL. Counts as mproc_async_progress does: a chunk
 * at a time, when the whole chunk is in without failure; never going
 * back. *done reaches *total exactly when every chunk is in without
 * failure, possibly before the consumer has taken the last items. A
 * failed chunk is not counted, and the failure stops the count: from the
 * moment mproc_iter_next returns it (or the pool is terminated), *done
 * stays where it was, short of *total. Collects what has finished first
 * (a poll that never blocks), so progress advances even while nobody
 * calls mproc_iter_next.
 *
 * Returns 0; MPROC_EINVAL for a NULL it (*done and *total then 0).
 * Thread-safe: it takes the pool's mutex for a moment, and may be called
 * from another thread while one consumes the iterator (not concurrently
 * with mproc_iter_destroy). Valid after the pool is destroyed (the count
 * stays where it was). Cheap: meant to be called in a loop.
 */
MPROC_API int mproc_iter_progress(mproc_iter *it, size_t *done, size_t *total);

/* mproc_iter_destroy - release an iterator; chunks still running finish
 * in the workers and are discarded. Accepts NULL. */
MPROC_API void mproc_iter_destroy(mproc_iter *it);

/*
 * mproc_pool_apply - Pool.apply: run fn(arg) in a worker and wait.
 * *result receives the bytes the task appended (malloc'd: free() it;
 * NULL when empty) and *len their count; either may be NULL. When the
 * task fails (MPROC_ETASKFAILED), *result receives its words instead, as
 * Python's apply raises the task's exception: malloc'd, NUL-terminated,
 * at most MPROC_ERROR_TEXT_MAX bytes (see mproc_task_error), NULL when it
 * said nothing; *len their length.
 * Returns 0 or any error of mproc_pool_apply_async / mproc_async_get.
 */
MPROC_API int mproc_pool_apply(mproc_pool *p, mproc_task_fn fn, const void *arg,
                               size_t arglen, void **result, size_t *len);

/*
 * mproc_pool_apply_async - Pool.apply_async. The arg bytes are copied at
 * once. A result up to 64 MiB (less 32 bytes) is kept; a larger one fails the
 * task with MPROC_EMSGSIZE. Returns 0 and sets *res; MPROC_EINVAL for NULL fn
 * or res, fn in no loaded object, arg NULL with arglen > 0, or a pool
 * closed or terminated; MPROC_ENOMEM.
 */
MPROC_API int mproc_pool_apply_async(mproc_pool *p, mproc_task_fn fn,
                                     const void *arg, size_t arglen,
                                     mproc_async **res);

/*
 * mproc_async_get - AsyncResult.get: wait for the result.
 *
 * For apply: *result receives a malloc'd copy of the result (free() it;
 * NULL when empty), *len its length; both may be NULL; each call gives a
 * fresh copy. For map: out has been filled; *result is NULL, *len 0.
 * Returns 0; MPROC_ETIMEDOUT (MPROC_EAGAIN for timeout 0) when not ready
 * in time - the result stays pending and a later get may succeed;
 * MPROC_ETASKFAILED, MPROC_EWORKERDIED, MPROC_EMSGSIZE, MPROC_ECANCELED or
 * MPROC_ENOENT for a failed task (mproc_async_error tells more); MPROC_EINVAL
 * for a NULL r or NaN timeout; MPROC_ENOMEM.
 */
MPROC_API int mproc_async_get(mproc_async *r, void **result, size_t *len,
                              double timeout);

/* mproc_async_wait - wait until ready: 0, MPROC_ETIMEDOUT, MPROC_EAGAIN
 * (timeout 0), MPROC_EINVAL. */
MPROC_API int mproc_async_wait(mproc_async *r, double timeout);

/*
 * mproc_async_wait_any - wait until one of n results is ready (Python's
 * concurrent.futures.wait(FIRST_COMPLETED); a loop of it is as_completed).
 * NULL entries are skipped, so a caller may NULL out the results it has
 * taken, or move its last one into the place and pass n - 1 (the faster:
 * leading NULLs are passed over on each call); the others must all belong
 * to one pool. No thread is started: the caller's thread
 * collects what has finished, as mproc_async_wait does. Each look starts
 * where the pool's last one found a ready result, so such a loop usually
 * finds the next one at once; a look that finds none costs O(n).
 * Returns the index of a ready result; MPROC_ETIMEDOUT when none is ready
 * in time (MPROC_EAGAIN for timeout 0); MPROC_EINVAL for a NULL rs, no
 * result among the n, more than INT32_MAX results, a NaN timeout, or a
 * result of another pool than the first non-NULL one's, when a look meets
 * it (looks are spared while none can be ready: see above). A result of a
 * terminated or destroyed pool is ready (mproc_async_get then says
 * MPROC_ECANCELED).
 */
MPROC_API int mproc_async_wait_any(mproc_async *const *rs, size_t n,
                                   double timeout);

/* mproc_async_ready - whether the result is ready (collects what has
 * finished first). */
MPROC_API bool mproc_async_ready(mproc_async *r);

/* mproc_async_successful - 1 if ready and successful, 0 if ready and
 * failed, MPROC_EAGAIN while not ready (Python raises ValueError). */
MPROC_API int mproc_async_successful(mproc_async *r);

/*
 * mproc_async_error - why a ready result failed: returns the code (0 if
 * it succeeded, MPROC_EAGAIN while not ready); *index (may be NULL) the
 * failed item of a map (0 for apply); *detail (may be NULL) the task's
 * status for MPROC_ETASKFAILED, the worker's exit code (-N for signal N)
 * for MPROC_EWORKERDIED, 0 otherwise.
 */
MPROC_API int mproc_async_error(mproc_async *r, size_t *index, int *detail);

/*
 * mproc_async_error_text - the words of the task that failed a ready
 * result (an apply task, or a map's failed item; see mproc_task_error):
 * NUL-terminated, owned by r, valid until mproc_async_destroy; *len (may
 * be NULL) their length without the NUL. Collects what has finished first,
 * as mproc_async_ready does. NULL (and *len 0) while the result is not
 * ready, when it succeeded, when the failure was not a task's
 * (MPROC_EWORKERDIED, MPROC_ECANCELED, MPROC_ENOENT, MPROC_EMSGSIZE), when
 * the task said nothing, or for a NULL r.
 */
MPROC_API const char *mproc_async_error_text(mproc_async *r, size_t *len);

/*
 * mproc_async_progress - how far a result has come: *done the items whose
 * results are in, *total the items of the call (n for a map, 1 for an
 * apply). Either pointer may be NULL.
 *
 * What counts: only successful work. A map's items count a chunk at a
 * time, when the whole chunk is in and its outputs are copied to out; a
 * chunk rerun after its worker died (opts.retries) counts once, when the
 * rerun is in, so *done never goes back and never counts an item twice.
 * An apply reads 0 of 1, then 1 of 1 once it has succeeded. *done reaches
 * *total exactly when the result is ready and successful (a map of 0
 * items reads 0 of 0 and is ready at once). Failed items are not counted:
 * a failed result (MPROC_ETASKFAILED, MPROC_EWORKERDIED with retries
 * spent, MPROC_ECANCELED, ...) stops the count where it was when the
 * failure came in, short of *total; chunks still running then are
 * discarded uncounted. Between two calls *done only grows, and once the
 * result is ready it no longer changes.
 *
 * Collects what has finished first (a poll of the workers that never
 * blocks), as mproc_async_ready does, so the count advances even while
 * the caller is outside other pool calls.
 *
 * Returns 0; MPROC_EINVAL for a NULL r (*done and *total then 0).
 * Thread-safe (takes the pool's mutex for a moment); valid after the pool
 * is destroyed (the count stays where it was). Cheap: meant to be called
 * in a loop, as a progress bar does (examples/progress.c).
 */
MPROC_API int mproc_async_progress(mproc_async *r, size_t *done, size_t *total);

/* mproc_async_destroy - release a result. A pending one is abandoned: its
 * tasks finish in the workers and are discarded; out is not written after
 * this. Accepts NULL; valid after its pool is destroyed. */
MPROC_API void mproc_async_destroy(mproc_async *r);

/*
 * mproc_pool_close - Pool.close: accept no more tasks; the workers exit
 * once every queued task is done. Returns 0; MPROC_EINVAL for NULL.
 */
MPROC_API int mproc_pool_close(mproc_pool *p);

/*
 * mproc_pool_terminate - Pool.terminate: stop the workers now (SIGTERM,
 * then SIGKILL after 100 ms) and reap them; returns promptly. Pending
 * results become ready with MPROC_ECANCELED. The SIGTERM finds the default
 * action unless the initializer installed a handler (mproc_pool_create);
 * a worker that handles it and goes on is SIGKILLed after the grace.
 * Returns 0; MPROC_EINVAL.
 */
MPROC_API int mproc_pool_terminate(mproc_pool *p);

/*
 * mproc_pool_join - Pool.join: wait for the workers to exit, after close
 * or terminate. Returns 0; MPROC_ETIMEDOUT (MPROC_EAGAIN for 0);
 * MPROC_EINVAL while the pool is still running, or for NULL.
 */
MPROC_API int mproc_pool_join(mproc_pool *p, double timeout);

/* mproc_pool_destroy - terminate and join a pool still running, and free
 * it. Results still held stay valid (pending ones are MPROC_ECANCELED).
 * Accepts NULL. */
MPROC_API void mproc_pool_destroy(mproc_pool *p);

#ifdef __cplusplus
}
#endif

#endif /* MPROC_POOL_H */
