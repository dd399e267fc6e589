/*
 * queue.c - Queue, SimpleQueue and JoinableQueue over one shared ring.
 *
 * Layout. One memfd mapping: a control block (struct shared, one page)
 * followed by the ring of cap bytes (a power of two). Byte positions are
 * absolute 64-bit counters that never wrap; a position's place in the ring
 * is pos & (cap - 1). The ring holds records, each starting on a cache
 * line (64 bytes):
 *
 *     u64 total; u64 len << 8 | flags;  then len bytes, padded to 64
 *
 * Whole lines cost memory (128 bytes for a 64-byte message, against 80
 * packed) but no line holds the end of one record and the start of the
 * next, which the producer would write while the consumer reads: 1->1
 * throughput went up by a fifth.
 *
 * A message that fits is one record flagged FIRST|LAST. A message larger
 * than a bounded ring is a FIRST record, middle records and a LAST record
 * (total: the message's length, in the FIRST record); a stream its
 * producer gave up on ends with a record flagged ABORT alone; a SKIP
 * record (unbounded queues) covers the rest of a lap, total bytes. A record
 * never splits its header across the end of the ring (positions and cap
 * are multiples of 64); its payload may wrap, and is copied in two parts.
 *
 * Two locks. The producers' lock guards tail (end of committed records),
 * nput (messages begun) and pflags (STREAMING while a message is half
 * sent); the consumers' lock guards head, nget (messages begun to be got)
 * and nabort (messages that ended without being delivered). Each group
 * sits on its own cache line, and so do the values the other side polls:
 * tail, and (written by consumers) freed, the position producers may
 * write up to, less cap, with got, a copy of nget. Each wait word has a
 * line of its own too. So the one producer and the one consumer of a 1->1
 * queue write disjoint lines and read each other's only to learn of
 * progress: a lock's line is never pulled across by the other side's
 * polling. Each handle caches the last value it saw of tail, freed and
 * got: they only grow, so a stale copy is a safe under-estimate and the
 * shared line is re-read only when the copy says "no room" or "no data".
 * Waiters poll with growing pauses (kit/spin.h), and a producer that ran
 * out of room waits, while it spins, until a batch of messages fits, so
 * that two processes running flat out do not hand each slot across alone.
 * A process holding one side's lock takes the other side's only without
 * waiting for it: a consumer takes the producers' lock when it is free or
 * kept by an idle keeper (the jump to the ring's start) or held by a dead
 * process (in a stream), and a streaming producer takes the consumers'
 * lock only from a dead holder (Settling), so there is no lock-order
 * cycle; a streaming producer waits for room while holding its lock, which
 * is how chunks of one message stay contiguous.
 *
 * Each lock is the kit's robust lock word (src/kit/lock.c): 0 when
 * free, else the holder's process token
 * (mproc__self_token: PID in the low 32 bits, start time above) with bit
 * 31 set while others may sleep on it. Taking it is one compare-and-swap
 * (mproc__lock_try); waiters spin briefly, then sleep on the word's low
 * half (a futex) for at most MPROC__SYNC_SLICE_NS (50 ms) at a time. When
 * a sleep runs out, the waiter asks /proc whether the holder lives
 * (mproc__token_alive) and if not takes the lock over with a
 * compare-and-swap (one winner): mproc__lock_acquire_until then returns
 * MPROC_EOWNERDEAD and the queue repairs what the holder left. So a
 * process waiting for a lock reads /proc only while another has held it
 * for over 50 ms.
 * Whatever a call's timeout, it waits at least LOCK_GRACE_NS for a lock
 * (a lock is held only for a copy, so timeout 0 means "no waiting for
 * room or data", not "fail if another process is mid-put").
 *
 * Kept locks. Each lock is biased (mproc__biased, src/kit/biased.c): a process
 * (one thread of it) that took a side's lock 64 times in a row keeps it between
 * its calls and enters with plain stores to a busy word of its own, so a 1->1
 * queue's put and get run with no locked instruction. Any other process or
 * thread that needs the lock revokes the bias (a membarrier, then a wait for
 * the keeper to leave its critical section); a keeper found dead inside one
 * counts as a dead holder, and its critical section is repaired as below. A put
 * that streams, and the consumer's jump to the ring's start, take the
 * producers' lock plainly. Biasing needs membarrier(2)'s expedited global
 * barrier: the creating process registers for it (its later children
 * inherit that) and records in the shared block whether it could (asym).
 * Under valgrind, or on kernels without it, the locks are plain.
 *
 * Commit and repair. Each side's state changes by a redo journal: the
 * lock holder first writes the record bytes into free ring space (nobody
 * reads there), then the new nput and pflags into pj_*, then the new tail
 * into pj_tail, and then stores the three values. A commit is under way
 * exactly while pj_tail differs from tail (every commit moves tail on): a
 * takeover that finds them different replays the journal (finishing a
 * commit the dead holder began) and ignores anything else it wrote (bytes
 * past tail are free space). So a record is either wholly committed or
 * absent. Outside a commit pj_tail equals tail; it sits on the producers'
 * own line, so a producer reads it there instead of pulling across tail's
 * line, which a consumer waiting for data keeps reading. If the dead producer
 * was in the middle of a stream (STREAMING after replay), the new holder
 * appends an ABORT record; a streaming producer always leaves 64 bytes free for
 * that, so it never waits. The consumers' side is the same with (nget,
 * nabort, then head). A consumer killed in a stream leaves its remaining
 * records at the head: the next consumer sees a record that is not FIRST and
 * discards up to the end of that message. Crash consistency needs only program
 * order of the stores (a killed process stops at an instruction boundary and
 * its stores up to there reach memory), which release stores give; readers in
 * other processes pair their acquire loads of tail / freed with them, so bytes
 * are written before they are published and read before they are freed.
 *
 * Settling. A takeover repairs when the next process of the same side
 * needs the lock, but there may be none (a pipeline's only producer was
 * killed), so the processes waiting on the other side settle it too. A
 * waiter whose sleep ran out a slice (below), or whose wait is about to
 * time out, looks at the other side's journal, on its own line: for the
 * producers a commit under way (pj_tail != tail) or a stream open; for the
 * consumers a commit under way or, on a bounded queue, freed behind cj_head
 * (room a dead consumer took but never gave back). Only then does it look at
 * the lock's holder: if the word names a dead process, a plain holder or a
 * keeper (mproc__biased_take_dead: one read of /proc, no waiting, a live holder
 * left untouched), it takes the lock over, runs the takeover's repair and
 * gives the lock back. Consumers waiting for data or in a stream settle
 * the producers (settle_producers: the committed message appears, a dead
 * stream ends with ABORT); producers waiting for room and joiners settle
 * the consumers (settle_consumers: head, nget, nabort, then freed and got
 * catch up). What a dead consumer left at the head (an uncommitted take,
 * the rest of its stream) needs no settling: consumers waiting for data
 * see a record there and take the lock over. So after a death everything
 * the dead process committed is visible to every waiter within one slice,
 * 50 ms, of the death or of the start of its wait, whichever is later, and
 * to a wait of any timeout before it times out. A call with timeout 0 does
 * not wait and does not settle: a get_nowait that polls an empty queue
 * must not pull the producers' line across at each look.
 *
 * Sleeping. Producers wait for room and item slots, consumers for data,
 * joiners for done, each on an eventcount (kit/eventcount.h): no syscall
 * when nobody sleeps, no lost wake-up, and a sleeper killed at any point
 * costs at most one needless wake. Every sleep lasts at most
 * MPROC__SYNC_SLICE_NS (50 ms, sleep_until): a waker killed between its
 * change and its wake left the change there for the waiter's next look,
 * and the end of each slice is when it settles. The next slice sleeps on
 * the same announcement, so an idle waiter costs a timer wake-up, a clock
 * read and two or three loads 20 times a second, and no membarrier. On an
 * asym queue the wakers leave their fence to the sleepers (the
 * eventcount's asymmetric variant), so a put or get that wakes nobody runs
 * no locked instruction.
 *
 * Unbounded queues. The ring is a sparse mapping of (by default) the
 * machine's RAM, rounded up to a power of two. A producer takes the pages
 * it will write ahead of time with MADV_POPULATE_WRITE (so running out of
 * memory is MPROC_ENOMEM, not SIGBUS), and a consumer gives back whole
 * drained pages with MADV_REMOVE in batches of 256 KiB (or when the queue
 * runs empty) before it advances freed past them: pages are never given
 * back while a producer may write them. The pages of the first
 * warm = min(cap / 4, 128 MiB) bytes are kept: when a get leaves the queue
 * empty more than 1 MiB into the ring, and the producers' lock is free,
 * the consumer ends the lap with a SKIP record (a normal journalled
 * producer commit) and consumes it, so the next messages land on those
 * warm pages; taking and zeroing fresh pages costs more than the copy.
 *
 * References. A handle is made by create, inherited by fork, or opened
 * from a reference (mproc_queue_open) in a process given the queue's
 * memfd. Open maps the memfd again, wherever it lands (the shared block
 * holds positions and offsets, never pointers), checks the layout, and
 * sets up its handle as a process that has never used the queue: views
 * with no bias and no slot (a process claims a slot on its first bias and
 * keeps it while it lives), nothing seen of the counters. On an asym queue
 * it first registers the process for membarrier, as a spawned process has
 * not inherited the creator's registration; a process that cannot register
 * cannot open the queue.
 */
