/*
 * connection/conn.h - what the connection area's files share; private.
 */
#ifndef MPROC_CONNECTION_CONN_H
#define MPROC_CONNECTION_CONN_H

#include "../kit/check.h"
#include "../kit/handoff.h"
#include "../sys/sys.h"
#include "mproc/connection.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define CONN_MAGIC 0x434f4e4eu /* "CONN" */

/* The largest handshake frame CPython reads: recv_bytes(256). */
#define CONN_HANDSHAKE_MAX 256

struct mproc_conn {
    uint32_t magic;
    int fd;
    bool can_read, can_write;
    /* An error closed it: fd shut down, kept until close. Atomic because
     * a sending and a receiving thread may both read and set it; it
     * orders nothing else (seq_cst, for simplicity: it is off the fast
     * path's critical work, one load per call). */
    _Atomic bool broken;
    bool pending; /* a header was read and its payload was not */
    uint64_t pending_len;
    size_t limit;
    /* Receive spinning (conn.c): failed spins in a row, and receives that
     * did not spin since. Used by the receiving thread only. */
    unsigned spin_misses, spin_skipped;
};

/* mproc__conn_new - wrap a connected stream socket (taken over, closed on
 * failure). Returns 0 or MPROC_ENOMEM. */
int mproc__conn_new(int fd, bool can_read, bool can_write, mproc_conn **out);

/* mproc__conn_fail - close c after a protocol or transport error: shut the
 * socket down both ways (the peer sees EOF), later calls get MPROC_EBADF.
 * Returns err, for "return mproc__conn_fail(c, err)". */
int mproc__conn_fail(mproc_conn *c, int err);

/*
 * mproc__conn_recv_small - receive one handshake frame of at most cap
 * bytes by the deadline. Returns 0; MPROC_EPROTO for a longer, negative or
 * truncated frame; MPROC_EOF; MPROC_ETIMEDOUT; another negative errno.
 * Any failure closes c (mproc__conn_fail).
 */
int mproc__conn_recv_small(mproc_conn *c, void *buf, size_t cap, size_t *len,
                           int64_t deadline);

/*
 * The handshakes of CPython's multiprocessing.connection. digest is one of
 * "md5", "sha256", "sha384", "sha3_256", "sha3_384" or "legacy" (checked
 * by mproc__digest_known). Each returns 0, MPROC_EAUTH (what CPython
 * raises AuthenticationError for), or a code of mproc__conn_recv_small /
 * send; on failure c is closed (mproc__conn_fail).
 */
int mproc__auth_server(mproc_conn *c, const void *key, size_t keylen,
                       const char *digest, int64_t deadline);
int mproc__auth_client(mproc_conn *c, const void *key, size_t keylen,
                       const char *digest, int64_t deadline);

/* mproc__digest_known - the library's own copy of a digest option's name,
 * or NULL when the name is not one the handshake may ask for. */
const char *mproc__digest_known(const char *name);

#endif /* MPROC_CONNECTION_CONN_H */
