/*
 * pool/pool.c - Pool: jobs, results and iterators over a transport.
 *
 * A job is what a caller waits on: a map (many chunks), an apply (one
 * task) or an imap iterator (a window of chunks). Each task sent to the
 * transport points back at its job; the transport delivers every task
 * exactly once through on_done - finished, failed, or dead with its
 * worker - and the job counts its tasks still out (`remaining`).
 *
 * The transport is an ops table chosen at create (transport.h) and its
 * opaque state: mproc_pool_create takes the local one (local.c), and
 * mproc__pool_create_with any other (the tests' fake). Everything the
 * pool decides is here, whatever carries the tasks:
 * - Retries: a transport only reports a death (MPROC_EWORKERDIED, the exit
 *   code or signal, the map item that was running). on_done resubmits the
 *   task while opts.retries allows, a map chunk from that item (the items
 *   before it are written), and the job keeps waiting; a broken
 *   transport's deaths, a spent budget or a failed resubmission fail the
 *   job instead.
 * - Task functions cross the transport as mproc__fnref (kit/fnref.h), never
 *   as raw addresses. The pool keeps the last (function -> reference), so
 *   a loop of apply_async calls on one function pays one dladdr; a
 *   function in no loaded object fails the submitting call.
 *
 * Invariants, all under the pool's mutex:
 * - A job is on its pool's list from creation until it is freed; `ready`
 *   goes false -> true once and the result fields are fixed from then on.
 * - A map job becomes ready at its first failure (as Python's), or when
 *   its last chunk is in; its arena block is freed only when `remaining`
 *   reaches 0, since chunks still running write into it. A rerun does not
 *   change `remaining`: the task is still out.
 * - A job the caller has destroyed while tasks were out is an orphan: it
 *   is freed when its last task comes in, or at terminate.
 * - Map results are copied into the caller's out array chunk by chunk, as
 *   the chunks are delivered (inside pool calls) and in whatever order,
 *   each at its own items, never after the result is ready or destroyed.
 * - An iterator yields a chunk's items only once the whole chunk is in;
 *   a failed chunk yields none of them (Python's chunks fail whole), and
 *   the failure it returns ends the iteration (`ended`): no chunk is sent
 *   after it, the chunks still out are freed as they come in.
 *
 * - Progress (`done` of `total` items) counts only successful work, at
 *   delivery: a map chunk's or an iterator chunk's items when it is in
 *   without failure, an apply's 1. A rerun task is delivered once, so a
 *   chunk counts once. Nothing counts once a job is ready (a map) or has
 *   ended or been cancelled (an iterator), so `done` never goes back and
 *   equals `total` exactly when a map or apply succeeded. The progress
 *   calls poll the transport (results reach this side only in poll).
 *
 * Waiting: a call loops { poll the transport; test its condition; sleep on
 * the transport without the mutex }, so other threads may use the pool
 * while one waits and a dead worker is noticed within a sleep slice.
 *
 * terminate first takes what has finished, then stops the workers, then
 * makes every pending job ready with MPROC_ECANCELED.
 */
#include "transport.h"

#include "../kit/buf.h"
#include "mproc/process.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_MAGIC 0x706f6f6cu
#define ASYNC_MAGIC 0x6173796eu
#define ITER_MAGIC 0x69746572u
#define DEAD_MAGIC 0xdeadu
#define IMAP_CHUNK_BYTES ((size_t)256 << 10)

enum { RUN, CLOSED, TERMINATED };
enum { JOB_MAP, JOB_APPLY, JOB_ITER };

/* A failed task's words (mproc_task_error): malloc'd, NUL-terminated. */
struct words {
    char *text;
    size_t len;
};

struct job {
    uint32_t magic;
    int kind;
    mproc_pool *pool; /* NULL once the pool is destroyed */
    struct job *prev, *next;
    size_t remaining; /* tasks out */
    bool ready, orphan;
    int err, detail;
    size_t index;
    struct words words; /* of the failure: an async's, an iterator's last */
    size_t done, total; /* progress: items whose results are in, of total */
};

struct mproc_async {
    struct job j;
    /* map */
    char *out;
    size_t out_size;
    uint64_t off; /* arena block: map input then output, or apply arg */
    size_t bytes;
    uint64_t out_off;
    /* apply */
    void *res;
    size_t reslen;
};

struct chunk {
    bool used, done, reported;
    uint64_t off;
    size_t bytes;
    uint64_t out_off;
    size_t first, end, pos, fail_at;
    int code, detail;
    struct words words; /* of its failure */
    uint64_t order;
};

struct mproc_iter {
    struct job j;
    mproc__fnref fn;
    const char *in;
    size_t in_size, out_size, n, chunk;
    bool ordered, canceled;
    bool ended; /* a failure was returned: nothing more is yielded */
    size_t submitted, next_first, count, cap;
    uint64_t order;
    struct chunk *c;
    int last_err, last_detail;
    size_t last_index;
};