#include "../kit/biased.h"
#include "../kit/check.h"
#include "../kit/eventcount.h"
#include "../kit/handoff.h"
#include "../kit/log.h"
#include "../kit/region.h"
#include "mproc/queue.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_MAGIC 0x6d715155u  /* shared block */
#define HANDLE_MAGIC 0x68715155u /* process-local handle */
#define QUEUE_VERSION 3u
#define HDR 16u
#define REC_ALIGN 64u /* records start on cache lines */
#define MIN_CAP 128u  /* a streamed piece and the ABORT kept room for */
#define DEFAULT_BOUNDED_CAP ((uint64_t)1 << 20)
#define MIN_UNBOUNDED_CAP ((uint64_t)64 << 20)
#define MAX_CAP ((uint64_t)1 << 40)
#define LOCK_GRACE_NS 100000000 /* every call waits this long for a lock */
#define SPIN 200                /* pauses a waiter spins before it sleeps */
#define SPIN_STEP 8             /* most pauses between two looks */
#define BATCH 32 /* messages a spinning producer waits room for */
#define RECLAIM_MIN ((uint64_t)256 << 10)
#define WARM_MAX                                                               \
    ((uint64_t)128 << 20)            /* unbounded: pages kept at the start     \
                                      */
#define JUMP_MIN ((uint64_t)1 << 20) /* unbounded: run empty past here */
#define POPULATE_AHEAD ((uint64_t)1 << 20)

enum { REC_FIRST = 1, REC_LAST = 2, REC_ABORT = 4, REC_SKIP = 8 };
enum { P_STREAMING = 1 };
enum { Q_OPEN = 0, Q_SHUTDOWN = 1, Q_SHUTDOWN_NOW = 2 };

/* A record header as read from the ring (where it is packed in 16 bytes:
 * the total, then len << 8 | flags). */
struct rec {
    uint64_t total; /* message length (FIRST record) */
    uint64_t len;   /* payload bytes in this record */
    uint32_t flags; /* REC_* */
};

struct shared {
    /* Written at create (state: once more, at shutdown). */
    uint32_t magic, version;
    uint64_t cap, maxsize, ring_off, page;
    uint64_t warm; /* unbounded: ring bytes whose pages are never given back */
    uint32_t joinable, unbounded;
    uint32_t asym; /* creator registered for membarrier: biased locks, and
                      wakers that leave the fence to sleepers */
    _Atomic uint32_t state;

    /* Producers: their lock (biased, kit/biased.h) and what it guards. */
    _Alignas(MPROC__CACHE_LINE) mproc__biased plock;
    _Alignas(MPROC__CACHE_LINE) _Atomic uint64_t nput;
    _Atomic uint32_t pflags, pj_flags;
    _Atomic uint64_t pj_tail, pj_nput;
    _Atomic uint64_t populated; /* unbounded: pages taken up to here */

    /* Guarded by the producers' lock, polled by consumers. */
    _Alignas(MPROC__CACHE_LINE) _Atomic uint64_t tail;

    /* Consumers: their lock and what it guards. */
    _Alignas(MPROC__CACHE_LINE) mproc__biased clock;
    /* (_Alignas would align each declarator of a list to a line.) */
    _Alignas(MPROC__CACHE_LINE) _Atomic uint64_t head;
    _Atomic uint64_t nget, nabort;
    _Atomic uint64_t cj_head, cj_nget, cj_nabort;

    /* Written by consumers, read by producers: writable up to freed+cap;
     * got, a copy of nget that may lag it (an under-estimate). */
    _Alignas(MPROC__CACHE_LINE) _Atomic uint64_t freed;
    _Atomic uint64_t got;

