/*
 * pool/local.c - the pool's transport to local forked workers over shared
 * memory: the ops table mproc__local_transport (transport.h), which
 * mproc_pool_create picks.
 *
 * Two memfd mappings are made before the first worker is forked, so every
 * worker sees them at the same addresses:
 *
 *   control  [header][worker records][task slots][one result ring per worker]
 *   arena    task inputs and outputs; only the parent allocates in it
 *
 * Task slots form a ring of NSLOTS descriptors indexed by a sequence
 * number seq (slot seq % NSLOTS). The parent alone publishes: it fills a
 * FREE slot, stores its state PENDING(seq) (release), then advances
 * `tail` (seq_cst). Workers claim in order from `next`: a worker records
 * seq in its `current` word, then CASes the slot's state PENDING(seq) ->
 * RUNNING(its serial); success makes the task its own, and it advances
 * `next`; failure means another worker took seq, and it helps advance
 * `next`. Because PENDING carries seq, a slow worker can never claim a
 * recycled slot by mistake; because ownership is written into the slot
 * by one CAS, a worker killed at any instant either owns the task (the
 * slot says RUNNING(serial), its `current` says seq) or does not (the
 * slot is still PENDING and another worker takes it). A slot (128 bytes)
 * names the task's function as a mproc__fnref (kit/fnref.h), which the
 * worker resolves by index from the table it inherited: spawn() puts
 * every loaded object in that table just before each fork.
 *
 * Results travel back through the worker's own result ring, a single-
 * producer single-consumer byte ring (kit/region.h; positions are 64-bit
 * byte counts: the worker advances `head`, the parent `rtail`). A record
 * is a 32-byte header (seq, code, detail, failed index, length) and the
 * result bytes, or for a failed task its words (mproc_task_error), at most
 * MPROC_ERROR_TEXT_MAX bytes. The worker publishes a record by storing head
 * (seq_cst), then wakes the parent through the `done` eventcount. Map outputs
 * are written straight into the arena; their records are empty. The parent
 * frees a task's slot when it consumes its record.
 *
 * Death: the parent checks its workers' pidfds (without blocking) at
 * least every 10 ms while a pool call waits, and at once when a worker
 * announces that it is exiting. For a dead worker it first consumes every
 * record the worker published (those tasks finished), then looks at the
 * slot named by its `current`: if that still says RUNNING(serial), the
 * task died with the worker and is reported to the pool as
 * MPROC_EWORKERDIED with the worker's exit code and the item it ran; the
 * pool reruns it (a submit from inside the report) or fails it. The ring
 * is then reset and a replacement forked. A worker whose initializer
 * fails makes the transport broken: no replacement is forked, deaths are
 * reported as broken (no rerun), and once no worker is left every queued
 * task fails with the initializer's status.
 *
 * Waiting: every sleep is on one of the kit's eventcounts
 * (kit/eventcount.h), so no wake-up is lost and nobody makes a system call
 * to wake a side that is not asleep. Idle workers spin briefly, then sleep
 * on `work`, each showing how it waits in its own record's `mode` (so a
 * dead worker leaves no stale count behind); after publishing, the parent
 * wakes them only when more tasks are queued than live workers spin. That
 * look at the modes cannot skip a needed wake: a worker stores SLEEPING
 * before its last look at `tail`, the parent stores `tail` before it
 * reads the modes, all seq_cst, so one of the two sees the other. The
 * parent also wakes them at every periodic check. The parent spins, then
 * sleeps on `done` in slices of at most 10 ms; a worker whose result ring
 * is full sleeps on its own `room` until the parent consumes.
 *
 * Memory: the rings and the arena are sparse regions (kit/region.h):
 * pages are taken on touch. A worker that finds its ring empty, with its head
 * past the first 4 MiB, rewinds to the ring's start (whose pages are warm) by
 * writing a skip record, and gives back what it wrote past 16 MiB; so a ring
 * holds about max(4 MiB, the largest burst of unconsumed results). The parent
 * keeps up to 128 MiB of freed arena pages warm for the next job (a fresh page
 * costs a fault and a clear) and gives back blocks of 1 MiB or more beyond
 * that.
 *
 * Start methods: under fork a worker inherits the mappings and the parent's
 * table of function references, and resolves a slot's function by index.
 * A worker started by spawn or forkserver inherits nothing: it opens the
 * two regions by reference (the pool takes both references at create, so
 * its workers are handed the memfds) and lays the control region out
 * again from the header. It cannot resolve by index either, so the
 * control region also holds a table of object paths, indexed like the
 * parent's table of references: before the parent publishes the first
 * task into an object it writes that object's path there (ahead of the
 * slot's release store), and such a worker resolves by path. The arena
 * starts with a magic and version word of its own, so that it can be
 * checked when opened.
 *
 * Core dumps leave out the rings and the arena (sealed regions): a dump
 * reads every page of a shared mapping, and for a sparse memfd that
 * allocates each one - a task that crashed a worker with core dumps on
 * would have written and allocated 16 GiB.
 *
 * Memcheck: both sparse mappings are hidden from memcheck except what is
 * in use - in the parent, allocated arena blocks; in a
 * worker, the running task's items or argument; ring bytes while a record
 * is copied in or out. Memcheck's leak scan at exit would otherwise read
 * the whole arena and every ring, allocating each page, in every worker
 * that dies in a task (valgrind turns a raise of SIGKILL into an orderly
 * exit) or by terminate's SIGTERM: minutes and gigabytes per death.
 */
#include "transport.h"

#include "../kit/buf.h"
#include "../kit/eventcount.h"
#include "../kit/handoff.h"
#include "../kit/log.h"
#include "../kit/region.h"
#include "../kit/spin.h"
#include "mproc/process.h"