struct mproc_pool {
    uint32_t magic;
    pthread_mutex_t mu;
    const mproc__transport_ops *ops;
    void *tp; /* the transport's state */
    int state;
    unsigned processes;
    unsigned retries;      /* opts.retries */
    void (*last_fn)(void); /* the last task function and its reference */
    mproc__fnref last_ref;
    struct job *jobs;
    size_t any_from;   /* where the last wait_any found a ready result */
    uint64_t events;   /* tasks in and terminations: what makes jobs ready */
    size_t ready_held; /* results (map, apply) ready and not yet destroyed */
};

static void lock(mproc_pool *p)
{
    pthread_mutex_lock(&p->mu);
}
static void unlock(mproc_pool *p)
{
    pthread_mutex_unlock(&p->mu);
}

static void check_pool(const mproc_pool *p)
{
    MPROC__CHECK(p->magic == POOL_MAGIC, "mproc_pool used after destroy");
}

static void link_job(mproc_pool *p, struct job *j, int kind, uint32_t magic)
{
    j->magic = magic;
    j->kind = kind;
    j->pool = p;
    j->prev = NULL;
    j->next = p->jobs;
    if (p->jobs)
        p->jobs->prev = j;
    p->jobs = j;
}

/* Makes j ready, counting the results (not iterators) held ready. */
static void set_ready(struct job *j)
{
    if (!j->ready && j->kind != JOB_ITER && j->pool)
        j->pool->ready_held++;
    j->ready = true;
}

/* Releases j's arena blocks and memory. Pool mutex held. */
static void free_job(struct job *j)
{
    mproc_pool *p = j->pool;
    if (p && j->ready && j->kind != JOB_ITER)
        p->ready_held--;
    if (p) {
        if (j->prev)
            j->prev->next = j->next;
        else
            p->jobs = j->next;
        if (j->next)
            j->next->prev = j->prev;
    }
    if (j->kind == JOB_ITER) {
        mproc_iter *it = (mproc_iter *)j;
        for (size_t k = 0; k < it->cap; k++) {
            if (it->c[k].used && p)
                p->ops->free(p->tp, it->c[k].off, it->c[k].bytes);
            free(it->c[k].words.text);
        }
        free(it->c);
    } else {
        mproc_async *a = (mproc_async *)j;
        if (a->bytes && p)
            p->ops->free(p->tp, a->off, a->bytes);
        free(a->res);
    }
    free(j->words.text);
    j->magic = DEAD_MAGIC;
    free(j);
}

static void fail(struct job *j, int code, int detail, size_t index)
{
    if (j->ready)
        return;
    set_ready(j);
    j->err = code;
    j->detail = detail;
    j->index = index;
}

static struct chunk *find_chunk(mproc_iter *it, size_t first)
{
    for (size_t k = 0; k < it->cap; k++)
        if (it->c[k].used && it->c[k].first == first)
            return &it->c[k];
    return NULL;
}

static void release_chunk(mproc_iter *it, struct chunk *c)
{
    mproc_pool *p = it->j.pool;
    if (p)
        p->ops->free(p->tp, c->off, c->bytes);
    free(c->words.text);
    c->words = (struct words){0};
    c->used = false;
    it->count--;
}

/*
 * The retry policy. A task that died with its worker runs again while
 * opts.retries allows: a map chunk from the item that was running (the
 * items before it are done and written), an apply task whole. No rerun in
 * a broken transport (nothing would run it), nor when the resubmission
 * fails; the death then fails the task. Returns whether it was
 * resubmitted. Pool mutex held.
 */
static bool rerun(mproc_pool *p, const mproc__done *d)
{
    assert(mproc__held(&p->mu));
    mproc__task again = *d->task;
    if (d->code != MPROC_EWORKERDIED || d->broken || again.tries >= p->retries)
        return false;
    again.tries++;
    if (again.kind == MPROC__TASK_MAP && d->index >= again.start &&
        d->index < again.end)
        again.start = d->index;
    int detail;
    return p->ops->submit(p->tp, &again, &detail) == 0;
}

/* Keeps a failed task's words (d->data, for MPROC_ETASKFAILED) in w,
 * unless w holds some already; without memory for them, none. */
static void keep_words(struct words *w, const mproc__done *d)
{
    if (w->text || d->code != MPROC_ETASKFAILED || !d->len)
        return;
    size_t len = d->len < MPROC_ERROR_TEXT_MAX ? d->len : MPROC_ERROR_TEXT_MAX;
    if (!(w->text = malloc(len + 1)))
        return;
    memcpy(w->text, d->data, len);
    w->text[len] = 0;
    w->len = len;
}