    _Alignas(MPROC__CACHE_LINE) mproc__ec data; /* consumers wait for records */
    _Alignas(MPROC__CACHE_LINE) mproc__ec room; /* producers wait for room */
    _Alignas(MPROC__CACHE_LINE) mproc__ec done; /* joiners wait for task_done */
    _Atomic uint64_t ndone;                     /* task_done calls */
};

/* The layout the design above relies on: the control block fits the page
 * before the ring; each side's lock, its guarded state and the values the
 * other side polls sit on lines of their own. */
#define LINE_OF(field) (offsetof(struct shared, field) / MPROC__CACHE_LINE)
_Static_assert(sizeof(struct shared) <= 4096, "the control block is a page");
_Static_assert(LINE_OF(pj_tail) == LINE_OF(nput) &&
                   LINE_OF(populated) == LINE_OF(nput),
               "the producers' state shares the producers' line");
_Static_assert(LINE_OF(cj_head) == LINE_OF(head) &&
                   LINE_OF(nabort) == LINE_OF(head),
               "the consumers' state shares the consumers' line");
_Static_assert(LINE_OF(got) == LINE_OF(freed), "freed and got share a line");
_Static_assert(
    LINE_OF(nput) != LINE_OF(tail) && LINE_OF(tail) != LINE_OF(head) &&
        LINE_OF(head) != LINE_OF(freed) && LINE_OF(freed) != LINE_OF(data) &&
        LINE_OF(data) != LINE_OF(room) && LINE_OF(room) != LINE_OF(done) &&
        LINE_OF(plock) != LINE_OF(nput) && LINE_OF(clock) != LINE_OF(head),
    "each group sits on a line of its own");
_Static_assert(HDR <= REC_ALIGN && MIN_CAP >= 2 * REC_ALIGN &&
                   (REC_ALIGN & (REC_ALIGN - 1)) == 0,
               "a record header fits a line; the least ring holds a piece "
               "and an ABORT");

struct mproc_queue {
    uint32_t magic;
    struct shared *s;
    mproc__region map; /* the whole mapping: s, then the ring */
    mproc__ring ring;  /* hidden from memcheck but what this process
                          touched (kit/region.h) */
    uint64_t cap;
    mproc__biased_view pview, cview; /* this process's view of each lock */
    /* Last values seen of the shared counters (each only grows). */
    _Atomic uint64_t tail_seen, freed_seen, nget_seen;
};

#define LOAD(p) atomic_load_explicit(p, memory_order_acquire)
#define RELAXED(p) atomic_load_explicit(p, memory_order_relaxed)
#define STORE(p, v) atomic_store_explicit(p, v, memory_order_release)

/* The ring bytes a record of len payload bytes takes: whole cache lines,
 * so that a producer writing the next record never writes a line the
 * consumer is still reading. */
static inline uint64_t rec_size(uint64_t len)
{
    return (HDR + len + REC_ALIGN - 1) & ~(uint64_t)(REC_ALIGN - 1);
}

static inline uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static struct shared *shared_of(mproc_queue *q)
{
    MPROC__CHECK(q->magic == HANDLE_MAGIC, "mproc_queue used after destroy");
    return q->s;
}

/*
 * A call's time budget. The deadline is computed from the timeout only
 * when the call first has to wait (reading the clock costs more than a
 * whole uncontended put on some virtual machines), which moves the start
 * of the timeout by no more than the call's own non-waiting work.
 */
struct budget {
    double timeout;
    int64_t deadline;
    bool known;
};

static int budget_init(struct budget *b, double timeout)
{
    if (timeout != timeout) /* NaN */
        return MPROC_EINVAL;
    b->timeout = timeout;
    b->deadline = MPROC__NO_DEADLINE;
    b->known = timeout < 0;
    return 0;
}

static int64_t deadline_of(struct budget *b)
{
    if (!b->known) {
        mproc__deadline(b->timeout, &b->deadline);
        b->known = true;
    }
    return b->deadline;
}

/* Whether the budget is spent; reads the clock only for timeouts > 0. */
static bool spent(struct budget *b)
{
    if (b->timeout < 0)
        return false;
    return b->timeout == 0 || mproc__now() >= deadline_of(b);
}

static int expired(const struct budget *b)
{
    return mproc__expired(b->timeout);
}

/* ---- locks ---------------------------------------------------------- */

/*
 * Takes lock within the budget, but waits at least LOCK_GRACE_NS whatever
 * the call's timeout; the clock is read only when the first try fails
 * and the call has a timeout.
 * Returns 0, MPROC_EOWNERDEAD when it was taken over from a dead holder
 * (the caller repairs), or MPROC_ETIMEDOUT.
 */
static int lock_take(mproc__biased *lock, struct budget *b)
{
    if (mproc__lock_try(&lock->lock))
        return 0;
    int64_t deadline = deadline_of(b);
    if (deadline != MPROC__NO_DEADLINE) {
        int64_t grace = mproc__now() + LOCK_GRACE_NS;
        if (grace > deadline)
            deadline = grace;
    }
    return mproc__biased_acquire_until(lock, deadline);
}

/* ---- waiting and waking ---------------------------------------------- */

/* Publishes a change to the sleepers on ec (kit/eventcount.h). */
static inline void wake(mproc_queue *q, mproc__ec *ec)
{
    mproc__ec_wake(ec, q->s->asym);
}

/* A wait on one of the queue's eventcounts. */
static inline mproc__ec_wait wait_begin(mproc_queue *q)
{
    return mproc__ec_begin(q->s->asym);
}

/* A waiter's look at what it waits for: 0 when it is there, a negative
 * code to return at once (a shutdown), or WAIT_MORE. */
#define WAIT_MORE 1
typedef int (*look_fn)(mproc_queue *q, const void *arg);

/*
 * The sleeping half of a wait on ec, after its spin: announces itself,
 * looks, and sleeps until look finds what it waits for or a code to
 * return, or the budget is spent. Each sleep lasts at most
 * MPROC__SYNC_SLICE_NS. When one runs out, and once more before the wait
 * reports a timeout, settle repairs what a dead process of the other side
 * may have left (see Settling) and the wait looks again; after a slice it
 * sleeps on the same announcement.
 */