#include <signal.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHM_MAGIC 0x6d70706cu /* "mppl" */
#define SHM_VERSION 3u
#define NSLOTS (1u << 15)
#define MASK (NSLOTS - 1)
#define RCAP ((uint64_t)64 << 20)  /* bytes of each result ring */
#define RWARM ((uint64_t)4 << 20)  /* an empty ring rewinds past this */
#define RKEEP ((uint64_t)16 << 20) /* ring pages kept when it rewinds */
#define SKIP_SEQ UINT64_MAX        /* a record that only skips bytes */
#define ARENA_MAX ((size_t)16 << 30)
#define ARENA_MIN ((size_t)64 << 20)
#define ALIGN 64
#define CHECK_NS 10000000 /* death checks while waiting: every 10 ms */
#define WORKER_SPIN 1000
#define PARENT_SPIN 2000
#define BIG_FREE ((uint64_t)1 << 20)
#define ARENA_WARM ((uint64_t)128 << 20) /* freed pages kept mapped */
#define ARENA_MAGIC 0x6d706172u          /* "mpar" */
#define PATH_MAX_LEN 4096 /* bytes of one object path in the table */

enum { ST_FREE = 0, ST_PENDING = 1, ST_RUNNING = 2 };
#define PENDING(seq) (((uint64_t)(seq) << 2) | ST_PENDING)
#define RUNNING(serial) (((uint64_t)(serial) << 2) | ST_RUNNING)

/* A worker's mode, in its own record: a dead worker leaves no count
 * behind in shared words that the parent would misread. */
enum { MODE_BUSY = 0, MODE_SPINNING = 1, MODE_SLEEPING = 2 };

enum { POOL_RUN = 0, POOL_CLOSING = 1, POOL_TERMINATED = 2 };

struct shm_hdr {
    uint32_t magic, version, nslots, nworkers;
    uint64_t rcap;
    alignas(64) _Atomic uint64_t tail; /* written by the parent */
    _Atomic uint32_t state;
    alignas(64) mproc__ec work;        /* workers wait for tasks */
    alignas(64) _Atomic uint64_t next; /* written by the workers */
    alignas(64) mproc__ec done;        /* the parent waits for results */
};

struct shm_slot {
    _Atomic uint64_t state;
    uint64_t kind;
    mproc__fnref fn; /* resolved by the worker, from its inherited table */
    uint64_t in_off, out_off, in_size, out_size, first, start, end;
    char pad[128 - 9 * 8 - sizeof(mproc__fnref)];
};
_Static_assert(sizeof(struct shm_slot) == 128, "a task slot is 128 bytes");

struct shm_worker {
    alignas(64) _Atomic uint64_t current; /* seq + 1 being claimed or run */
    _Atomic uint64_t item;                /* map item being run */
    _Atomic uint32_t exiting;             /* leaving of its own accord */
    _Atomic uint32_t mode;                /* MODE_*: how it waits for work */
    _Atomic uint32_t init_failed;
    _Atomic int32_t init_status;
    alignas(64) _Atomic uint64_t head;  /* result ring: worker writes */
    alignas(64) _Atomic uint64_t rtail; /* result ring: parent writes */
    mproc__ec room;                     /* the worker waits for rtail */
};

/* The path of object k of the parent's table of function references, for
 * workers started by spawn or forkserver (empty until first needed). */
struct shm_path {
    char path[PATH_MAX_LEN];
};

struct rec {
    uint64_t seq;
    int32_t code, detail;
    uint64_t index, len;
};

/* The layout the design above relies on: what the parent writes, what the
 * workers write and each eventcount on lines of their own; a record's
 * header is the 32 bytes the ring's positions count. */
_Static_assert(offsetof(struct shm_hdr, tail) / 64 !=
                       offsetof(struct shm_hdr, work) / 64 &&
                   offsetof(struct shm_hdr, work) / 64 !=
                       offsetof(struct shm_hdr, next) / 64 &&
                   offsetof(struct shm_hdr, next) / 64 !=
                       offsetof(struct shm_hdr, done) / 64,
               "the header's groups sit on lines of their own");
_Static_assert(sizeof(struct shm_worker) % 64 == 0 &&
                   offsetof(struct shm_worker, head) % 64 == 0 &&
                   offsetof(struct shm_worker, rtail) % 64 == 0 &&
                   offsetof(struct shm_worker, head) !=
                       offsetof(struct shm_worker, rtail),
               "a worker's ring head and tail sit on lines of their own");
_Static_assert(sizeof(struct rec) == 32 && RCAP % sizeof(struct rec) == 0,
               "a result record's header is 32 bytes");

struct ext {
    uint64_t off, len;
    struct ext *next;
};

struct wk {
    mproc_process *proc;
    uint32_t serial;
};

/* What a worker started by spawn or forkserver is given: the regions'
 * references, its place, and the initializer (followed by its arg). */
struct xwarg {
    mproc_ref ctl, arena;
    uint32_t i, serial, maxtasksperchild, has_init;
    mproc__fnref init;
    uint64_t initarglen;
};

/* The transport's state, the tp of its ops. */
typedef struct mproc__tp mproc__tp;

struct mproc__tp {
    mproc__transport_opts o;
    void *initarg;
    /* control mapping */
    mproc__region ctl;
    struct shm_hdr *h;
    struct shm_worker *ws;
    struct shm_slot *slots;
    struct shm_path *paths;
    unsigned char *rings;
    /* spawn and forkserver workers */
    bool exec;         /* workers start by exec: they resolve by path */
    bool in_worker;    /* this is such a worker */
    mproc_ref refs[2]; /* of ctl and arena */
    uint8_t shared_paths[MPROC__FNREF_OBJECTS / 8]; /* written to paths */
    mproc__fnref init; /* the initializer, as the workers find it */
    /* arena, allocated by the parent alone */
    mproc__region arena;
    uint64_t top;
    uint64_t warm; /* freed bytes not given back (approximate) */
    struct ext *free_list;
    /* parent-side bookkeeping */
    mproc__task *tasks; /* [NSLOTS]: the parent's copy of each slot */
    mproc__task *bl;    /* backlog waiting for a free slot (a deque) */
    size_t bl_head, bl_len, bl_cap;
    struct wk *w;
    uint64_t tail;
    size_t inflight;
    uint32_t serials, names;
    int64_t next_check;
    bool closed, terminated, broken;
    int broken_detail;
    char *scratch;
    size_t scratch_cap;
};

struct warg {
    mproc__tp *t;
    unsigned i;
    uint32_t serial;
};

/* ---- helpers --------------------------------------------------------------
 */

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

/* Worker i's result ring. */
static mproc__ring ring_of(const mproc__tp *t, unsigned i)
{
    return mproc__ring_in(&t->ctl, t->rings + (size_t)i * RCAP, RCAP);
}