/* The transport's callback: one task is in. Pool mutex held. */
static void on_done(void *ctx, const mproc__done *d)
{
    mproc_pool *p = ctx;
    assert(mproc__held(&p->mu));
    if (rerun(p, d))
        return; /* still out: the job waits for the rerun */
    struct job *j = d->task->job;
    p->events++;
    j->remaining--;
    if (j->kind == JOB_MAP) {
        mproc_async *a = (mproc_async *)j;
        if (d->code) {
            if (!j->ready)
                keep_words(&j->words, d);
            fail(j, d->code, d->detail, (size_t)d->index);
        } else if (!j->ready && !j->orphan && a->out_size) {
            size_t first = (size_t)d->task->first, end = (size_t)d->task->end;
            memcpy(a->out + first * a->out_size,
                   p->ops->ptr(p->tp, d->task->out_off),
                   (end - first) * a->out_size);
        }
        if (!d->code && !j->ready)
            j->done += (size_t)(d->task->end - d->task->first);
        if (j->remaining == 0)
            set_ready(j);
    } else if (j->kind == JOB_APPLY) {
        mproc_async *a = (mproc_async *)j;
        int code = d->code;
        if (!code && d->len) {
            a->res = malloc(d->len);
            if (a->res) {
                memcpy(a->res, d->data, d->len);
                a->reslen = d->len;
            } else {
                code = MPROC_ENOMEM;
            }
        }
        if (code) {
            keep_words(&j->words, d);
            fail(j, code, d->detail, 0);
        } else if (!j->ready) {
            j->done = 1;
        }
        set_ready(j);
    } else {
        mproc_iter *it = (mproc_iter *)j;
        struct chunk *c = find_chunk(it, (size_t)d->task->first);
        if (c) {
            c->done = true;
            c->code = d->code;
            c->detail = d->detail;
            c->fail_at = d->code ? (size_t)d->index : c->end;
            keep_words(&c->words, d);
            c->order = ++it->order;
            if (!d->code && !it->ended && !it->canceled)
                j->done += c->end - c->first;
            if (j->orphan || it->ended)
                release_chunk(it, c);
        }
    }
    if (j->orphan && j->remaining == 0)
        free_job(j);
}

/* Lets go of j: frees it, or leaves it an orphan while tasks are out
 * (its done chunks freed now). Pool mutex held, if it has a pool. */
static void abandon(struct job *j)
{
    if (!j->pool || j->remaining == 0) {
        free_job(j);
        return;
    }
    j->orphan = true;
    if (j->kind == JOB_ITER) {
        mproc_iter *it = (mproc_iter *)j;
        for (size_t k = 0; k < it->cap; k++)
            if (it->c[k].used && it->c[k].done)
                release_chunk(it, &it->c[k]);
    }
}

/* Ends a submission with the pool mutex held: on failure (rc < 0) the job
 * is abandoned, its tasks already out left to finish. Unlocks; returns rc. */
static int end_submit(mproc_pool *p, struct job *j, int rc)
{
    if (rc < 0)
        abandon(j);
    unlock(p);
    return rc;
}

/* Frees a job the caller lets go of, or orphans it while tasks are out. */
static void drop_job(struct job *j)
{
    mproc_pool *p = j->pool;
    if (p)
        lock(p);
    abandon(j);
    if (p)
        unlock(p);
}

/* ---- waiting --------------------------------------------------------------
 */

typedef bool (*cond_fn)(void *arg);

/* Waits, polling the transport, until cond holds. Pool mutex held. */
static int wait_until(mproc_pool *p, cond_fn cond, void *arg, double timeout)
{
    assert(mproc__held(&p->mu));
    int64_t deadline;
    if (mproc__deadline(timeout, &deadline) < 0)
        return MPROC_EINVAL;
    for (;;) {
        if (cond(arg))
            return 0;
        if (p->state != TERMINATED)
            p->ops->poll(p->tp);
        if (cond(arg))
            return 0;
        if (p->state == TERMINATED || mproc__now() >= deadline)
            return mproc__expired(timeout);
        unlock(p);
        p->ops->sleep(p->tp, deadline);
        lock(p);
    }
}

static bool job_ready(void *arg)
{
    return ((struct job *)arg)->ready;
}

/* ---- task functions ---------------------------------------------------- */

/*
 * The reference a task function crosses the transport as. The last one is
 * kept, so that a loop of apply_async calls on one function pays a single
 * dladdr. MPROC_EINVAL for code in no loaded object; MPROC_ENOMEM when the
 * table of objects is full. Pool mutex held.
 */
static int ref_of(mproc_pool *p, void (*fn)(void), mproc__fnref *ref)
{
    assert(mproc__held(&p->mu));
    if (fn != p->last_fn) {
        int rc = mproc__fnref_of(fn, &p->last_ref);
        if (rc < 0) {
            p->last_fn = NULL;
            return rc;
        }
        p->last_fn = fn;
    }
    *ref = p->last_ref;
    return 0;
}

/* ---- create -----------------------------------------------------------------
 */