static int sleep_until(mproc_queue *q, mproc__ec *ec, look_fn look,
                       const void *arg, void (*settle)(mproc_queue *),
                       struct budget *b)
{
    mproc__ec_wait w = wait_begin(q);
    mproc__ec_prepare(ec, &w);
    for (;;) {
        int rc = look(q, arg);
        if (rc != WAIT_MORE)
            return rc;
        rc = spent(b) ? MPROC_ETIMEDOUT
                      : mproc__ec_sleep_sliced(ec, &w, deadline_of(b),
                                               MPROC__SYNC_SLICE_NS);
        if (rc == 0) {
            rc = look(q, arg); /* woken: look before announcing again */
            if (rc != WAIT_MORE)
                return rc;
            mproc__ec_prepare(ec, &w);
            continue;
        }
        settle(q);
        if (rc == MPROC_ETIMEDOUT) {
            rc = look(q, arg);
            return rc != WAIT_MORE ? rc : expired(b);
        }
    }
}

/* ---- the ring --------------------------------------------------------- */

static inline uint64_t *rec_at(mproc_queue *q, uint64_t pos)
{
    mproc__ring_mark(&q->ring, pos, HDR, true);
    return (uint64_t *)(void *)mproc__ring_at(&q->ring, pos);
}

static inline struct rec read_rec(mproc_queue *q, uint64_t pos)
{
    const uint64_t *h = rec_at(q, pos);
    struct rec r = {h[0], h[1] >> 8, (uint32_t)(h[1] & 0xff)};
    return r;
}

/* Whether a record starts at head: refreshes the cached tail if needed. */
static bool data_at(mproc_queue *q, uint64_t head)
{
    if (LOAD(&q->tail_seen) > head)
        return true;
    uint64_t t = LOAD(&q->s->tail);
    STORE(&q->tail_seen, t);
    return t > head;
}

/* The bytes free at tail, re-reading freed if the cached value shows less
 * than need (a stale copy only under-estimates: freed only grows). */
static uint64_t room_at(mproc_queue *q, uint64_t tail, uint64_t need)
{
    uint64_t f = LOAD(&q->freed_seen);
    if (f + q->cap < tail + need) {
        f = LOAD(&q->s->freed);
        STORE(&q->freed_seen, f);
    }
    return f + q->cap > tail ? f + q->cap - tail : 0;
}

static bool has_room(mproc_queue *q, uint64_t tail, uint64_t need)
{
    return room_at(q, tail, need) >= need;
}

/* Whether one more message may begin (fewer than maxsize queued). */
static bool has_item_room(mproc_queue *q, uint64_t nput)
{
    uint64_t max = q->s->maxsize;
    if (max == 0 || nput - LOAD(&q->nget_seen) < max)
        return true;
    uint64_t g = LOAD(&q->s->got);
    STORE(&q->nget_seen, g);
    return nput - g < max;
}

/* ---- the producers' side --------------------------------------------- */

/* Stores the journalled producer state (a commit, or its replay). */
static inline void p_apply(struct shared *s)
{
    STORE(&s->pflags, RELAXED(&s->pj_flags));
    STORE(&s->nput, RELAXED(&s->pj_nput)); /* before tail: nget <= nput */
    STORE(&s->tail, RELAXED(&s->pj_tail));
}

/* Commits a new tail (past the old), nput and pflags; pj_tail, stored
 * last, is the commit point. The producers' lock is held. */
static inline void p_commit(struct shared *s, uint64_t tail, uint64_t nput,
                            uint32_t flags)
{
    assert(mproc__biased_mine(&s->plock));
    STORE(&s->pj_nput, nput);
    STORE(&s->pj_flags, flags);
    STORE(&s->pj_tail, tail);
    p_apply(s);
}

/* The tail, as a producer holding the lock reads it: from the journal's
 * copy on the producers' line (equal to tail outside a commit). */
static uint64_t p_tail(const struct shared *s)
{
    return RELAXED(&s->pj_tail);
}

static inline void write_rec(mproc_queue *q, uint64_t pos, uint64_t total,
                             const void *data, uint64_t len, uint32_t flags)
{
    uint64_t *h = rec_at(q, pos);
    h[0] = total;
    h[1] = (uint64_t)len << 8 | flags;
    mproc__ring_write(&q->ring, pos + HDR, data, len);
}

/* Ends the stream in progress with an ABORT record (room is reserved). */
static void write_abort(mproc_queue *q)
{
    struct shared *s = q->s;
    uint64_t tail = p_tail(s);
    MPROC__CHECK(has_room(q, tail, rec_size(0)), "mproc_queue: ring corrupted");
    write_rec(q, tail, 0, NULL, 0, REC_ABORT);
    p_commit(s, tail + rec_size(0), RELAXED(&s->nput), 0);
    wake(q, &s->data);
}

/* Repairs what a dead producer left, after taking its lock over. */
static void p_repair(mproc_queue *q)
{
    struct shared *s = q->s;
    assert(mproc__biased_mine(&s->plock));
    MPROC__LOG(MPROC_LOG_INFO, "queue %p: producer died; repairing", (void *)s);
    if (p_tail(s) != RELAXED(&s->tail))
        p_apply(s);
    if (RELAXED(&s->pflags) & P_STREAMING)
        write_abort(q);
    wake(q, &s->data);
}

/*
 * For a consumer whose sleep ran out a slice or its budget: if a producers'
 * commit is under way or a stream open, and the producers' lock is held by
 * a dead process (plainly or kept), takes it over and repairs: the
 * committed message appears, the stream is withdrawn. Never waits, and
 * leaves a live holder alone.
 */
static void settle_producers(mproc_queue *q)
{
    struct shared *s = q->s;
    if (LOAD(&s->pj_tail) == LOAD(&s->tail) &&
        !(LOAD(&s->pflags) & P_STREAMING))
        return;
    if (mproc__biased_take_dead(&s->plock) != MPROC_EOWNERDEAD)
        return;
    p_repair(q);
    mproc__lock_release(&s->plock.lock);
}

/*
 * A hold of one side's lock: a critical section of the process that keeps
 * the lock biased to itself (entered and left with plain stores), or a
 * plain hold.
 */
struct hold {
    mproc__biased *lock;
    mproc__biased_view *view;
    bool biased;
};

/* Takes one side's lock plainly (revoking a bias, this process's own
 * included), repairing after a dead holder. */
static int side_take(mproc_queue *q, mproc__biased *lock,
                     void (*repair)(mproc_queue *), struct budget *b)
{
    int rc = lock_take(lock, b);
    if (rc == MPROC_EOWNERDEAD)
        repair(q);
    return rc == 0 || rc == MPROC_EOWNERDEAD ? 0 : expired(b);
}

/* Takes one side's lock: enters it as the bias owner when this process is
 * that and biased_ok (a few plain loads and stores), else side_take. */