/* Copies into or out of a ring; the bytes are hidden from memcheck again
 * after the copy (see Memcheck above). */
static void ring_put(const mproc__ring *ring, uint64_t pos, const void *src,
                     size_t len)
{
    mproc__ring_write(ring, pos, src, len);
    mproc__ring_mark(ring, pos, len, false);
}

static void ring_get(const mproc__ring *ring, uint64_t pos, void *dst,
                     size_t len)
{
    mproc__ring_read(ring, pos, dst, len);
    mproc__ring_mark(ring, pos, len, false);
}

/* The arena's bytes at off. */
static unsigned char *arena_at(const mproc__tp *t, uint64_t off)
{
    return t->arena.base + off;
}

/*
 * The control region for np workers: [header][worker records][task slots]
 * [object paths][result rings], each part on a page of its own. Returns
 * its length; with a base, points t's views at the parts.
 */
static size_t lay_out(mproc__tp *t, unsigned np, unsigned char *base)
{
    size_t hdr = align_up(sizeof(struct shm_hdr), 4096);
    size_t wsz = align_up(np * sizeof(struct shm_worker), 4096);
    size_t ssz = (size_t)NSLOTS * sizeof(struct shm_slot);
    size_t psz = (size_t)MPROC__FNREF_OBJECTS * sizeof(struct shm_path);
    if (base) {
        t->h = (struct shm_hdr *)(void *)base;
        t->ws = (struct shm_worker *)(void *)(base + hdr);
        t->slots = (struct shm_slot *)(void *)(base + hdr + wsz);
        t->paths = (struct shm_path *)(void *)(base + hdr + wsz + ssz);
        t->rings = base + hdr + wsz + ssz + psz;
    }
    return hdr + wsz + ssz + psz + (size_t)np * RCAP;
}

/* Writes the path of object k (of this process's table of references)
 * where workers started by exec look it up, once. Parent only. */
static void share_path(mproc__tp *t, uint32_t k)
{
    if (!t->exec || k >= MPROC__FNREF_OBJECTS ||
        (t->shared_paths[k / 8] >> (k % 8)) & 1)
        return;
    const char *path = mproc__fnref_path(k);
    if (path)
        snprintf(t->paths[k].path, PATH_MAX_LEN, "%s", path);
    t->shared_paths[k / 8] |= (uint8_t)(1u << (k % 8));
}

/* The function ref names, in this worker: by index when it was forked
 * (it has the parent's table), by the shared path otherwise. */
static int resolve(const mproc__tp *t, mproc__fnref ref, void (**f)(void))
{
    const char *path = NULL;
    if (t->exec) {
        if (ref.object >= MPROC__FNREF_OBJECTS)
            return MPROC_ENOENT;
        path = t->paths[ref.object].path;
    }
    return mproc__fnref_resolve(&ref, path, f);
}

/* ---- the worker ------------------------------------------------------------
 */

/* Takes the next task; 0 and *seq, or 1 when the worker should exit. */
static int claim(mproc__tp *t, struct shm_worker *w, uint32_t serial,
                 uint64_t *seq)
{
    struct shm_hdr *h = t->h;
    mproc__spin sp = mproc__spin_start(WORKER_SPIN, 1);
    bool spinning = false;
    for (;;) {
        uint64_t n = atomic_load(&h->next);
        if (n < atomic_load(&h->tail)) {
            atomic_store(&w->mode, MODE_BUSY);
            atomic_store(&w->current, n + 1);
            uint64_t expect = PENDING(n);
            bool mine = atomic_compare_exchange_strong(
                &t->slots[n & MASK].state, &expect, RUNNING(serial));
            uint64_t cur = n;
            atomic_compare_exchange_strong(&h->next, &cur, n + 1);
            if (mine) {
                *seq = n;
                return 0;
            }
            sp = mproc__spin_start(WORKER_SPIN, 1);
            spinning = false;
            continue;
        }
        uint32_t st = atomic_load(&h->state);
        if (st == POOL_TERMINATED ||
            (st == POOL_CLOSING &&
             atomic_load(&h->next) >= atomic_load(&h->tail))) {
            atomic_store(&w->mode, MODE_BUSY);
            return 1;
        }
        if (!spinning) {
            atomic_store(&w->mode, MODE_SPINNING);
            spinning = true;
        }
        if (mproc__spin_more(&sp))
            continue;
        /* SLEEPING before the last look at tail: see Waiting above. */
        atomic_store(&w->mode, MODE_SLEEPING);
        mproc__ec_wait ew = mproc__ec_begin(false);
        mproc__ec_prepare(&h->work, &ew);
        if (atomic_load(&h->next) >= atomic_load(&h->tail) &&
            atomic_load(&h->state) == st)
            mproc__ec_sleep(&h->work, &ew, MPROC__NO_DEADLINE);
        atomic_store(&w->mode, MODE_SPINNING);
        sp = mproc__spin_start(WORKER_SPIN, 1);
    }
}

/* Publishes a result record in the worker's ring. */
static void post(mproc__tp *t, unsigned i, struct rec *r, const void *data,
                 uint64_t *hw)
{
    struct shm_worker *w = &t->ws[i];
    mproc__ring ring = ring_of(t, i);
    uint64_t need = sizeof *r + align_up(r->len, 8);
    if (need > RCAP) {
        r->code = MPROC_EMSGSIZE;
        r->detail = 0;
        r->len = 0;
        need = sizeof *r;
    }
    uint64_t head = atomic_load_explicit(&w->head, memory_order_relaxed);
    while (head - atomic_load(&w->rtail) + need > RCAP) {
        mproc__ec_wait ew = mproc__ec_begin(false);
        mproc__ec_prepare(&w->room, &ew);
        if (head - atomic_load(&w->rtail) + need > RCAP)
            mproc__ec_sleep(&w->room, &ew, MPROC__NO_DEADLINE);
    }
    /* The ring is empty: rewind to its start, whose pages are warm,
     * with a skip record; give back pages written far past the start. */
    uint64_t phys = head % RCAP, skip = RCAP - phys;
    if (phys && phys + need > RWARM && need <= phys && skip >= sizeof *r &&
        atomic_load(&w->rtail) == head) {
        struct rec jump = {.seq = SKIP_SEQ, .index = skip};
        ring_put(&ring, head, &jump, sizeof jump);
        if (*hw > RKEEP) {
            mproc__ring_discard(&ring, 0, align_up(*hw, 4096), RKEEP);
            *hw = RKEEP;
        }
        head += skip;
    }
    if (head % RCAP + need > *hw)
        *hw = head % RCAP + need > RCAP ? RCAP : head % RCAP + need;
    ring_put(&ring, head, r, sizeof *r);
    if (r->len)
        ring_put(&ring, head + sizeof *r, data, r->len);
    atomic_store(&w->head, head + need);
    mproc__ec_wake(&t->h->done, false);
}