int mproc__pool_create_with(mproc_pool **out, const mproc_pool_opts *opts,
                            const mproc__transport_ops *ops, void *config)
{
    mproc_pool_opts o = {0};
    if (opts)
        o = *opts;
    if (!out || !ops || o.processes < 0 || (!o.initarg && o.initarglen) ||
        (unsigned)o.start_method > MPROC_START_SPAWN)
        return MPROC_EINVAL;
    mproc_pool *p = calloc(1, sizeof *p);
    if (!p)
        return MPROC_ENOMEM;
    p->processes =
        o.processes ? (unsigned)o.processes : (unsigned)mproc_cpu_count();
    p->retries = o.retries;
    mproc__transport_opts to = {
        .processes = p->processes,
        .initializer = o.initializer,
        .initarg = o.initarg,
        .initarglen = o.initarglen,
        .maxtasksperchild = o.maxtasksperchild,
        .start_method =
            o.start_method ? o.start_method : mproc_get_start_method(),
        .done = on_done,
        .ctx = p,
    };
    pthread_mutex_init(&p->mu, NULL);
    p->ops = ops;
    int rc = ops->create(&p->tp, &to, config);
    if (rc < 0) {
        pthread_mutex_destroy(&p->mu);
        free(p);
        return rc;
    }
    p->magic = POOL_MAGIC;
    *out = p;
    return 0;
}

int mproc_pool_create(mproc_pool **out, const mproc_pool_opts *opts)
{
    return mproc__pool_create_with(out, opts, &mproc__local_transport, NULL);
}

/* ---- map
 * ---------------------------------------------------------------------- */

static size_t auto_chunk(const mproc_pool *p, size_t n)
{
    size_t d = (size_t)p->processes * 4;
    return n / d + (n % d != 0);
}

/* Sends one chunk of items [first, end) of a job. Pool mutex held. */
static int send_chunk(mproc_pool *p, struct job *j, const mproc__fnref *fn,
                      uint64_t in_off, uint64_t out_off, size_t in_size,
                      size_t out_size, size_t first, size_t end)
{
    assert(mproc__held(&p->mu));
    mproc__task task = {
        .kind = MPROC__TASK_MAP,
        .fn = *fn,
        .in_off = in_off,
        .out_off = out_off,
        .in_size = in_size,
        .out_size = out_size,
        .first = first,
        .start = first,
        .end = end,
        .job = j,
    };
    int detail = 0;
    int rc = p->ops->submit(p->tp, &task, &detail);
    if (rc == 0)
        j->remaining++;
    else
        fail(j, rc, detail, first);
    return rc;
}

static bool mul_ok(size_t a, size_t b, size_t *r)
{
    return !__builtin_mul_overflow(a, b, r);
}

/*
 * Begins an async job of kind: takes the pool mutex, checks that the pool
 * runs, takes fn's reference into *ref and bytes of arena for the job. On
 * success the mutex stays held and *out is the new job, linked; otherwise
 * the mutex is released and nothing is left allocated.
 */
static int begin_async(mproc_pool *p, int kind, void (*fn)(void), size_t bytes,
                       mproc_async **out, mproc__fnref *ref)
{
    mproc_async *a = calloc(1, sizeof *a);
    if (!a)
        return MPROC_ENOMEM;
    lock(p);
    int rc = p->state == RUN ? ref_of(p, fn, ref) : MPROC_EINVAL;
    if (rc == 0 && bytes && p->ops->alloc(p->tp, bytes, &a->off) < 0)
        rc = MPROC_ENOMEM;
    if (rc < 0) {
        unlock(p);
        free(a);
        return rc;
    }
    link_job(p, &a->j, kind, ASYNC_MAGIC);
    a->bytes = bytes;
    *out = a;
    return 0;
}

int mproc_pool_map_async(mproc_pool *p, mproc_map_fn fn, const void *in,
                         size_t in_size, void *out, size_t out_size, size_t n,
                         size_t chunksize, mproc_async **res)
{
    size_t ib, ob;
    if (!p || !fn || !res || (n && in_size && !in) || (n && out_size && !out))
        return MPROC_EINVAL;
    check_pool(p);
    if (!mul_ok(n, in_size, &ib) || !mul_ok(n, out_size, &ob) ||
        ib > SIZE_MAX / 2 || ob > SIZE_MAX / 2)
        return MPROC_ENOMEM;
    size_t ibr = (ib + 63) & ~(size_t)63;
    mproc_async *a;
    mproc__fnref ref;
    int rc =
        begin_async(p, JOB_MAP, (void (*)(void))fn, n ? ibr + ob : 0, &a, &ref);
    if (rc < 0)
        return rc;
    a->out = out;
    a->out_size = out_size;
    a->j.total = n;
    a->out_off = a->off + ibr;
    if (ib)
        memcpy(p->ops->ptr(p->tp, a->off), in, ib);
    size_t cs = chunksize ? chunksize : auto_chunk(p, n);
    for (size_t first = 0; first < n && rc == 0; first += cs) {
        size_t end = n - first > cs ? first + cs : n;
        rc = send_chunk(p, &a->j, &ref, a->off + first * in_size,
                        a->out_off + first * out_size, in_size, out_size, first,
                        end);
    }
    if (a->j.remaining == 0)
        set_ready(&a->j);
    rc = end_submit(p, &a->j, rc);
    if (rc == 0)
        *res = a;
    return rc;
}

