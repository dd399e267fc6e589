/*
 * connection/conn.c - Pipe, the Connection's framing, and wait.
 *
 * Design. A connection is one stream socket and a little receive state.
 * The wire format is CPython's (Lib/multiprocessing/connection.py,
 * Connection._send_bytes/_recv_bytes): each message is a 4-byte big-endian
 * signed length and the payload; a payload longer than 0x7fffffff bytes is
 * announced by the length -1 and an 8-byte big-endian unsigned length. A
 * sender writes header and payload in one sendmsg (CPython concatenates
 * small messages for the same reason: no Nagle delay between two writes).
 *
 * Reads are exact: a receiver reads the header, then exactly the payload,
 * never a byte of the next message. So the fd is readable exactly when a
 * message (or EOF) is waiting, and mproc_wait and poll(2) on fileno tell
 * the truth without knowing about the connection. The price is two recv
 * calls per message instead of one; a read-ahead buffer would save one
 * but would hide buffered messages from anyone polling the fd.
 *
 * Spinning: a receive that finds no message waiting first tries again
 * without blocking for up to SPIN_NS (25 us) before it sleeps in recv,
 * when the machine has more than one CPU. Waking a sleeping receiver costs
 * about as much (a round trip of two sleeping processes over a socketpair
 * is some 25 us on a virtual machine), so a reply that comes quickly is
 * taken at once; one that does not costs at most SPIN_NS of CPU. After
 * SPIN_MISSES spins in a row that found nothing, a connection spins only
 * on every SPIN_PROBE-th receive until a spin finds data again, so an
 * idle or slow peer costs next to nothing. Receives with a deadline
 * (the handshakes) do not spin.
 *
 * Receive state: a header that was read but whose payload did not fit the
 * caller's buffer stays "pending" (MPROC_EMSGSIZE keeps the message); poll
 * answers 1 while one is pending. A header over the limit, a negative
 * length, or a stream that ends inside a frame cannot be skipped safely,
 * so the connection fails: the socket is shut down both ways (the peer
 * sees EOF) and every later call returns MPROC_EBADF. The fd itself stays
 * open until mproc_conn_close, so its number cannot be recycled under a
 * caller that still polls it.
 *
 * SIGPIPE: both ends of every pipe are sockets, a simplex pipe being a
 * socketpair shut down in the unused direction, and every send passes
 * MSG_NOSIGNAL. A write to a closed peer fails with EPIPE (MPROC_EOF)
 * without a signal, with no signal mask or disposition changed.
 *
 * Memory: recv_bytes_alloc grows its buffer with what has actually
 * arrived (from at most 1 MiB, doubling), so a peer that announces a
 * large message and sends nothing costs little, and nothing ever exceeds
 * the limit.
 *
 * Crash behaviour: nothing is shared but the socket; a peer's death is
 * EOF (or EPROTO mid-frame) here.
 *
 * References: a connection's reference names its socket (kit/handoff.h),
 * with the directions it may be used in as its kind, so that a simplex
 * end opened elsewhere refuses the other direction as the original does.
 * Open wraps a duplicate of the socket in a new connection with its own
 * receive state and the default limit.
 */
#include "conn.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define FIRST_CHUNK ((size_t)1 << 20)
#define SMALL_FRAME 512 /* frames up to this size are copied and sent whole */
#define SPIN_NS 25000   /* how long a receive spins before it blocks */
#define SPIN_MISSES 4   /* spins in a row that found nothing ... */
#define SPIN_PROBE 16   /* ... after which only every 16th receive spins */

int mproc__conn_new(int fd, bool can_read, bool can_write, mproc_conn **out)
{
    mproc_conn *c = calloc(1, sizeof *c);
    if (!c) {
        mproc__close(fd);
        return MPROC_ENOMEM;
    }
    c->magic = CONN_MAGIC;
    c->fd = fd;
    c->can_read = can_read;
    c->can_write = can_write;
    c->limit = MPROC_CONN_DEFAULT_LIMIT;
    *out = c;
    return 0;
}

int mproc__conn_fail(mproc_conn *c, int err)
{
    if (!c->broken) {
        mproc__shutdown(c->fd, SHUT_RDWR);
        c->broken = true;
        c->pending = false;
    }
    return err;
}

static void check(const mproc_conn *c)
{
    MPROC__CHECK(c && c->magic == CONN_MAGIC, "mproc_conn used after close");
}

int mproc_pipe(mproc_conn **a, mproc_conn **b, bool duplex)
{
    int sv[2];
    int rc = mproc__socketpair(sv);
    if (rc < 0)
        return rc;
    if (!duplex) {
        mproc__shutdown(sv[0], SHUT_WR);
        mproc__shutdown(sv[1], SHUT_RD);
    }
    mproc_conn *x, *y;
    rc = mproc__conn_new(sv[0], true, duplex, &x);
    if (rc < 0) {
        mproc__close(sv[1]);
        return rc;
    }
    rc = mproc__conn_new(sv[1], duplex, true, &y);
    if (rc < 0) {
        mproc_conn_close(x);
        return rc;
    }
    *a = x;
    *b = y;
    return 0;
}