static void run(mproc__tp *t, unsigned i, uint64_t seq, mproc_buf *buf,
                uint64_t *hw)
{
    struct shm_worker *w = &t->ws[i];
    struct shm_slot *s = &t->slots[seq & MASK];
    struct rec r = {.seq = seq};
    const void *data = NULL;
    char words[MPROC_ERROR_TEXT_MAX];
    void (*f)(void) = NULL;
    mproc__task_words_clear();
    if (resolve(t, s->fn, &f) < 0) {
        /* code the parent loaded after this worker was forked, or an
         * object a spawned worker cannot load */
        r.code = MPROC_ENOENT;
        r.index = s->start;
    } else if (s->kind == MPROC__TASK_MAP) {
        mproc_map_fn fn = (mproc_map_fn)f;
        const unsigned char *in = arena_at(t, s->in_off);
        unsigned char *out = arena_at(t, s->out_off);
        uint64_t first = s->first, start = s->start, end = s->end;
        size_t isz = (size_t)s->in_size, osz = (size_t)s->out_size;
        const unsigned char *vin = in + (start - first) * isz;
        unsigned char *vout = out + (start - first) * osz;
        size_t ilen = (size_t)(end - start) * isz,
               olen = (size_t)(end - start) * osz;
        mproc__region_show(&t->arena, vin, ilen);
        mproc__region_undef(&t->arena, vout, olen);
        for (uint64_t k = start; k < end; k++) {
            atomic_store_explicit(&w->item, k, memory_order_relaxed);
            int st = fn(in + (k - first) * isz, out + (k - first) * osz);
            if (st) {
                r.code = MPROC_ETASKFAILED;
                r.detail = st;
                r.index = k;
                r.len = mproc__task_words(NULL, words);
                data = words;
                break;
            }
        }
        mproc__region_hide(&t->arena, vin, ilen);
        mproc__region_hide(&t->arena, vout, olen);
    } else {
        mproc_task_fn fn = (mproc_task_fn)f;
        unsigned char *arg = s->in_size ? arena_at(t, s->in_off) : NULL;
        size_t arglen = (size_t)s->in_size;
        mproc__buf_reset(buf);
        mproc__region_show(&t->arena, arg, arglen);
        int st = fn(arg, arglen, buf);
        mproc__region_hide(&t->arena, arg, arglen);
        if (st) {
            r.code = MPROC_ETASKFAILED;
            r.detail = st;
            r.len = mproc__task_words(buf, words);
            data = words;
        } else {
            r.len = buf->len;
            data = buf->data;
        }
    }
    post(t, i, &r, data, hw);
}

/* Says goodbye: the parent reaps and replaces this worker at once. */
static void leave(mproc__tp *t, struct shm_worker *w)
{
    atomic_store(&w->exiting, 1);
    mproc__ec_wake(&t->h->done, false);
}

/* A worker lets go of the pool's mappings before it exits, so that
 * nothing at exit (a leak checker's scan, say) walks gigabytes of sparse
 * mapping. */
static int worker_exit(mproc__tp *t, int code)
{
    mproc__region_unmap(&t->arena);
    mproc__region_unmap(&t->ctl);
    return code;
}

/* The initializer failed (status st): the pool is broken. */
static int init_failed(mproc__tp *t, struct shm_worker *w, int st)
{
    atomic_store(&w->init_status, st);
    atomic_store(&w->init_failed, 1);
    leave(t, w);
    return worker_exit(t, st);
}

/* A worker's life, whichever way it started: initializer, then tasks. */
static int work(mproc__tp *t, unsigned i, uint32_t serial)
{
    struct shm_worker *w = &t->ws[i];
    /* terminate's SIGTERM must end the worker, whatever handler the
     * caller had installed (a test runner's, say) */
    mproc__sigterm_default();
    /* a worker sees arena bytes only while a task of its own uses them */
    mproc__region_hide(&t->arena, t->arena.base, t->arena.len);
    if (t->o.initializer) {
        int st = t->o.initializer(t->initarg, t->o.initarglen);
        if (st)
            return init_failed(t, w, st);
    }
    mproc_buf buf = {0};
    uint64_t hw = 0, seq;
    unsigned done = 0;
    while (!t->o.maxtasksperchild || done < t->o.maxtasksperchild) {
        if (claim(t, w, serial, &seq))
            break;
        run(t, i, seq, &buf, &hw);
        done++;
    }
    mproc__buf_free(&buf);
    leave(t, w);
    return worker_exit(t, 0);
}

/* A forked worker: the parent's transport state is its own copy. */
static int worker_main(void *arg, size_t len)
{
    struct warg a;
    (void)len;
    memcpy(&a, arg, sizeof a);
    return work(a.t, a.i, a.serial);
}

static const mproc__region_layout ctl_layout = {
    .kind = MPROC__REF_POOL,
    .magic = SHM_MAGIC,
    .version = SHM_VERSION,
    .min_len = sizeof(struct shm_hdr),
};
static const mproc__region_layout arena_layout = {
    .kind = MPROC__REF_POOL_ARENA,
    .magic = ARENA_MAGIC,
    .version = SHM_VERSION,
    .min_len = ALIGN,
};

/*
 * A worker started by spawn or forkserver: it opens the pool's regions by
 * reference and lays out its own view of them. Exits with 255 when what it
 * was given does not make a pool (nothing in shared memory is touched).
 */