int mproc_pool_map(mproc_pool *p, mproc_map_fn fn, const void *in,
                   size_t in_size, void *out, size_t out_size, size_t n,
                   size_t chunksize)
{
    mproc_async *a;
    int rc = mproc_pool_map_async(p, fn, in, in_size, out, out_size, n,
                                  chunksize, &a);
    if (rc < 0)
        return rc;
    rc = mproc_async_get(a, NULL, NULL, MPROC_FOREVER);
    mproc_async_destroy(a);
    return rc;
}

/* ---- apply ------------------------------------------------------------------
 */

int mproc_pool_apply_async(mproc_pool *p, mproc_task_fn fn, const void *arg,
                           size_t arglen, mproc_async **res)
{
    if (!p || !fn || !res || (!arg && arglen))
        return MPROC_EINVAL;
    check_pool(p);
    mproc_async *a;
    mproc__fnref ref;
    int rc = begin_async(p, JOB_APPLY, (void (*)(void))fn, arglen, &a, &ref);
    if (rc < 0)
        return rc;
    if (arglen)
        memcpy(p->ops->ptr(p->tp, a->off), arg, arglen);
    mproc__task task = {
        .kind = MPROC__TASK_APPLY,
        .fn = ref,
        .in_off = a->off,
        .in_size = arglen,
        .job = &a->j,
    };
    int detail = 0;
    rc = p->ops->submit(p->tp, &task, &detail);
    if (rc < 0) {
        free_job(&a->j);
        unlock(p);
        return rc;
    }
    a->j.remaining = 1;
    a->j.total = 1;
    unlock(p);
    *res = a;
    return 0;
}

/* Waits for a, then hands over (steal) or copies its result. */
static int get(mproc_async *a, void **result, size_t *len, double timeout,
               bool steal)
{
    if (result)
        *result = NULL;
    if (len)
        *len = 0;
    if (!a)
        return MPROC_EINVAL;
    MPROC__CHECK(a->j.magic == ASYNC_MAGIC, "mproc_async used after destroy");
    mproc_pool *p = a->j.pool;
    if (p)
        lock(p);
    int rc = p ? wait_until(p, job_ready, &a->j, timeout) : 0;
    if (rc == 0 && a->j.err)
        rc = a->j.err;
    if (rc == 0 && a->j.kind == JOB_APPLY && a->reslen) {
        if (steal && result) {
            *result = a->res;
            a->res = NULL;
        } else if (result) {
            if ((*result = malloc(a->reslen)))
                memcpy(*result, a->res, a->reslen);
            else
                rc = MPROC_ENOMEM;
        }
        if (rc == 0 && len)
            *len = a->reslen;
    }
    if (p)
        unlock(p);
    return rc;
}

int mproc_async_get(mproc_async *r, void **result, size_t *len, double timeout)
{
    return get(r, result, len, timeout, false);
}

int mproc_pool_apply(mproc_pool *p, mproc_task_fn fn, const void *arg,
                     size_t arglen, void **result, size_t *len)
{
    mproc_async *a;
    if (result)
        *result = NULL;
    if (len)
        *len = 0;
    int rc = mproc_pool_apply_async(p, fn, arg, arglen, &a);
    if (rc < 0)
        return rc;
    rc = get(a, result, len, MPROC_FOREVER, true);
    if (rc == MPROC_ETASKFAILED && result && a->j.words.text) {
        /* Python's apply raises the exception: here come its words */
        *result = a->j.words.text;
        if (len)
            *len = a->j.words.len;
        a->j.words = (struct words){0};
    }
    mproc_async_destroy(a);
    return rc;
}

int mproc_async_wait(mproc_async *r, double timeout)
{
    if (!r)
        return MPROC_EINVAL;
    MPROC__CHECK(r->j.magic == ASYNC_MAGIC, "mproc_async used after destroy");
    mproc_pool *p = r->j.pool;
    if (!p)
        return 0;
    lock(p);
    int rc = wait_until(p, job_ready, &r->j, timeout);
    unlock(p);
    return rc;
}

struct any {
    mproc_pool *p;
    mproc_async *const *rs;
    size_t n, found;
    bool looked;     /* once: a look that found none ready */
    bool foreign;    /* a look met a result of another pool */
    uint64_t events; /* the pool's events as of that look */
};

/*
 * Whether one of the results is ready (or one of another pool was met);
 * its index in found. A look starts where the pool's last wait_any found
 * one and wraps around: results come in roughly in the order they were
 * sent, so a loop that NULLs out what it took, or moves its last entry
 * there, finds the next one at once instead of passing over the taken or
 * pending ones every time. Two counts spare the O(n) look that finds
 * nothing: none is made while the pool holds no ready result (a loop that
 * destroys what it takes, waiting for the next), nor again in one call
 * unless a task came in since. Pool mutex held.
 */
static bool any_ready(void *arg)
{
    struct any *a = arg;
    if (a->p->ready_held == 0)
        return false; /* none of the pool's is ready, so none of these */
    if (a->looked && a->events == a->p->events)
        return false; /* nothing came in since the last look */
    a->looked = true;
    a->events = a->p->events;
    size_t from = a->p->any_from < a->n ? a->p->any_from : 0;
    for (size_t k = 0, i = from; k < a->n; k++, i = i + 1 < a->n ? i + 1 : 0) {
        const mproc_async *r = a->rs[i];
        if (!r)
            continue;
        MPROC__CHECK(r->j.magic == ASYNC_MAGIC,
                     "mproc_async used after destroy");
        if (r->j.pool != a->p)
            a->foreign = true;
        if (a->foreign || r->j.ready) {
            a->found = i;
            a->p->any_from = i;
            return true;
        }
    }
    return false;
}