static inline int side_lock(mproc_queue *q, struct hold *h,
                            void (*repair)(mproc_queue *), struct budget *b,
                            bool biased_ok)
{
    h->biased = biased_ok && mproc__biased_enter(h->lock, h->view);
    return h->biased ? 0 : side_take(q, h->lock, repair, b);
}

static void side_unlock(const struct hold *h)
{
    if (h->biased)
        mproc__biased_exit(h->lock, h->view);
    else
        mproc__biased_release(h->lock, h->view);
}

/* The producers' lock; a message streamed holds it plainly, so that a
 * consumer waiting in the stream can tell if its producer died. */
static int p_lock(mproc_queue *q, struct hold *h, struct budget *b,
                  bool biased_ok)
{
    *h = (struct hold){&q->s->plock, &q->pview, false};
    return side_lock(q, h, p_repair, b, biased_ok);
}

/* Unbounded: takes the pages up to end (and some ahead) before writing. */
static int take_pages(mproc_queue *q, uint64_t end)
{
    struct shared *s = q->s;
    uint64_t pop = RELAXED(&s->populated), pg = s->page;
    if (end <= pop)
        return 0;
    uint64_t from = p_tail(s) & ~(pg - 1);
    if (from < pop)
        from = pop;
    uint64_t limit = LOAD(&s->freed) + q->cap; /* page-aligned */
    uint64_t to = min_u64(((end + pg - 1) & ~(pg - 1)) + POPULATE_AHEAD, limit);
    int rc = mproc__ring_populate(&q->ring, from, to);
    if (rc == 0)
        STORE(&s->populated, to);
    return rc;
}

/*
 * Whether, as far as this process last saw, a message of need bytes may
 * begin at tail as message nput: no look at the consumers' lines. A
 * producer of a bounded queue that finds it may not waits in wait_room,
 * without the lock, which looks again.
 */
static bool seen_room(mproc_queue *q, uint64_t tail, uint64_t nput,
                      uint64_t need)
{
    uint64_t max = q->s->maxsize;
    return LOAD(&q->freed_seen) + q->cap >= tail + need &&
           (max == 0 || nput - LOAD(&q->nget_seen) < max);
}

/*
 * Whether need bytes are free and, if items, a message may begin, with
 * room for batch more such messages besides.
 */
static bool room_for(mproc_queue *q, uint64_t need, bool items, uint64_t batch)
{
    struct shared *s = q->s;
    uint64_t max = s->maxsize;
    if (batch > max / 8)
        batch = max / 8;
    if (batch * need > q->cap / 8)
        batch = q->cap / 8 / need;
    return has_room(q, LOAD(&s->tail), need * (1 + batch)) &&
           (!items || has_item_room(q, LOAD(&s->nput) + batch));
}

struct want_room {
    uint64_t need;
    bool items;
};

static int look_room(mproc_queue *q, const void *arg)
{
    const struct want_room *want = arg;
    if (RELAXED(&q->s->state) != Q_OPEN)
        return MPROC_ESHUTDOWN;
    return room_for(q, want->need, want->items, 0) ? 0 : WAIT_MORE;
}

static void settle_consumers(mproc_queue *q);

/*
 * Waits, without the producers' lock (or with it, streaming), until need
 * bytes are free and, if items, a message may begin. While it spins it
 * waits for room for a batch of such messages: taking each slot the moment
 * a consumer frees it would pull the consumers' lines across for every
 * message while both sides run flat out. It sleeps on the exact condition.
 */
static int wait_room(mproc_queue *q, uint64_t need, bool items,
                     struct budget *b)
{
    struct shared *s = q->s;
    mproc__spin sp = mproc__spin_start(SPIN, SPIN_STEP);
    for (;;) {
        if (RELAXED(&s->state) != Q_OPEN)
            return MPROC_ESHUTDOWN;
        if (b->timeout == 0)
            return room_for(q, need, items, 0) ? 0 : MPROC_EAGAIN;
        if (!mproc__spin_more(&sp))
            break;
        if (room_for(q, need, items, BATCH))
            return 0;
    }
    struct want_room want = {need, items};
    return sleep_until(q, &s->room, look_room, &want, settle_consumers, b);
}

/* Puts a message that fits the ring as one record. */
static int put_whole(mproc_queue *q, const void *data, size_t len,
                     struct budget *b)
{
    struct shared *s = q->s;
    uint64_t need = rec_size(len);
    for (;;) {
        struct hold h;
        int rc = p_lock(q, &h, b, true);
        if (rc)
            return rc;
        if (RELAXED(&s->state) != Q_OPEN) {
            side_unlock(&h);
            return MPROC_ESHUTDOWN;
        }
        uint64_t tail = p_tail(s), nput = RELAXED(&s->nput);
        if (s->unbounded ? has_room(q, tail, need)
                         : seen_room(q, tail, nput, need)) {
            if (s->unbounded && (rc = take_pages(q, tail + need)) != 0) {
                side_unlock(&h);
                return rc;
            }
            write_rec(q, tail, len, data, len, REC_FIRST | REC_LAST);
            p_commit(s, tail + need, nput + 1, 0);
            side_unlock(&h);
            wake(q, &s->data);
            return 0;
        }
        side_unlock(&h);
        if (s->unbounded)
            return MPROC_ENOMEM;
        rc = wait_room(q, need, true, b);
        if (rc)
            return rc;
    }
}

/*
 * Puts a message larger than the ring as a stream of records, holding the
 * producers' lock throughout. Each record leaves rec_size(0) bytes free for an
 * ABORT record; the first waits for an item slot.
 */
static int put_stream(mproc_queue *q, const unsigned char *data, size_t len,
                      struct budget *b)
{
    struct shared *s = q->s;
    struct hold h;
    int rc = p_lock(q, &h, b, false);
    if (rc)
        return rc;
    size_t off = 0;
    while (off < len) {
        if (RELAXED(&s->state) != Q_OPEN) {
            rc = MPROC_ESHUTDOWN;
            break;
        }
        uint64_t tail = p_tail(s), nput = RELAXED(&s->nput);
        uint64_t want = rec_size(min_u64(len - off, q->cap / 4)) + rec_size(0);
        uint64_t room = room_at(q, tail, want);
        if (room < want || (off == 0 && !has_item_room(q, nput))) {
            rc = wait_room(q, want, off == 0, b);
            if (rc)
                break;
            continue;
        }
        uint64_t n = min_u64(len - off, room - rec_size(0) - HDR);
        uint32_t flags =
            (off == 0 ? REC_FIRST : 0) | (off + n == len ? REC_LAST : 0);
        write_rec(q, tail, len, data + off, n, flags);
        p_commit(s, tail + rec_size(n), nput + (off == 0),
                 flags & REC_LAST ? 0 : P_STREAMING);
        wake(q, &s->data);
        off += n;
    }
    if (rc && off > 0)
        write_abort(q);
    side_unlock(&h);
    return rc;
}