static int worker_exec_main(void *arg, size_t len)
{
    struct xwarg a;
    if (len < sizeof a)
        return 255;
    memcpy(&a, arg, sizeof a);
    mproc__tp t = {.exec = true};
    if (len - sizeof a != a.initarglen ||
        mproc__region_open(&t.ctl, a.ctl, &ctl_layout) != 0)
        return 255;
    unsigned np = ((struct shm_hdr *)(void *)t.ctl.base)->nworkers;
    if (a.i >= np || lay_out(&t, np, NULL) > t.ctl.len ||
        mproc__region_open(&t.arena, a.arena, &arena_layout) != 0)
        return worker_exit(&t, 255);
    lay_out(&t, np, t.ctl.base);
    mproc__region_seal(&t.ctl, t.rings, (size_t)np * RCAP);
    mproc__region_seal(&t.arena, t.arena.base, t.arena.len);
    t.o.processes = np;
    t.o.maxtasksperchild = a.maxtasksperchild;
    t.initarg = (char *)arg + sizeof a;
    t.o.initarglen = a.initarglen;
    void (*init)(void) = NULL;
    int rc = a.has_init ? resolve(&t, a.init, &init) : 0;
    if (rc != 0)
        return init_failed(&t, &t.ws[a.i], rc);
    t.o.initializer = (mproc_target)init;
    return work(&t, a.i, a.serial);
}

/* ---- the parent: publishing ---------------------------------------------- */

static bool publish(mproc__tp *t, const mproc__task *task)
{
    uint64_t seq = t->tail;
    struct shm_slot *s = &t->slots[seq & MASK];
    if (atomic_load_explicit(&s->state, memory_order_acquire) != ST_FREE)
        return false;
    t->tasks[seq & MASK] = *task;
    share_path(t, task->fn.object);
    s->kind = task->kind;
    s->fn = task->fn;
    s->in_off = task->in_off;
    s->out_off = task->out_off;
    s->in_size = task->in_size;
    s->out_size = task->out_size;
    s->first = task->first;
    s->start = task->start;
    s->end = task->end;
    atomic_store_explicit(&s->state, PENDING(seq), memory_order_release);
    t->tail = seq + 1;
    atomic_store(&t->h->tail, seq + 1);
    return true;
}

/*
 * Wakes the sleeping workers when more tasks are queued than workers spin
 * (see Waiting above). Only live workers' modes count (a dead one's is
 * stale). A woken worker marks itself spinning; until it does, the next
 * publish finds the eventcount's sleepers handled and makes no call.
 */
static void wake_workers(mproc__tp *t)
{
    struct shm_hdr *h = t->h;
    uint64_t queued = t->tail - atomic_load(&h->next);
    uint32_t spin = 0, sleeping = 0;
    if (queued == 0)
        return;
    for (unsigned i = 0; i < t->o.processes; i++) {
        if (!t->w[i].proc)
            continue;
        uint32_t m = atomic_load(&t->ws[i].mode);
        spin += m == MODE_SPINNING;
        sleeping += m == MODE_SLEEPING;
    }
    if (sleeping > 0 && queued > spin)
        mproc__ec_wake(&h->work, false);
}

static void set_state(mproc__tp *t, uint32_t st)
{
    atomic_store(&t->h->state, st);
    mproc__ec_wake_all(&t->h->work);
}

/* Moves backlog into free slots; tells closing workers when all is sent. */
static void pump(mproc__tp *t)
{
    bool any = false;
    while (t->bl_len && publish(t, &t->bl[t->bl_head])) {
        t->bl_head = (t->bl_head + 1) % t->bl_cap;
        t->bl_len--;
        any = true;
    }
    if (any)
        wake_workers(t);
    if (t->closed && !t->terminated && t->bl_len == 0 &&
        atomic_load(&t->h->state) == POOL_RUN)
        set_state(t, POOL_CLOSING);
}

static int backlog_push(mproc__tp *t, const mproc__task *task)
{
    if (t->bl_len == t->bl_cap) {
        size_t cap = t->bl_cap ? t->bl_cap * 2 : 64;
        mproc__task *n = malloc(cap * sizeof *n);
        if (!n)
            return MPROC_ENOMEM;
        for (size_t k = 0; k < t->bl_len; k++)
            n[k] = t->bl[(t->bl_head + k) % t->bl_cap];
        free(t->bl);
        t->bl = n;
        t->bl_cap = cap;
        t->bl_head = 0;
    }
    t->bl[(t->bl_head + t->bl_len) % t->bl_cap] = *task;
    t->bl_len++;
    return 0;
}

static unsigned live_workers(mproc__tp *t)
{
    unsigned n = 0;
    for (unsigned i = 0; i < t->o.processes; i++)
        n += t->w[i].proc != NULL;
    return n;
}

static int local_submit(void *tp, const mproc__task *task, int *detail)
{
    mproc__tp *t = tp;
    if (t->broken && live_workers(t) == 0) {
        *detail = t->broken_detail;
        return MPROC_EWORKERDIED;
    }
    if (t->bl_len == 0 && publish(t, task)) {
        wake_workers(t);
    } else {
        int rc = backlog_push(t, task);
        if (rc < 0)
            return rc;
    }
    t->inflight++;
    return 0;
}

/* ---- the parent: results and deaths -------------------------------------- */

static void deliver(mproc__tp *t, const mproc__task *task, int code, int detail,
                    uint64_t index, const void *data, size_t len)
{
    mproc__done d = {.task = task,
                     .code = code,
                     .detail = detail,
                     .index = index,
                     .broken = t->broken,
                     .data = data,
                     .len = len};
    t->inflight--;
    t->o.done(t->o.ctx, &d);
}

static void *scratch(mproc__tp *t, size_t len)
{
    if (len > t->scratch_cap) {
        char *s = realloc(t->scratch, len);
        if (!s)
            return NULL;
        t->scratch = s;
        t->scratch_cap = len;
    }
    return t->scratch;
}