int mproc_async_wait_any(mproc_async *const *rs, size_t n, double timeout)
{
    if (!rs || n > (size_t)INT32_MAX)
        return MPROC_EINVAL;
    size_t i = 0;
    while (i < n && !rs[i])
        i++;
    if (i == n)
        return MPROC_EINVAL;
    MPROC__CHECK(rs[i]->j.magic == ASYNC_MAGIC,
                 "mproc_async used after destroy");
    mproc_pool *p = rs[i]->j.pool;
    if (!p) /* its pool is gone: ready (cancelled) */
        return (int)i;
    struct any a = {p, rs, n, i, false, false, 0};
    lock(p);
    int rc = wait_until(p, any_ready, &a, timeout);
    unlock(p);
    if (rc < 0)
        return rc;
    return a.foreign ? MPROC_EINVAL : (int)a.found;
}

bool mproc_async_ready(mproc_async *r)
{
    return r && mproc_async_wait(r, 0) == 0;
}

int mproc_async_successful(mproc_async *r)
{
    if (!r)
        return MPROC_EINVAL;
    if (!mproc_async_ready(r))
        return MPROC_EAGAIN;
    return r->j.err == 0;
}

int mproc_async_error(mproc_async *r, size_t *index, int *detail)
{
    if (!r)
        return MPROC_EINVAL;
    if (!mproc_async_ready(r))
        return MPROC_EAGAIN;
    if (index)
        *index = r->j.index;
    if (detail)
        *detail = r->j.detail;
    return r->j.err;
}

const char *mproc_async_error_text(mproc_async *r, size_t *len)
{
    bool ready = r && mproc_async_ready(r);
    const struct words *w = ready ? &r->j.words : NULL;
    if (len)
        *len = w && w->text ? w->len : 0;
    return w ? w->text : NULL;
}

/* Reads the progress of j (NULL: MPROC_EINVAL), a handle whose magic
 * must be magic, first collecting what has finished (a poll that does not
 * block), as mproc_async_ready does. */
static int progress(struct job *j, uint32_t magic, size_t *done, size_t *total)
{
    if (done)
        *done = 0;
    if (total)
        *total = 0;
    if (!j)
        return MPROC_EINVAL;
    MPROC__CHECK(j->magic == magic, "mproc_async or mproc_iter used after "
                                    "destroy");
    mproc_pool *p = j->pool;
    if (p) {
        lock(p);
        if (p->state != TERMINATED)
            p->ops->poll(p->tp);
    }
    if (done)
        *done = j->done;
    if (total)
        *total = j->total;
    if (p)
        unlock(p);
    return 0;
}

int mproc_async_progress(mproc_async *r, size_t *done, size_t *total)
{
    return progress(r ? &r->j : NULL, ASYNC_MAGIC, done, total);
}

void mproc_async_destroy(mproc_async *r)
{
    if (!r)
        return;
    MPROC__CHECK(r->j.magic == ASYNC_MAGIC, "mproc_async used after destroy");
    drop_job(&r->j);
}

/* ---- imap -------------------------------------------------------------------
 */

/* Sends chunks until the window is full. Pool mutex held. */
static int refill(mproc_iter *it)
{
    mproc_pool *p = it->j.pool;
    while (p && p->state == RUN && !it->ended && it->count < it->cap &&
           it->submitted < it->n) {
        struct chunk *c = NULL;
        for (size_t k = 0; k < it->cap && !c; k++)
            if (!it->c[k].used)
                c = &it->c[k];
        size_t cnt = it->n - it->submitted > it->chunk ? it->chunk
                                                       : it->n - it->submitted;
        size_t ib = (cnt * it->in_size + 63) & ~(size_t)63;
        size_t bytes = ib + cnt * it->out_size;
        uint64_t off;
        if (p->ops->alloc(p->tp, bytes, &off) < 0)
            return MPROC_ENOMEM;
        memcpy(p->ops->ptr(p->tp, off), it->in + it->submitted * it->in_size,
               cnt * it->in_size);
        *c = (struct chunk){.used = true,
                            .off = off,
                            .bytes = bytes,
                            .out_off = off + ib,
                            .first = it->submitted,
                            .end = it->submitted + cnt,
                            .pos = it->submitted};
        it->count++;
        int rc = send_chunk(p, &it->j, &it->fn, off, off + ib, it->in_size,
                            it->out_size, c->first, c->end);
        it->j.ready = false;
        if (rc < 0) {
            release_chunk(it, c);
            return rc;
        }
        it->submitted += cnt;
    }
    return 0;
}

