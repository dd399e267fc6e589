/*
 * pool/transport.h - how the pool talks to its workers (internal).
 *
 * The pool (pool.c) deals in jobs; a transport moves chunks of tasks to
 * workers and results back, and tells of workers that died. Its whole
 * interface is below: send a task, poll for completions (each delivered
 * through one callback, crashed tasks included), sleep until something
 * may have changed, close, terminate, join. A task's data lives in the
 * transport's arena, addressed by offsets.
 *
 * The first implementation (local.c) runs local forked workers over shared
 * memory. Workers on MPI ranks would implement the same functions; task
 * functions would then travel as offsets within their loaded object
 * (dladdr) instead of raw addresses.
 *
 * Not thread-safe: the pool serialises calls with its mutex, except
 * mproc__tp_sleep, which may run without it.
 */
#ifndef MPROC_POOL_TRANSPORT_H
#define MPROC_POOL_TRANSPORT_H

#include "../kit/check.h"
#include "../sys/sys.h"
#include "mproc/pool.h"

enum { MPROC__TASK_MAP = 1, MPROC__TASK_APPLY = 2 };

/* One chunk of work. */
typedef struct {
    uint32_t kind;     /* MPROC__TASK_* */
    uint32_t tries;    /* reruns so far (the transport counts) */
    uintptr_t fn;      /* mproc_map_fn or mproc_task_fn */
    uint64_t in_off;   /* arena: map input of item `first`, or apply arg */
    uint64_t out_off;  /* arena: map output of item `first` */
    uint64_t in_size;  /* map item size in; apply: arg length */
    uint64_t out_size; /* map item size out */
    uint64_t first;    /* map: job index of the item at in_off/out_off */
    uint64_t start;    /* map: first item to run (> first on a rerun) */
    uint64_t end;      /* map: one past the last item */
    void *job;         /* the pool's owner; never read by a worker */
} mproc__task;

/* A finished task, as delivered to the pool. */
typedef struct {
    const mproc__task *task;
    int code;         /* 0, MPROC_ETASKFAILED, MPROC_EWORKERDIED, EMSGSIZE */
    int detail;       /* task status, or the dead worker's exit code */
    uint64_t index;   /* map: the failed item */
    const void *data; /* apply: the result, valid during the callback */
    size_t len;
} mproc__done;

typedef void (*mproc__done_fn)(void *ctx, const mproc__done *d);

typedef struct mproc__tp mproc__tp;

typedef struct {
    unsigned processes;
    mproc_target initializer;
    const void *initarg;
    size_t initarglen;
    unsigned maxtasksperchild;
    unsigned retries;
    mproc__done_fn done;
    void *ctx;
} mproc__tp_opts;

/* Start the workers. 0, MPROC_ENOMEM, or a start error. */
int mproc__tp_create(mproc__tp **out, const mproc__tp_opts *o);

/* Arena: parent-managed shared memory for task inputs and outputs. */
int mproc__tp_alloc(mproc__tp *t, size_t len, uint64_t *off);
void mproc__tp_free(mproc__tp *t, uint64_t off, size_t len);
void *mproc__tp_ptr(mproc__tp *t, uint64_t off);

/* Queue a task; never blocks. 0, MPROC_ENOMEM, or the broken pool's
 * MPROC_EWORKERDIED (detail: *detail). */
int mproc__tp_submit(mproc__tp *t, const mproc__task *task, int *detail);

/* Deliver finished tasks, notice dead workers, replace them. Returns the
 * number of tasks delivered. */
int mproc__tp_poll(mproc__tp *t);

/* Sleep until a task may have finished, at most ~10 ms, never past the
 * deadline. Safe without the pool's mutex. */
void mproc__tp_sleep(mproc__tp *t, int64_t deadline);

/* Tasks sent and not yet delivered. */
size_t mproc__tp_inflight(mproc__tp *t);

/* No more tasks: workers exit when the queue is empty. */
void mproc__tp_close(mproc__tp *t);

/* Stop the workers now (SIGTERM, SIGKILL after a grace), reap them and
 * drop undelivered tasks (the pool cancels their jobs). */
void mproc__tp_terminate(mproc__tp *t);

/* Whether every worker has exited and been reaped (polls, after close). */
bool mproc__tp_joined(mproc__tp *t);

/* Free everything; terminates first if workers remain. */
void mproc__tp_destroy(mproc__tp *t);

#endif /* MPROC_POOL_TRANSPORT_H */