/* Consumes worker i's published records. Returns how many. */
static int collect(mproc__tp *t, unsigned i)
{
    struct shm_worker *w = &t->ws[i];
    mproc__ring ring = ring_of(t, i);
    uint64_t tail = atomic_load_explicit(&w->rtail, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&w->head, memory_order_acquire);
    int n = 0;
    bool moved = false;
    while (tail != head) {
        struct rec r;
        moved = true;
        ring_get(&ring, tail, &r, sizeof r);
        if (r.seq == SKIP_SEQ) {
            tail += r.index;
            continue;
        }
        if (r.len > RCAP - sizeof r)
            mproc__die(__FILE__, __LINE__, "pool result ring corrupted");
        const void *data = NULL;
        int code = r.code;
        bool in_ring = false;
        if (r.len) {
            uint64_t pos = tail + sizeof r;
            if (mproc__ring_first(&ring, pos, r.len) == r.len) {
                data = mproc__ring_at(&ring, pos);
                in_ring = true;
                mproc__ring_mark(&ring, pos, r.len, true);
            } else if ((data = scratch(t, r.len))) {
                ring_get(&ring, pos, (void *)data, r.len);
            } else {
                code = MPROC_ENOMEM;
            }
        }
        unsigned k = (unsigned)(r.seq & MASK);
        mproc__task task = t->tasks[k];
        atomic_store_explicit(&t->slots[k].state, ST_FREE,
                              memory_order_release);
        deliver(t, &task, code, r.detail, r.index, data, data ? r.len : 0);
        if (in_ring)
            mproc__ring_mark(&ring, tail + sizeof r, r.len, false);
        tail += sizeof r + align_up(r.len, 8);
        n++;
    }
    if (moved) {
        atomic_store(&w->rtail, tail);
        mproc__ec_wake(&w->room, false);
    }
    return n;
}

/* The task in slot seq died with its worker: report it (the pool reruns
 * or fails it), with the item it was running if that is one of its own. */
static int died(mproc__tp *t, uint64_t seq, int code, uint64_t item)
{
    unsigned k = (unsigned)(seq & MASK);
    mproc__task task = t->tasks[k];
    atomic_store_explicit(&t->slots[k].state, ST_FREE, memory_order_release);
    bool in_range =
        task.kind == MPROC__TASK_MAP && item >= task.start && item < task.end;
    deliver(t, &task, MPROC_EWORKERDIED, code, in_range ? item : task.start,
            NULL, 0);
    return 1;
}

/* The process of a worker that will be forked. */
static int create_forked_worker(mproc__tp *t, unsigned i, uint32_t serial,
                                const mproc_process_opts *po, mproc_process **p)
{
    /* Every object loaded now goes into the table of function references
     * the worker inherits, so that it resolves by index the references
     * the pool takes later into any of them (a few microseconds; best
     * effort: a reference into an object left out fails with MPROC_ENOENT). */
    mproc__fnref_register_loaded();
    struct warg a = {t, i, serial};
    return mproc_process_create(p, worker_main, &a, sizeof a, po);
}

/* The process of a worker that will start by spawn or forkserver. */
static int create_exec_worker(mproc__tp *t, unsigned i, uint32_t serial,
                              const mproc_process_opts *po, mproc_process **p)
{
    struct xwarg a = {.ctl = t->refs[0],
                      .arena = t->refs[1],
                      .i = i,
                      .serial = serial,
                      .maxtasksperchild = t->o.maxtasksperchild,
                      .has_init = t->o.initializer != NULL,
                      .init = t->init,
                      .initarglen = t->o.initarglen};
    unsigned char *arg = malloc(sizeof a + t->o.initarglen);
    if (!arg)
        return MPROC_ENOMEM;
    memcpy(arg, &a, sizeof a);
    if (t->o.initarglen)
        memcpy(arg + sizeof a, t->initarg, t->o.initarglen);
    int rc = mproc_process_create(p, worker_exec_main, arg,
                                  sizeof a + t->o.initarglen, po);
    free(arg);
    return rc;
}

/* Takes the references exec'd workers open: the regions and the
 * initializer. */
static int take_refs(mproc__tp *t)
{
    int rc = mproc__region_ref(&t->ctl, MPROC__REF_POOL, &t->refs[0]);
    if (rc == 0)
        rc = mproc__region_ref(&t->arena, MPROC__REF_POOL_ARENA, &t->refs[1]);
    if (rc == 0 && t->o.initializer) {
        rc = mproc__fnref_of((void (*)(void))t->o.initializer, &t->init);
        if (rc == 0)
            share_path(t, t->init.object);
    }
    return rc;
}

static int spawn(mproc__tp *t, unsigned i)
{
    struct shm_worker *w = &t->ws[i];
    uint32_t serial = ++t->serials;
    if (atomic_load(&w->head)) {
        mproc__ring ring = ring_of(t, i);
        mproc__ring_discard(&ring, 0, RCAP, 0);
    }
    atomic_store(&w->current, 0);
    atomic_store(&w->item, 0);
    atomic_store(&w->exiting, 0);
    atomic_store(&w->mode, MODE_BUSY);
    atomic_store(&w->init_failed, 0);
    atomic_store(&w->init_status, 0);
    atomic_store(&w->head, 0);
    atomic_store(&w->rtail, 0);
    w->room = (mproc__ec){0}; /* its sleeper, if any, is dead */
    char name[48];
    mproc_start_method m = t->o.start_method;
    snprintf(name, sizeof name, "%sPoolWorker-%u",
             m == MPROC_START_SPAWN        ? "Spawn"
             : m == MPROC_START_FORKSERVER ? "ForkServer"
                                           : "Fork",
             ++t->names);
    mproc_process_opts po = {.name = name, .daemon = true, .start_method = m};
    mproc_process *p;
    int rc = t->exec ? create_exec_worker(t, i, serial, &po, &p)
                     : create_forked_worker(t, i, serial, &po, &p);
    if (rc < 0)
        return rc;
    /* SIGTERM stays blocked in the child until it has reset the handler */
    sigset_t old;
    mproc__sigterm_block(&old);
    rc = mproc_process_start(p);
    mproc__sigmask_restore(&old);
    if (rc < 0) {
        mproc_process_destroy(p);
        return rc;
    }
    t->w[i].proc = p;
    t->w[i].serial = serial;
    return 0;
}