static int imap(mproc_pool *p, mproc_map_fn fn, const void *in, size_t in_size,
                size_t out_size, size_t n, size_t chunksize, mproc_iter **out,
                bool ordered)
{
    size_t ib, ob;
    if (!p || !fn || !out || (n && in_size && !in))
        return MPROC_EINVAL;
    check_pool(p);
    if (!mul_ok(n, in_size, &ib) || !mul_ok(n, out_size, &ob))
        return MPROC_ENOMEM;
    mproc_iter *it = calloc(1, sizeof *it);
    size_t cap = (size_t)p->processes * 4;
    if (!it || !(it->c = calloc(cap, sizeof *it->c))) {
        free(it);
        return MPROC_ENOMEM;
    }
    size_t cs = chunksize;
    if (!cs) {
        size_t item = in_size + out_size,
               most = item ? IMAP_CHUNK_BYTES / item : SIZE_MAX;
        cs = auto_chunk(p, n);
        if (cs > most)
            cs = most;
        if (cs == 0)
            cs = 1;
    }
    it->in = in;
    it->in_size = in_size;
    it->out_size = out_size;
    it->n = n;
    it->j.total = n;
    it->chunk = cs;
    it->ordered = ordered;
    it->cap = cap;
    lock(p);
    int rc =
        p->state == RUN ? ref_of(p, (void (*)(void))fn, &it->fn) : MPROC_EINVAL;
    if (rc < 0) {
        unlock(p);
        free(it->c);
        free(it);
        return rc;
    }
    link_job(p, &it->j, JOB_ITER, ITER_MAGIC);
    rc = end_submit(p, &it->j, refill(it));
    if (rc == 0)
        *out = it;
    return rc;
}

int mproc_pool_imap(mproc_pool *p, mproc_map_fn fn, const void *in,
                    size_t in_size, size_t out_size, size_t n, size_t chunksize,
                    mproc_iter **it)
{
    return imap(p, fn, in, in_size, out_size, n, chunksize, it, true);
}

int mproc_pool_imap_unordered(mproc_pool *p, mproc_map_fn fn, const void *in,
                              size_t in_size, size_t out_size, size_t n,
                              size_t chunksize, mproc_iter **it)
{
    return imap(p, fn, in, in_size, out_size, n, chunksize, it, false);
}

/* The chunk to read from next, if it is done; NULL otherwise. */
static struct chunk *next_chunk(mproc_iter *it)
{
    struct chunk *best = NULL;
    for (size_t k = 0; k < it->cap; k++) {
        struct chunk *c = &it->c[k];
        if (!c->used)
            continue;
        if (it->ordered && c->first == it->next_first)
            return c->done ? c : NULL;
        if (!it->ordered && c->done && (!best || c->order < best->order))
            best = c;
    }
    return best;
}

/* Ends the iteration at a failure: the done chunks are freed now, those
 * still out as they come in (on_done); refill sends no more. */
static void end_iter(mproc_iter *it)
{
    it->ended = true;
    for (size_t k = 0; k < it->cap; k++)
        if (it->c[k].used && it->c[k].done)
            release_chunk(it, &it->c[k]);
}

static bool iter_ready(void *arg)
{
    mproc_iter *it = arg;
    return it->canceled || it->count == 0 || next_chunk(it);
}

int mproc_iter_next(mproc_iter *it, void *out, size_t *index, double timeout)
{
    if (!it)
        return MPROC_EINVAL;
    MPROC__CHECK(it->j.magic == ITER_MAGIC, "mproc_iter used after destroy");
    mproc_pool *p = it->j.pool;
    if (!p)
        return it->ended || (it->submitted == it->n && it->count == 0)
                   ? MPROC_EOF
                   : MPROC_ECANCELED;
    lock(p);
    int rc;
    for (;;) {
        if (it->ended) {
            rc = MPROC_EOF;
            break;
        }
        if (it->canceled) {
            rc = MPROC_ECANCELED;
            break;
        }
        if ((rc = refill(it)) < 0)
            break;
        if (it->count == 0 && it->submitted == it->n) {
            rc = MPROC_EOF;
            break;
        }
        if ((rc = wait_until(p, iter_ready, it, timeout)) < 0)
            break;
        if (it->canceled)
            continue;
        struct chunk *c = next_chunk(it);
        if (!c)
            continue;
        if (!c->code) {
            size_t k = c->pos++ - c->first;
            if (out && it->out_size)
                memcpy(out,
                       (char *)p->ops->ptr(p->tp, c->out_off) +
                           k * it->out_size,
                       it->out_size);
            if (index)
                *index = c->first + k;
            if (c->pos == c->end) {
                it->next_first = c->end;
                release_chunk(it, c);
            }
            rc = 0;
            break;
        }
        /* A failed chunk yields none of its items (it fails as a whole,
         * as Python's), and the failure ends the iteration. */
        it->last_err = rc = c->code;
        it->last_detail = c->detail;
        it->last_index = c->fail_at;
        it->j.words = c->words;
        c->words = (struct words){0};
        if (index)
            *index = c->fail_at;
        end_iter(it);
        break;
    }
    unlock(p);
    return rc;
}