int mproc_queue_put(mproc_queue *q, const void *data, size_t len,
                    double timeout)
{
    struct budget b;
    if (!q || (!data && len > 0) || budget_init(&b, timeout))
        return MPROC_EINVAL;
    struct shared *s = shared_of(q);
    if (RELAXED(&s->state) != Q_OPEN)
        return MPROC_ESHUTDOWN;
    if (len <= q->cap - HDR)
        return put_whole(q, data, len, &b);
    if (s->unbounded)
        return MPROC_ENOMEM;
    return put_stream(q, data, len, &b);
}

int mproc_queue_put_nowait(mproc_queue *q, const void *data, size_t len)
{
    return mproc_queue_put(q, data, len, 0);
}

/* ---- the consumers' side --------------------------------------------- */

/* As p_apply, for the consumers' journal; cj_head is its commit point. */
static inline void c_apply(struct shared *s)
{
    STORE(&s->nabort, RELAXED(&s->cj_nabort));
    STORE(&s->nget, RELAXED(&s->cj_nget));
    STORE(&s->head, RELAXED(&s->cj_head));
}

/* Gives the ring up to head back to the producers. */
static inline void release_room(mproc_queue *q, uint64_t head)
{
    struct shared *s = q->s;
    STORE(&s->got, RELAXED(&s->nget));
    if (!s->unbounded) {
        STORE(&s->freed, head);
    } else {
        uint64_t f = RELAXED(&s->freed), to = head & ~(s->page - 1);
        if (to > f && (to - f >= RECLAIM_MIN || head == LOAD(&s->tail))) {
            /* Past the pages producers took this lap there are none. */
            uint64_t taken = LOAD(&s->populated);
            mproc__ring_discard(&q->ring, f, taken < to ? taken : to, s->warm);
            STORE(&s->freed, to);
        }
    }
    wake(q, &s->room);
}

/*
 * Consumes the record r at head. delivered: a final record that completes
 * a message handed to the caller; any other final record (ABORT, or LAST
 * of a message discarded) counts the message as never delivered.
 */
static inline void consume(mproc_queue *q, const struct rec *r, bool delivered)
{
    struct shared *s = q->s;
    assert(mproc__biased_mine(&s->clock));
    uint64_t size = r->flags & REC_SKIP ? r->total : rec_size(r->len);
    uint64_t head = RELAXED(&s->head) + size;
    bool aborted = !delivered && (r->flags & (REC_LAST | REC_ABORT));
    STORE(&s->cj_nget, RELAXED(&s->nget) + (r->flags & REC_FIRST ? 1 : 0));
    STORE(&s->cj_nabort, RELAXED(&s->nabort) + (aborted ? 1 : 0));
    STORE(&s->cj_head, head);
    c_apply(s);
    release_room(q, head);
    if (aborted)
        wake(q, &s->done);
}

static void c_repair(mproc_queue *q)
{
    struct shared *s = q->s;
    assert(mproc__biased_mine(&s->clock));
    MPROC__LOG(MPROC_LOG_INFO, "queue %p: consumer died; repairing", (void *)s);
    if (RELAXED(&s->cj_head) != RELAXED(&s->head))
        c_apply(s);
    release_room(q, RELAXED(&s->head));
    wake(q, &s->done);
}

/*
 * For a producer or joiner whose sleep ran out a slice or its budget: if a
 * consumers' commit is under way or the room it freed not yet given back
 * (a bounded queue's freed trails head only then), and the consumers' lock
 * is held by a dead process (plainly or kept), takes it over and repairs.
 * Never waits, and leaves a live holder alone.
 */
static void settle_consumers(mproc_queue *q)
{
    struct shared *s = q->s;
    uint64_t settled = s->unbounded ? LOAD(&s->head) : LOAD(&s->freed);
    if (LOAD(&s->cj_head) == settled)
        return;
    if (mproc__biased_take_dead(&s->clock) != MPROC_EOWNERDEAD)
        return;
    c_repair(q);
    mproc__lock_release(&s->clock.lock);
}

static int c_lock(mproc_queue *q, struct hold *h, struct budget *b)
{
    *h = (struct hold){&q->s->clock, &q->cview, false};
    return side_lock(q, h, c_repair, b, true);
}

static int look_data(mproc_queue *q, const void *unused)
{
    (void)unused;
    if (data_at(q, LOAD(&q->s->head)))
        return 0;
    return RELAXED(&q->s->state) != Q_OPEN ? MPROC_ESHUTDOWN : WAIT_MORE;
}

/* Waits, without the consumers' lock, until a record seems to be there. */
static int wait_data(mproc_queue *q, struct budget *b)
{
    mproc__spin sp = mproc__spin_start(SPIN, SPIN_STEP);
    for (;;) {
        int rc = look_data(q, NULL);
        if (rc != WAIT_MORE)
            return rc;
        if (b->timeout == 0)
            return MPROC_EAGAIN;
        if (!mproc__spin_more(&sp))
            return sleep_until(q, &q->s->data, look_data, NULL,
                               settle_producers, b);
    }
}

static int look_record(mproc_queue *q, const void *head)
{
    return data_at(q, *(const uint64_t *)head) ? 0 : WAIT_MORE;
}

/*
 * In the middle of a stream, with the consumers' lock: waits for the next
 * record at head for as long as its producer lives; when the producer is
 * found dead (at the end of a slice), the repair ends the stream.
 */
static void wait_stream(mproc_queue *q, uint64_t head)
{
    mproc__spin sp = mproc__spin_start(SPIN, SPIN_STEP);
    while (mproc__spin_more(&sp))
        if (data_at(q, head))
            return;
    struct budget forever;
    budget_init(&forever, MPROC_FOREVER);
    sleep_until(q, &q->s->data, look_record, &head, settle_producers, &forever);
}

/*
 * Takes the rest of a stream whose FIRST record gave got of total bytes.
 * Returns 0 when complete, 1 when its producer withdrew it.
 */