/* Fails everything queued: the pool is broken and no worker is left. */
static int fail_queued(mproc__tp *t)
{
    int n = 0;
    uint64_t next = atomic_load(&t->h->next);
    for (uint64_t seq = next; seq < t->tail; seq++) {
        unsigned k = (unsigned)(seq & MASK);
        uint64_t expect = PENDING(seq);
        if (atomic_compare_exchange_strong(&t->slots[k].state, &expect,
                                           ST_FREE)) {
            mproc__task task = t->tasks[k];
            deliver(t, &task, MPROC_EWORKERDIED, t->broken_detail, task.start,
                    NULL, 0);
            n++;
        }
    }
    atomic_store(&t->h->next, t->tail);
    while (t->bl_len) {
        mproc__task task = t->bl[t->bl_head];
        t->bl_head = (t->bl_head + 1) % t->bl_cap;
        t->bl_len--;
        deliver(t, &task, MPROC_EWORKERDIED, t->broken_detail, task.start, NULL,
                0);
        n++;
    }
    return n;
}

/* Whether workers that end are replaced: the pool still runs, or is
 * closed with tasks left. */
static bool replacing(const mproc__tp *t)
{
    return !t->terminated && !t->broken && (!t->closed || t->inflight);
}

/* Logs why worker k ended (its exit code is code; ran: it died running a
 * task) and whether it is replaced: MPROC_LOG_INFO, or MPROC_LOG_DEBUG for
 * a worker that left a closed pool in the normal way. */
static void log_worker_end(const mproc__tp *t, const struct wk *k, int code,
                           bool ran)
{
    char how[64];
    const char *why = ran ? " running a task"
                      : atomic_load(&t->ws[k - t->w].init_failed)
                          ? ": its initializer failed, the pool is broken"
                      : code == 0 && t->o.maxtasksperchild && !t->closed
                          ? " after maxtasksperchild tasks"
                          : "";
    /* a worker leaving a closed pool with its work done is no news */
    bool news = ran || code != 0 || replacing(t);
    MPROC__LOG(news ? MPROC_LOG_INFO : MPROC_LOG_DEBUG,
               "pool worker %s (pid %d) %s%s; %s", mproc_process_name(k->proc),
               (int)mproc_process_pid(k->proc),
               mproc__log_exit_text(code, how, sizeof how), why,
               replacing(t) ? "replacing it" : "not replaced");
}

static int check_workers(mproc__tp *t)
{
    int n = 0;
    for (unsigned i = 0; i < t->o.processes; i++) {
        struct wk *k = &t->w[i];
        struct shm_worker *w = &t->ws[i];
        if (!k->proc)
            continue;
        if (mproc_process_is_alive(k->proc) &&
            (!atomic_load(&w->exiting) || mproc_process_join(k->proc, 0.1)))
            continue;
        int code = 0;
        mproc_process_exitcode(k->proc, &code);
        n += collect(t, i);
        if (atomic_load(&w->init_failed) && !t->broken) {
            t->broken = true;
            t->broken_detail = atomic_load(&w->init_status);
        }
        uint64_t cur = atomic_load(&w->current);
        bool ran = false;
        if (cur) {
            uint64_t seq = cur - 1;
            ran =
                atomic_load(&t->slots[seq & MASK].state) == RUNNING(k->serial);
            if (ran)
                n += died(t, seq, code, atomic_load(&w->item));
        }
        if (mproc__log_on(MPROC_LOG_INFO))
            log_worker_end(t, k, code, ran);
        mproc_process_destroy(k->proc);
        k->proc = NULL;
    }
    if (t->broken && live_workers(t) == 0)
        n += fail_queued(t);
    bool want = replacing(t);
    for (unsigned i = 0; want && i < t->o.processes; i++)
        if (!t->w[i].proc)
            spawn(t, i);
    return n;
}

static bool any_exiting(mproc__tp *t)
{
    for (unsigned i = 0; i < t->o.processes; i++)
        if (t->w[i].proc && atomic_load(&t->ws[i].exiting))
            return true;
    return false;
}

static int local_poll(void *tp)
{
    mproc__tp *t = tp;
    int n = 0;
    if (t->terminated)
        return 0;
    for (unsigned i = 0; i < t->o.processes; i++)
        if (t->w[i].proc)
            n += collect(t, i);
    pump(t);
    int64_t now = mproc__now();
    if (now >= t->next_check || any_exiting(t) || live_workers(t) == 0) {
        n += check_workers(t);
        t->next_check = now + CHECK_NS;
        pump(t);
        wake_workers(t);
    }
    return n;
}

static bool results_waiting(mproc__tp *t)
{
    for (unsigned i = 0; i < t->o.processes; i++)
        if (atomic_load(&t->ws[i].head) != atomic_load(&t->ws[i].rtail) ||
            atomic_load(&t->ws[i].exiting))
            return true;
    return false;
}

static void local_sleep(void *tp, int64_t deadline)
{
    mproc__tp *t = tp;
    mproc__spin sp = mproc__spin_start(PARENT_SPIN, 1);
    do
        if (results_waiting(t))
            return;
    while (mproc__spin_more(&sp));
    mproc__ec_wait ew = mproc__ec_begin(false);
    mproc__ec_prepare(&t->h->done, &ew);
    if (!results_waiting(t)) {
        int64_t now = mproc__now(), until = deadline;
        if (until - now > CHECK_NS)
            until = now + CHECK_NS;
        mproc__ec_sleep(&t->h->done, &ew, until);
    }
}

static void local_close(void *tp)
{
    mproc__tp *t = tp;
    MPROC__LOG(MPROC_LOG_DEBUG,
               "pool %p closed: its workers exit once "
               "its tasks are done",
               tp);
    t->closed = true;
    pump(t);
}

static void local_terminate(void *tp)
{
    mproc__tp *t = tp;
    if (t->terminated)
        return;
    t->terminated = true;
    MPROC__LOG(MPROC_LOG_DEBUG, "pool %p terminated: stopping its workers", tp);
    set_state(t, POOL_TERMINATED);
    for (unsigned i = 0; i < t->o.processes; i++)
        if (t->w[i].proc)
            mproc_process_terminate(t->w[i].proc);
    int64_t grace = mproc__now() + 100000000;
    for (unsigned i = 0; i < t->o.processes; i++) {
        if (!t->w[i].proc)
            continue;
        double left = (double)(grace - mproc__now()) / 1e9;
        if (mproc_process_join(t->w[i].proc, left > 0 ? left : 0) < 0) {
            mproc_process_kill(t->w[i].proc);
            mproc_process_join(t->w[i].proc, MPROC_FOREVER);
        }
        mproc_process_destroy(t->w[i].proc);
        t->w[i].proc = NULL;
    }
    t->bl_len = 0;
    t->inflight = 0;
}