int mproc_conn_send_bytes(mproc_conn *c, const void *buf, size_t len)
{
    check(c);
    if (!c->can_write || c->broken)
        return MPROC_EBADF;
    unsigned char hdr[12];
    size_t hlen;
    if (len > 0x7fffffff) {
        uint32_t minus1 = htobe32(UINT32_MAX);
        uint64_t big = htobe64((uint64_t)len);
        memcpy(hdr, &minus1, 4);
        memcpy(hdr + 4, &big, 8);
        hlen = 12;
    } else {
        uint32_t n = htobe32((uint32_t)len);
        memcpy(hdr, &n, 4);
        hlen = 4;
    }
    struct iovec iov[2] = {{hdr, hlen}, {(void *)buf, len}};
    int iovcnt = len ? 2 : 1;
    unsigned char small[SMALL_FRAME];
    if (len > 0 && len <= sizeof small - 4) { /* one plain send */
        memcpy(small, hdr, 4);
        memcpy(small + 4, buf, len);
        iov[0] = (struct iovec){small, 4 + len};
        iovcnt = 1;
    }
    size_t sent = 0;
    int rc = mproc__send_all(c->fd, iov, iovcnt, &sent);
    if (rc == 0)
        return 0;
    if (rc == -EPIPE || rc == -ECONNRESET)
        rc = MPROC_EOF;
    if (sent > 0)
        return mproc__conn_fail(c, rc); /* the stream is out of step */
    return rc;
}

/* Maps the end of a read: EOF/reset before any byte of a frame is the
 * peer's clean close; anywhere else the frame was truncated. */
static int read_failed(mproc_conn *c, int rc, bool at_boundary)
{
    if ((rc == 1 || rc == -ECONNRESET) && at_boundary)
        return MPROC_EOF; /* the stream is in step: later calls see EOF */
    if (rc == 1 || rc == -ECONNRESET)
        return mproc__conn_fail(c, MPROC_EPROTO);
    return mproc__conn_fail(c, rc);
}

/* Whether this process may run on more than one CPU at once (asked once:
 * mproc_cpu_count is a system call). */
static bool many_cpus(void)
{
    static _Atomic int n; /* 0: not asked yet */
    int v = atomic_load_explicit(&n, memory_order_relaxed);
    if (v == 0) {
        v = mproc__cpu_count();
        atomic_store_explicit(&n, v, memory_order_relaxed);
    }
    return v > 1;
}

/*
 * Before a receive blocks: spins for the first bytes of the header into b
 * (see the essay above), unless the last SPIN_MISSES spins of c found
 * nothing, when it spins only every SPIN_PROBE-th time. Returns the bytes
 * read, 0 to 4.
 */
static size_t spin_header(mproc_conn *c, unsigned char *b)
{
    if (!many_cpus() ||
        (c->spin_misses >= SPIN_MISSES && ++c->spin_skipped % SPIN_PROBE))
        return 0;
    size_t got = mproc__recv_spin(c->fd, b, 4, SPIN_NS);
    c->spin_misses = got ? 0 : c->spin_misses + 1;
    return got;
}

/* Reads one frame header into c->pending_len, bounded by limit. */
static int read_header(mproc_conn *c, size_t limit, int64_t deadline)
{
    if (c->pending)
        return 0;
    unsigned char b[8];
    size_t got = deadline == MPROC__NO_DEADLINE ? spin_header(c, b) : 0;
    size_t more = 0;
    int rc = got == 4
                 ? 0
                 : mproc__recv_exact(c->fd, b + got, 4 - got, &more, deadline);
    if (rc != 0)
        return read_failed(c, rc, got + more == 0);
    uint32_t raw;
    memcpy(&raw, b, 4);
    int32_t n = (int32_t)be32toh(raw);
    uint64_t len;
    if (n == -1) {
        rc = mproc__recv_exact(c->fd, b, 8, NULL, deadline);
        if (rc != 0)
            return read_failed(c, rc, false);
        uint64_t big;
        memcpy(&big, b, 8);
        len = be64toh(big);
    } else if (n < 0) {
        return mproc__conn_fail(c, MPROC_EPROTO);
    } else {
        len = (uint64_t)n;
    }
    if (len > limit)
        return mproc__conn_fail(c, MPROC_EPROTO);
    c->pending = true;
    c->pending_len = len;
    return 0;
}