static int take_rest(mproc_queue *q, unsigned char *dst, uint64_t total,
                     uint64_t got)
{
    struct shared *s = q->s;
    while (got < total) {
        uint64_t head = RELAXED(&s->head);
        if (!data_at(q, head)) {
            wait_stream(q, head);
            continue;
        }
        struct rec r = read_rec(q, head);
        if (r.flags & REC_ABORT) {
            consume(q, &r, false);
            return 1;
        }
        MPROC__CHECK(!(r.flags & REC_FIRST) && r.len <= total - got,
                     "mproc_queue: ring corrupted");
        mproc__ring_read(&q->ring, head + HDR, dst + got, r.len);
        got += r.len;
        consume(q, &r, true);
    }
    return 0;
}

/*
 * With the consumers' lock: takes the message at the head into buf (cap
 * bytes) or, when out is not NULL, a new buffer. Returns 0, MPROC_EMSGSIZE,
 * MPROC_ENOMEM, or 1 when no message is there.
 */
static int take_message(mproc_queue *q, void *buf, size_t cap, void **out,
                        size_t *len)
{
    struct shared *s = q->s;
    for (;;) {
        uint64_t head = RELAXED(&s->head);
        if (!data_at(q, head))
            return 1;
        struct rec r = read_rec(q, head);
        if (!(r.flags & REC_FIRST)) { /* rest of a dead consumer's stream */
            consume(q, &r, false);
            continue;
        }
        if (!out && r.total > cap) {
            *len = (size_t)r.total;
            return MPROC_EMSGSIZE;
        }
        unsigned char *dst = buf;
        if (out && !(dst = malloc(r.total ? (size_t)r.total : 1)))
            return MPROC_ENOMEM;
        mproc__ring_read(&q->ring, head + HDR, dst, r.len);
        consume(q, &r, true);
        if (!(r.flags & REC_LAST) && take_rest(q, dst, r.total, r.len)) {
            if (out)
                free(dst);
            continue;
        }
        if (out)
            *out = dst;
        *len = (size_t)r.total;
        return 0;
    }
}

/*
 * Unbounded, with the consumers' lock, when the queue has just run empty
 * past JUMP_MIN: ends the lap with a SKIP record and consumes it, so that
 * the next messages land on the warm pages at the ring's start instead of
 * fresh ones (taking, zeroing and giving back pages costs more than the
 * copy). Takes the producers' lock only if it is free, or biased to a
 * producer outside its put: never waits for one. A crash leaves either no
 * SKIP or a committed one, consumed as any record.
 */
static void jump_to_start(mproc_queue *q)
{
    struct shared *s = q->s;
    uint64_t head = RELAXED(&s->head);
    if ((head & q->ring.mask) < JUMP_MIN || LOAD(&s->tail) != head)
        return;
    int rc = mproc__biased_try(&s->plock);
    if (rc == MPROC_EOWNERDEAD)
        p_repair(q);
    else if (rc != 0)
        return;
    uint64_t tail = p_tail(s), skip = q->cap - (tail & q->ring.mask);
    bool jumped = tail == head && has_room(q, tail, skip) &&
                  take_pages(q, tail + HDR) == 0;
    if (jumped) {
        write_rec(q, tail, skip, NULL, 0, REC_SKIP);
        p_commit(s, tail + skip, RELAXED(&s->nput), RELAXED(&s->pflags));
        /* Consumed before producers may write the new lap: until then
         * freed still lags in the old one, and an unbounded put that
         * found no room would fail with MPROC_ENOMEM. */
        struct rec r = read_rec(q, head);
        consume(q, &r, false);
    }
    mproc__lock_release(&s->plock.lock);
}

static int get(mproc_queue *q, void *buf, size_t cap, void **out, size_t *len,
               double timeout)
{
    struct budget b;
    if (budget_init(&b, timeout))
        return MPROC_EINVAL;
    struct shared *s = shared_of(q);
    for (;;) {
        struct hold h;
        int rc = wait_data(q, &b);
        if (rc == 0)
            rc = c_lock(q, &h, &b);
        if (rc)
            return rc;
        rc = take_message(q, buf, cap, out, len);
        if (rc == 0 && s->unbounded)
            jump_to_start(q);
        side_unlock(&h);
        if (rc <= 0)
            return rc;
    }
}

int mproc_queue_get(mproc_queue *q, void *buf, size_t cap, size_t *len,
                    double timeout)
{
    if (!q || !len || (!buf && cap > 0))
        return MPROC_EINVAL;
    return get(q, buf, cap, NULL, len, timeout);
}

int mproc_queue_get_nowait(mproc_queue *q, void *buf, size_t cap, size_t *len)
{
    return mproc_queue_get(q, buf, cap, len, 0);
}

int mproc_queue_get_alloc(mproc_queue *q, void **data, size_t *len,
                          double timeout)
{
    if (!q || !data || !len)
        return MPROC_EINVAL;
    void *p;
    size_t n;
    int rc = get(q, NULL, 0, &p, &n, timeout);
    if (rc == 0) {
        *data = p;
        *len = n;
    }
    return rc;
}

/* ---- queries, shutdown, joinable ------------------------------------- */

size_t mproc_queue_qsize(mproc_queue *q)
{
    if (!q)
        return 0;
    struct shared *s = shared_of(q);
    uint64_t got = LOAD(&s->nget); /* first: then nput >= it */
    return (size_t)(LOAD(&s->nput) - got);
}

bool mproc_queue_empty(mproc_queue *q)
{
    return mproc_queue_qsize(q) == 0;
}

bool mproc_queue_full(mproc_queue *q)
{
    if (!q)
        return false;
    struct shared *s = shared_of(q);
    if (s->unbounded)
        return false;
    return mproc_queue_qsize(q) >= s->maxsize ||
           LOAD(&s->freed) + q->cap < LOAD(&s->tail) + rec_size(0);
}

int mproc_queue_shutdown(mproc_queue *q, bool immediate)
{
    if (!q)
        return MPROC_EINVAL;
    struct shared *s = shared_of(q);
    uint32_t want = immediate ? Q_SHUTDOWN_NOW : Q_SHUTDOWN;
    uint32_t st = atomic_load(&s->state);
    while (st < want && !atomic_compare_exchange_weak(&s->state, &st, want))
        ;
    if (immediate) {
        struct budget forever;
        struct hold h;
        budget_init(&forever, MPROC_FOREVER);
        c_lock(q, &h, &forever);
        uint64_t head;
        while (data_at(q, head = RELAXED(&s->head))) {
            struct rec r = read_rec(q, head);
            consume(q, &r, false);
        }
        side_unlock(&h);
    }
    mproc__ec_wake_all(&s->data);
    mproc__ec_wake_all(&s->room);
    mproc__ec_wake_all(&s->done);
    return 0;
}