static bool local_joined(void *tp)
{
    mproc__tp *t = tp;
    return live_workers(t) == 0 && (t->inflight == 0 || t->terminated);
}

/* ---- arena ------------------------------------------------------------------
 */

static int local_alloc(void *tp, size_t len, uint64_t *off)
{
    mproc__tp *t = tp;
    uint64_t need = align_up(len ? len : 1, ALIGN);
    for (struct ext **pp = &t->free_list; *pp; pp = &(*pp)->next) {
        struct ext *e = *pp;
        if (e->len < need)
            continue;
        *off = e->off;
        mproc__region_show(&t->arena, arena_at(t, *off), need);
        t->warm -= need < t->warm ? need : t->warm;
        e->off += need;
        e->len -= need;
        if (e->len == 0) {
            *pp = e->next;
            free(e);
        }
        return 0;
    }
    if (need > t->arena.len - t->top)
        return MPROC_ENOMEM;
    t->warm -= need < t->warm ? need : t->warm; /* reuses freed pages */
    *off = t->top;
    t->top += need;
    mproc__region_show(&t->arena, arena_at(t, *off), need);
    return 0;
}

static void local_free(void *tp, uint64_t off, size_t len)
{
    mproc__tp *t = tp;
    uint64_t sz = align_up(len ? len : 1, ALIGN);
    mproc__region_hide(&t->arena, arena_at(t, off), sz);
    if (sz >= BIG_FREE && t->warm + sz > ARENA_WARM) {
        mproc__region_discard(&t->arena, arena_at(t, off), sz);
    } else {
        t->warm += sz;
    }
    struct ext **pp = &t->free_list, *prev = NULL;
    while (*pp && (*pp)->off < off) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    struct ext *nx = *pp;
    if (prev && prev->off + prev->len == off) {
        prev->len += sz;
        if (nx && prev->off + prev->len == nx->off) {
            prev->len += nx->len;
            prev->next = nx->next;
            free(nx);
        }
    } else if (nx && off + sz == nx->off) {
        nx->off = off;
        nx->len += sz;
    } else {
        struct ext *e = malloc(sizeof *e);
        if (!e)
            return; /* the block is lost to this pool, nothing worse */
        e->off = off;
        e->len = sz;
        e->next = nx;
        *pp = e;
        prev = e;
    }
    /* The last free extent touching the top goes back to the top. */
    struct ext **last = &t->free_list;
    while (*last && (*last)->next)
        last = &(*last)->next;
    if (*last && (*last)->off + (*last)->len == t->top) {
        t->top = (*last)->off;
        free(*last);
        *last = NULL;
    }
}

static void *local_ptr(void *tp, uint64_t off)
{
    return arena_at(tp, off);
}

/* ---- life -----------------------------------------------------------------
 */

static void local_destroy(void *tp);

static int local_create(void **out, const mproc__transport_opts *o,
                        void *config)
{
    (void)config;
    mproc__tp *t = calloc(1, sizeof *t);
    if (!t)
        return MPROC_ENOMEM;
    t->o = *o;
    t->exec = o->start_method != MPROC_START_FORK;
    unsigned np = o->processes;
    int rc = MPROC_ENOMEM;
    t->w = calloc(np, sizeof *t->w);
    t->tasks = calloc(NSLOTS, sizeof *t->tasks);
    if (o->initarglen && (t->initarg = malloc(o->initarglen)))
        memcpy(t->initarg, o->initarg, o->initarglen);
    if (!t->w || !t->tasks || (o->initarglen && !t->initarg))
        goto fail;
    rc = mproc__region_map(&t->ctl, "mproc-pool", lay_out(t, np, NULL),
                           MPROC__MAP_SPARSE);
    if (rc < 0)
        goto fail;
    for (size_t len = ARENA_MAX; len >= ARENA_MIN; len /= 2)
        if ((rc = mproc__region_map(&t->arena, "mproc-pool-arena", len,
                                    MPROC__MAP_SPARSE)) == 0)
            break;
    if (rc < 0)
        goto fail;
    lay_out(t, np, t->ctl.base);
    /* the arena's first bytes say what it is; allocation starts past them */
    ((uint32_t *)(void *)t->arena.base)[0] = ARENA_MAGIC;
    ((uint32_t *)(void *)t->arena.base)[1] = SHM_VERSION;
    t->top = ALIGN;
    mproc__region_seal(&t->ctl, t->rings, (size_t)np * RCAP);
    mproc__region_seal(&t->arena, t->arena.base, t->arena.len);
    t->h->magic = SHM_MAGIC;
    t->h->version = SHM_VERSION;
    t->h->nslots = NSLOTS;
    t->h->nworkers = np;
    t->h->rcap = RCAP;
    if (t->exec && (rc = take_refs(t)) < 0)
        goto fail;
    for (unsigned i = 0; i < np; i++) {
        rc = spawn(t, i);
        if (rc < 0)
            goto fail;
    }
    t->next_check = mproc__now() + CHECK_NS;
    MPROC__LOG(MPROC_LOG_DEBUG, "pool %p created with %u workers", (void *)t,
               np);
    *out = t;
    return 0;
fail:
    local_destroy(t);
    return rc;
}

static void local_destroy(void *tp)
{
    mproc__tp *t = tp;
    if (!t)
        return;
    if (t->ctl.base) {
        local_terminate(t);
        mproc__region_unmap(&t->ctl);
    }
    mproc__region_unmap(&t->arena);
    while (t->free_list) {
        struct ext *e = t->free_list;
        t->free_list = e->next;
        free(e);
    }
    free(t->initarg);
    free(t->w);
    free(t->tasks);
    free(t->bl);
    free(t->scratch);
    free(t);
}

const mproc__transport_ops mproc__local_transport = {
    .name = "local",
    .create = local_create,
    .alloc = local_alloc,
    .free = local_free,
    .ptr = local_ptr,
    .submit = local_submit,
    .poll = local_poll,
    .sleep = local_sleep,
    .close = local_close,
    .terminate = local_terminate,
    .joined = local_joined,
    .destroy = local_destroy,
};
