/*
 * pool/transport.h - how the pool talks to its workers (internal).
 *
 * The pool (pool.c) deals in jobs; a transport moves chunks of tasks to
 * workers and results back, and tells of workers that died. A transport
 * is an ops table (mproc__transport_ops, nng's shape) chosen when the pool
 * is created, and its state, an opaque pointer the pool keeps and passes
 * to every op: create, the arena (alloc, free, ptr), submit a task, poll
 * for completions (each delivered through one callback, crashed tasks
 * included), sleep until something may have changed, close, terminate,
 * joined, destroy. A task's data lives in the transport's arena,
 * addressed by offsets; its function is a mproc__fnref (kit/fnref.h),
 * (loaded object, offset), which the worker resolves where it runs.
 *
 * A transport carries and reports; the pool decides. Of a task that died
 * with its worker a transport reports MPROC_EWORKERDIED, the worker's exit
 * code (-N for signal N) and the map item it was running; rerunning it is
 * the pool's policy (opts.retries), through an ordinary submit that may
 * come from inside the done callback. A transport whose workers cannot
 * start (a failing initializer) says so in each death it reports
 * (`broken`) and fails what it holds itself.
 *
 * Implementations: local.c (forked workers over shared memory), which
 * mproc_pool_create uses; the tests' in-process fake
 * (tests/test_pool_transport.c), through mproc__pool_create_with, which
 * drives deaths, reordering, retries and slowness deterministically;
 * workers on MPI ranks will be one more.
 *
 * Not thread-safe: the pool serialises calls with its mutex, except sleep,
 * which runs without it.
 */
#ifndef MPROC_POOL_TRANSPORT_H
#define MPROC_POOL_TRANSPORT_H

#include "../kit/check.h"
#include "../kit/fnref.h"
#include "../sys/sys.h"
#include "mproc/pool.h"

enum { MPROC__TASK_MAP = 1, MPROC__TASK_APPLY = 2 };

/* One chunk of work. */
typedef struct {
    uint32_t kind;     /* MPROC__TASK_* */
    uint32_t tries;    /* reruns so far (the pool counts) */
    mproc__fnref fn;   /* the mproc_map_fn or mproc_task_fn */
    uint64_t in_off;   /* arena: map input of item `first`, or apply arg */
    uint64_t out_off;  /* arena: map output of item `first` */
    uint64_t in_size;  /* map item size in; apply: arg length */
    uint64_t out_size; /* map item size out */
    uint64_t first;    /* map: job index of the item at in_off/out_off */
    uint64_t start;    /* map: first item to run (> first on a rerun) */
    uint64_t end;      /* map: one past the last item */
    void *job;         /* the pool's owner; never read by a worker */
} mproc__task;

/*
 * A finished task, as delivered to the pool: done, failed, or dead with
 * its worker. A transport reports a death and nothing more; whether the
 * task runs again (opts.retries) is the pool's to decide, and a rerun is
 * an ordinary submit, which the pool may make from inside the callback.
 */
typedef struct {
    const mproc__task *task;
    int code;       /* 0, MPROC_ETASKFAILED, MPROC_EWORKERDIED, MPROC_EMSGSIZE,
                       MPROC_ENOMEM, MPROC_ENOENT (fn not found by the worker) */
    int detail;     /* task status, or the dead worker's exit code (-N for
                       signal N) */
    uint64_t index; /* map: the failed item; for a death, the item the
                       worker was running (task->start if none yet) */
    bool broken;    /* a death in a broken transport (its workers' initializer
                       fails): no rerun would ever run */
    const void *data; /* apply: the result; a failed task (code
                         MPROC_ETASKFAILED): its words, at most
                         MPROC_ERROR_TEXT_MAX bytes (mproc__task_words);
                         valid during the callback */
    size_t len;
} mproc__done;

typedef void (*mproc__done_fn)(void *ctx, const mproc__done *d);

/* What a transport is created with. */
typedef struct {
    unsigned processes; /* workers */
    mproc_target initializer;
    const void *initarg;
    size_t initarglen;
    unsigned maxtasksperchild;
    mproc_start_method start_method; /* of the workers (never DEFAULT) */
    mproc__done_fn done;             /* called once per task, inside poll */
    void *ctx;                       /* done's first argument */
} mproc__transport_opts;

/*
 * A transport: its functions, each called with the state (tp) its create
 * made. The pool calls them with its mutex held, except sleep.
 */
typedef struct mproc__transport_ops {
    const char *name;

    /* Start the workers: 0 and *tp; MPROC_ENOMEM or a start error, with
     * nothing left behind. config is the transport's own (NULL: its
     * defaults), as handed to mproc__pool_create_with. */
    int (*create)(void **tp, const mproc__transport_opts *o, void *config);

    /* The arena: memory for task inputs and outputs that the workers
     * reach, addressed by offsets. alloc: 0 or MPROC_ENOMEM. */
    int (*alloc)(void *tp, size_t len, uint64_t *off);
    void (*free)(void *tp, uint64_t off, size_t len);
    void *(*ptr)(void *tp, uint64_t off);

    /* Queue a task; never blocks. 0, MPROC_ENOMEM, or the broken pool's
     * MPROC_EWORKERDIED (its detail in *detail). */
    int (*submit)(void *tp, const mproc__task *task, int *detail);

    /* Deliver finished tasks through done, notice dead workers, replace
     * them. Returns the number of tasks delivered. */
    int (*poll)(void *tp);

    /* Sleep until a task may have finished, at most ~10 ms, never past
     * the deadline (mproc__now's clock). Called without the pool's mutex,
     * concurrently with the other functions. */
    void (*sleep)(void *tp, int64_t deadline);

    /* No more tasks: workers exit when the queue is empty. */
    void (*close)(void *tp);

    /* Stop the workers now, reap them and drop undelivered tasks (the
     * pool cancels their jobs). */
    void (*terminate)(void *tp);

    /* Whether every worker has exited and been reaped (after close). */
    bool (*joined)(void *tp);

    /* Free everything; terminates first if workers remain. */
    void (*destroy)(void *tp);
} mproc__transport_ops;

/*
 * A failing task's words, where the task runs (a worker, or the tests'
 * fake), in thread-local storage: mproc__task_words_clear before each
 * task; after a task returned non-zero, mproc__task_words copies into out
 * (room for MPROC_ERROR_TEXT_MAX bytes) what it said - the text it set
 * with mproc_task_error, else the bytes an apply task left in buf (NULL
 * for a map) - cut and marked as mproc_task_error says, and returns the
 * length (0: it said nothing).
 */
void mproc__task_words_clear(void);
size_t mproc__task_words(const mproc_buf *buf, char *out);

/* Local forked workers over shared memory (local.c): mproc_pool_create's.
 * Its config is unused (NULL). */
extern const mproc__transport_ops mproc__local_transport;

/*
 * mproc__pool_create_with - mproc_pool_create over the given transport;
 * config goes to its create. For tests and other front ends (not
 * exported). Returns as mproc_pool_create.
 */
int mproc__pool_create_with(mproc_pool **out, const mproc_pool_opts *opts,
                            const mproc__transport_ops *ops, void *config);

#endif /* MPROC_POOL_TRANSPORT_H */