int mproc_queue_task_done(mproc_queue *q)
{
    if (!q)
        return MPROC_EINVAL;
    struct shared *s = shared_of(q);
    if (!s->joinable)
        return MPROC_EINVAL;
    uint64_t done = atomic_load(&s->ndone);
    do {
        if (done + LOAD(&s->nabort) >= LOAD(&s->nput))
            return MPROC_EINVAL;
    } while (!atomic_compare_exchange_weak(&s->ndone, &done, done + 1));
    wake(q, &s->done);
    return 0;
}

static bool all_done(struct shared *s)
{
    uint64_t put = LOAD(&s->nput);
    return atomic_load(&s->ndone) + LOAD(&s->nabort) >= put;
}

static int look_done(mproc_queue *q, const void *unused)
{
    (void)unused;
    return all_done(q->s) ? 0 : WAIT_MORE;
}

int mproc_queue_join(mproc_queue *q, double timeout)
{
    struct budget b;
    if (!q || budget_init(&b, timeout))
        return MPROC_EINVAL;
    struct shared *s = shared_of(q);
    if (!s->joinable)
        return MPROC_EINVAL;
    if (all_done(s))
        return 0;
    return sleep_until(q, &s->done, look_done, NULL, settle_consumers, &b);
}

/* ---- lifetime --------------------------------------------------------- */

static uint64_t pow2_at_least(uint64_t n)
{
    uint64_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

/* The default ring of an unbounded queue: RAM, as a power of two. */
static uint64_t default_unbounded_cap(void)
{
    uint64_t ram = pow2_at_least(mproc__phys_mem());
    if (ram < MIN_UNBOUNDED_CAP)
        ram = MIN_UNBOUNDED_CAP;
    return ram > MAX_CAP ? MAX_CAP : ram;
}

/*
 * Sets up the process-local half of a handle whose mapping holds a queue
 * (made here, or opened from a reference): as a process that has not yet
 * used the queue, with no bias, no busy slot and nothing seen yet of the
 * shared counters (0 is an under-estimate of each).
 */
static mproc_queue *attach(mproc_queue *q)
{
    struct shared *s = (struct shared *)(void *)q->map.base;
    uint64_t cap = s->cap;
    q->s = s;
    q->ring = mproc__ring_in(&q->map, q->map.base + s->ring_off, cap);
    q->pview.enabled = q->cview.enabled = s->asym;
    /* An unbounded ring is RAM-sized and sparse: kept out of core dumps. */
    if (s->unbounded)
        mproc__region_seal(&q->map, q->ring.base, (size_t)cap);
    else
        mproc__region_hide(&q->map, q->ring.base, (size_t)cap);
    q->cap = cap;
    q->magic = HANDLE_MAGIC;
    return q;
}

int mproc_queue_create(mproc_queue **out, const mproc_queue_opts *opts)
{
    mproc_queue_opts o = {0};
    if (opts)
        o = *opts;
    if (!out || o.capacity > MAX_CAP)
        return MPROC_EINVAL;
    bool unbounded = o.maxsize == 0;
    uint64_t page = (uint64_t)mproc__page_size();
    uint64_t cap = o.capacity;
    if (cap == 0)
        cap = unbounded ? default_unbounded_cap() : DEFAULT_BOUNDED_CAP;
    cap = pow2_at_least(cap < MIN_CAP ? MIN_CAP : cap);
    if (unbounded && cap < page)
        cap = page;
    uint64_t ring_off = (sizeof(struct shared) + page - 1) & ~(page - 1);

    mproc_queue *q = calloc(1, sizeof *q);
    if (!q)
        return MPROC_ENOMEM;
    int rc = mproc__region_map(&q->map, "mproc-queue", (size_t)(ring_off + cap),
                               unbounded ? MPROC__MAP_SPARSE : 0);
    if (rc) {
        free(q);
        return rc;
    }
    struct shared *s = (struct shared *)(void *)q->map.base; /* zero-filled */
    s->version = QUEUE_VERSION;
    s->cap = cap;
    s->maxsize = o.maxsize;
    s->ring_off = ring_off;
    s->page = page;
    s->warm = unbounded ? min_u64(cap / 4, WARM_MAX) : 0;
    s->joinable = o.joinable;
    s->unbounded = unbounded;
    s->asym = !MPROC__ON_VALGRIND() && mproc__membarrier_register() == 0;
    s->magic = QUEUE_MAGIC;
    *out = attach(q);
    return 0;
}

/*
 * Whether the mapping of r holds a queue's control block and ring as
 * create lays them out: what a reference opened from another process must
 * show before this process trusts its offsets.
 */
static bool layout_sound(const mproc__region *r)
{
    const struct shared *s = (const struct shared *)(const void *)r->base;
    uint64_t page = s->page, cap = s->cap;
    return page >= sizeof(struct shared) && (page & (page - 1)) == 0 &&
           s->ring_off == page && cap >= MIN_CAP && cap <= MAX_CAP &&
           (cap & (cap - 1)) == 0 && (uint64_t)r->len == s->ring_off + cap;
}

int mproc_queue_open(mproc_queue **out, mproc_ref ref)
{
    if (!out)
        return MPROC_EINVAL;
    static const mproc__region_layout layout = {
        MPROC__REF_QUEUE, QUEUE_MAGIC, QUEUE_VERSION, sizeof(struct shared),
        layout_sound};
    mproc_queue *q = calloc(1, sizeof *q);
    if (!q)
        return MPROC_ENOMEM;
    int rc = mproc__region_open(&q->map, ref, &layout);
    /* An asym queue's wakers leave their fence to the sleepers'
     * membarrier, which reaches registered processes only; a process that
     * did not inherit the creator's registration (spawn) registers now. */
    const struct shared *s = (const struct shared *)(const void *)q->map.base;
    if (rc == 0 && s->asym)
        rc = mproc__membarrier_register();
    if (rc) {
        mproc__region_unmap(&q->map);
        free(q);
        return rc;
    }
    *out = attach(q);
    return 0;
}

int mproc_queue_ref(mproc_queue *q, mproc_ref *out)
{
    shared_of(q); /* validates q */
    if (!out)
        return MPROC_EINVAL;
    return mproc__region_ref(&q->map, MPROC__REF_QUEUE, out);
}

void mproc_queue_destroy(mproc_queue *q)
{
    if (!q)
        return;
    shared_of(q);
    q->magic = 0;
    mproc__region_unmap(&q->map);
    free(q);
}