static int start_recv(mproc_conn *c)
{
    check(c);
    if (!c->can_read || c->broken)
        return MPROC_EBADF;
    return read_header(c, c->limit, MPROC__NO_DEADLINE);
}

int mproc_conn_recv_bytes(mproc_conn *c, void *buf, size_t cap, size_t *len)
{
    int rc = start_recv(c);
    if (rc < 0)
        return rc;
    size_t n = (size_t)c->pending_len;
    *len = n;
    if (n > cap)
        return MPROC_EMSGSIZE;
    rc = mproc__recv_exact(c->fd, buf, n, NULL, MPROC__NO_DEADLINE);
    if (rc != 0)
        return read_failed(c, rc, false);
    c->pending = false;
    return 0;
}

int mproc_conn_recv_bytes_alloc(mproc_conn *c, void **buf, size_t *len)
{
    int rc = start_recv(c);
    if (rc < 0)
        return rc;
    size_t n = (size_t)c->pending_len;
    size_t size = n < FIRST_CHUNK ? n : FIRST_CHUNK;
    unsigned char *p = malloc(size ? size : 1);
    if (!p)
        return mproc__conn_fail(c, MPROC_ENOMEM);
    size_t have = 0;
    while (have < n) {
        if (have == size) {
            size = size > n / 2 ? n : size * 2;
            unsigned char *q = realloc(p, size);
            if (!q) {
                free(p);
                return mproc__conn_fail(c, MPROC_ENOMEM);
            }
            p = q;
        }
        rc = mproc__recv_exact(c->fd, p + have, size - have, NULL,
                               MPROC__NO_DEADLINE);
        if (rc != 0) {
            free(p);
            return read_failed(c, rc, false);
        }
        have = size;
    }
    c->pending = false;
    *buf = p;
    *len = n;
    return 0;
}

int mproc__conn_recv_small(mproc_conn *c, void *buf, size_t cap, size_t *len,
                           int64_t deadline)
{
    if (c->broken)
        return MPROC_EBADF;
    int rc = read_header(c, cap, deadline);
    if (rc < 0)
        return rc;
    size_t n = (size_t)c->pending_len;
    rc = mproc__recv_exact(c->fd, buf, n, NULL, deadline);
    if (rc != 0)
        return read_failed(c, rc, false);
    c->pending = false;
    *len = n;
    return 0;
}

int mproc_conn_poll(mproc_conn *c, double timeout)
{
    check(c);
    if (!c->can_read || c->broken)
        return MPROC_EBADF;
    int64_t deadline;
    int rc = mproc__deadline(timeout, &deadline);
    if (rc < 0)
        return rc;
    if (c->pending)
        return 1;
    return mproc__poll_in(c->fd, deadline);
}

int mproc_conn_fileno(const mproc_conn *c)
{
    check(c);
    return c->broken ? MPROC_EBADF : c->fd;
}

int mproc_conn_set_limit(mproc_conn *c, size_t max_len)
{
    check(c);
    if (c->broken)
        return MPROC_EBADF;
    c->limit = max_len;
    return 0;
}

void mproc_conn_close(mproc_conn *c)
{
    if (!c)
        return;
    check(c);
    c->magic = 0;
    mproc__handoff_drop(c->fd);
    mproc__close(c->fd);
    free(c);
}

/* The kind of reference a connection's ends are handed on as. */
static uint32_t ref_kind(bool can_read, bool can_write)
{
    return !can_write  ? MPROC__REF_CONN_RECV
           : !can_read ? MPROC__REF_CONN_SEND
                       : MPROC__REF_CONN;
}

int mproc_conn_ref(mproc_conn *c, mproc_ref *out)
{
    check(c);
    if (!out)
        return MPROC_EINVAL;
    if (c->broken)
        return MPROC_EBADF;
    return mproc__handoff_take(c->fd, ref_kind(c->can_read, c->can_write), out);
}

int mproc_conn_open(mproc_conn **out, mproc_ref ref)
{
    if (!out)
        return MPROC_EINVAL;
    bool can_read = true, can_write = true;
    if (ref.w[1] == MPROC__REF_CONN_RECV)
        can_write = false;
    else if (ref.w[1] == MPROC__REF_CONN_SEND)
        can_read = false;
    int given;
    int rc = mproc__handoff_find(ref, ref_kind(can_read, can_write), &given);
    if (rc < 0)
        return rc;
    int fd = mproc__dup(given);
    if (fd < 0)
        return fd;
    return mproc__conn_new(fd, can_read, can_write, out);
}

int mproc_wait(const int *fds, size_t n, double timeout, int *ready)
{
    if (n > 0 && (!fds || !ready))
        return MPROC_EINVAL;
    int64_t deadline;
    int rc = mproc__deadline(timeout, &deadline);
    if (rc < 0)
        return rc;
    return mproc__poll_fds(fds, n, deadline, ready);
}