int mproc_iter_error(mproc_iter *it, size_t *index, int *detail)
{
    if (!it)
        return MPROC_EINVAL;
    MPROC__CHECK(it->j.magic == ITER_MAGIC, "mproc_iter used after destroy");
    if (index)
        *index = it->last_index;
    if (detail)
        *detail = it->last_detail;
    return it->last_err;
}

const char *mproc_iter_error_text(mproc_iter *it, size_t *len)
{
    if (len)
        *len = 0;
    if (!it)
        return NULL;
    MPROC__CHECK(it->j.magic == ITER_MAGIC, "mproc_iter used after destroy");
    if (len)
        *len = it->j.words.len;
    return it->j.words.text;
}

int mproc_iter_progress(mproc_iter *it, size_t *done, size_t *total)
{
    return progress(it ? &it->j : NULL, ITER_MAGIC, done, total);
}

void mproc_iter_destroy(mproc_iter *it)
{
    if (!it)
        return;
    MPROC__CHECK(it->j.magic == ITER_MAGIC, "mproc_iter used after destroy");
    drop_job(&it->j);
}

/* ---- a failing task's words --------------------------------------------
 * Set where the task runs, per thread; taken by the transport after a
 * task that returned non-zero (transport.h).
 */

static _Thread_local struct {
    bool set;
    size_t len; /* as formatted, possibly more than was kept */
    char text[MPROC_ERROR_TEXT_MAX + 1];
} said;

void mproc_task_error(const char *fmt, ...)
{
    said.set = false;
    if (!fmt)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(said.text, sizeof said.text, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    said.set = true;
    said.len = (size_t)n;
}

void mproc__task_words_clear(void)
{
    said.set = false;
}

size_t mproc__task_words(const mproc_buf *buf, char *out)
{
    const char *src = said.set ? said.text : buf ? buf->data : NULL;
    size_t len = said.set ? said.len : buf ? buf->len : 0;
    if (!src || !len)
        return 0;
    if (len <= MPROC_ERROR_TEXT_MAX) {
        memcpy(out, src, len);
        return len;
    }
    static const char cut[] = MPROC_ERROR_TEXT_CUT;
    size_t keep = MPROC_ERROR_TEXT_MAX - (sizeof cut - 1);
    memcpy(out, src, keep);
    memcpy(out + keep, cut, sizeof cut - 1);
    return MPROC_ERROR_TEXT_MAX;
}

/* ---- close, terminate, join, destroy ------------------------------------- */

int mproc_pool_close(mproc_pool *p)
{
    if (!p)
        return MPROC_EINVAL;
    check_pool(p);
    lock(p);
    if (p->state == RUN) {
        p->state = CLOSED;
        p->ops->close(p->tp);
    }
    unlock(p);
    return 0;
}

/* Stops the workers and cancels every pending job. Pool mutex held. */
static void terminate(mproc_pool *p)
{
    assert(mproc__held(&p->mu));
    if (p->state == TERMINATED)
        return;
    p->ops->poll(p->tp);
    p->ops->terminate(p->tp);
    p->state = TERMINATED;
    p->events++;
    struct job *j = p->jobs;
    while (j) {
        struct job *nx = j->next;
        fail(j, MPROC_ECANCELED, 0, 0);
        j->remaining = 0;
        if (j->kind == JOB_ITER)
            ((mproc_iter *)j)->canceled = true;
        if (j->orphan)
            free_job(j);
        j = nx;
    }
}

int mproc_pool_terminate(mproc_pool *p)
{
    if (!p)
        return MPROC_EINVAL;
    check_pool(p);
    lock(p);
    terminate(p);
    unlock(p);
    return 0;
}

static bool joined(void *arg)
{
    mproc_pool *p = arg;
    return p->ops->joined(p->tp);
}

int mproc_pool_join(mproc_pool *p, double timeout)
{
    if (!p)
        return MPROC_EINVAL;
    check_pool(p);
    lock(p);
    int rc = p->state == RUN ? MPROC_EINVAL : wait_until(p, joined, p, timeout);
    unlock(p);
    return rc;
}

void mproc_pool_destroy(mproc_pool *p)
{
    if (!p)
        return;
    check_pool(p);
    lock(p);
    terminate(p);
    /* Results the caller still holds outlive the pool, ready. */
    for (struct job *j = p->jobs, *nx; j; j = nx) {
        nx = j->next;
        if (j->kind == JOB_ITER) {
            mproc_iter *it = (mproc_iter *)j;
            for (size_t k = 0; k < it->cap; k++)
                if (it->c[k].used)
                    release_chunk(it, &it->c[k]);
        } else {
            mproc_async *a = (mproc_async *)j;
            if (a->bytes)
                p->ops->free(p->tp, a->off, a->bytes);
            a->bytes = 0;
        }
        j->pool = NULL;
    }
    p->jobs = NULL;
    p->ops->destroy(p->tp);
    unlock(p);
    pthread_mutex_destroy(&p->mu);
    p->magic = DEAD_MAGIC;
    free(p);
}
