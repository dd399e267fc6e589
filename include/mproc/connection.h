/*
 * mproc/connection.h - Pipe, Connection, wait, Listener and Client:
 * Python's multiprocessing.connection in C, wire-compatible with CPython.
 *
 * A connection carries byte messages. On the wire each message is CPython's
 * frame: a 4-byte big-endian signed length and the payload; a message longer
 * than 0x7fffffff bytes is sent as the length -1 followed by an 8-byte
 * big-endian unsigned length. A Listener and a Client authenticate each
 * other with CPython's HMAC challenge/response handshake, both its 3.12+
 * negotiated-digest form and the HMAC-MD5 form of 3.11 and older, so a C
 * program and a Python program may sit at either end.
 *
 * Addresses are nng-style URLs:
 *   ipc:///path/to.sock   a Unix socket at that path (Python: the path)
 *   abstract://name       a Linux abstract Unix socket (Python: "\0name");
 *                         "abstract://" alone binds a name the kernel picks
 *   tcp://host:port       IPv4 or a host name; tcp://[::1]:port for IPv6;
 *                         port 0 binds a port the kernel picks
 *
 * Security model: the handshake proves that both ends know the key; it does
 * not encrypt, and it does not protect messages after it. Bind where you are
 * told (loopback or a private path), not to a public interface.
 *
 * Safety facts of mproc_conn:
 * - Threads: not thread-safe for two senders or two receivers at once; one
 *   thread sending while one other thread receives is safe.
 * - Processes: a connection is a socket; after fork both processes hold it,
 *   as with Python's Pipe; use each end from one process. A child started
 *   under any method may open an end's reference (mproc_conn_ref,
 *   mproc_conn_open).
 * - Fork: valid in a forked child (the fds are inherited; close-on-exec).
 * - Crash: if the peer dies, receive returns MPROC_EOF at a message boundary
 *   or MPROC_EPROTO mid-message, send returns MPROC_EOF; never SIGPIPE. A
 *   dead peer is EOF only once every copy of its end is closed, this
 *   process's own included: after starting a child that took one end of a
 *   pipe, close your copy of that end (docs/api/connection.md).
 *
 * Safety facts of mproc_listener: not thread-safe (one accepting thread);
 * meaningful in the process that created it (a forked child may close its
 * copy, which closes only the child's fd and does not unlink an ipc path).
 */
#ifndef MPROC_CONNECTION_H
#define MPROC_CONNECTION_H

#include "errors.h"
#include "ref.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mproc_conn mproc_conn;
typedef struct mproc_listener mproc_listener;

/* The receive limit a new connection starts with: 1 GiB. */
#define MPROC_CONN_DEFAULT_LIMIT ((size_t)1 << 30)

/* The handshake bound of a listener or client made without options. */
#define MPROC_CONN_HANDSHAKE_TIMEOUT 10.0

/*
 * mproc_pipe - Python's Pipe(duplex): two connected connections.
 *
 * a, b:   receive the two ends. With duplex both ends send and receive;
 *         without, a only receives and b only sends (Python's order).
 * duplex: as Python's argument.
 *
 * Both ends are Unix stream sockets (a simplex pipe is a socketpair shut
 * down in the unused direction, so that every write can use MSG_NOSIGNAL).
 * Returns 0, -EMFILE/-ENFILE, or MPROC_ENOMEM; *a and *b are untouched on
 * failure and nothing is left open.
 */
MPROC_API int mproc_pipe(mproc_conn **a, mproc_conn **b, bool duplex);

/*
 * mproc_conn_send_bytes - send one message of len bytes (len may be 0).
 *
 * Blocks until the whole frame is in the kernel (a peer that never reads
 * blocks the sender, as in Python). Returns 0; MPROC_EBADF on the read end
 * of a simplex pipe or a connection closed by an earlier error; MPROC_EOF
 * when the peer has closed (no SIGPIPE is raised); another negative errno.
 * A failure after part of a frame went out closes the connection.
 */
MPROC_API int mproc_conn_send_bytes(mproc_conn *c, const void *buf, size_t len);

/*
 * mproc_conn_recv_bytes - receive one message into buf (Python's
 * recv_bytes_into), blocking until it arrives. With more than one CPU, a
 * receive that finds nothing waiting first spins for up to 25 us, unless
 * this connection's last spins found nothing (docs/api/connection.md).
 *
 * cap:  the size of buf. *len receives the message's length.
 * Returns 0; MPROC_EMSGSIZE when the message is longer than cap: *len says
 * its length and the message stays, to be received by the next call;
 * MPROC_EOF when the peer closed at a message boundary; MPROC_EPROTO when
 * the peer sent a length over the limit (mproc_conn_set_limit), a negative
 * length, or closed mid-message - the connection is then closed;
 * MPROC_EBADF on the write end of a simplex pipe or a closed connection.
 */
MPROC_API int mproc_conn_recv_bytes(mproc_conn *c, void *buf, size_t cap,
                                    size_t *len);

/*
 * mproc_conn_recv_bytes_alloc - receive one message into fresh memory
 * (Python's recv_bytes).
 *
 * *buf receives a malloc'd buffer the caller frees (never NULL on success,
 * even for an empty message), *len its length. Memory grows with the bytes
 * actually received, never past the limit. Returns 0, MPROC_ENOMEM (the
 * connection is then closed, as the message cannot be skipped), or the
 * codes of mproc_conn_recv_bytes but MPROC_EMSGSIZE. *buf is untouched on
 * failure.
 */
MPROC_API int mproc_conn_recv_bytes_alloc(mproc_conn *c, void **buf,
                                          size_t *len);

/*
 * mproc_conn_poll - whether a message (or EOF) is waiting to be received.
 *
 * timeout: seconds; 0 only looks; MPROC_FOREVER waits.
 * Returns 1 readable, 0 not within the timeout (no error for 0, as
 * Python's poll returns False); MPROC_EBADF on the write end or a closed
 * connection; MPROC_EINVAL for a NaN timeout. EINTR never leaks out.
 */
MPROC_API int mproc_conn_poll(mproc_conn *c, double timeout);

/* mproc_conn_fileno - the connection's fd (for mproc_wait, poll, select),
 * or MPROC_EBADF once an error has closed it. The fd stays owned by c. */
MPROC_API int mproc_conn_fileno(const mproc_conn *c);

/*
 * mproc_conn_set_limit - the longest message receive accepts (Python's
 * maxlength, but kept on the connection). Default MPROC_CONN_DEFAULT_LIMIT;
 * SIZE_MAX means no limit. A longer message fails with MPROC_EPROTO and
 * closes the connection. Returns 0, or MPROC_EBADF for a closed connection.
 */
MPROC_API int mproc_conn_set_limit(mproc_conn *c, size_t max_len);

/* mproc_conn_close - close the connection and free it. NULL is a no-op. */
MPROC_API void mproc_conn_close(mproc_conn *c);

/*
 * mproc_conn_ref - the reference of c's socket (mproc/ref.h), into *out:
 * 16 bytes to copy into a child's argument bytes. Registers the socket
 * with this process, so that every child started from now on may open it,
 * until c is closed; taking it again gives the same bytes. Returns 0;
 * MPROC_EINVAL if out is NULL; MPROC_EBADF for a connection an error
 * closed; MPROC_ENOMEM. Thread-safe. Aborts when c was closed.
 */
MPROC_API int mproc_conn_ref(mproc_conn *c, mproc_ref *out);

/*
 * mproc_conn_open - a new connection, *out, over a duplicate of the socket
 * ref names, in a process that was given it (a child started after its
 * parent took ref, under any start method, or the process that took it).
 * It reads and writes as the original may (a simplex end stays one way:
 * MPROC_EBADF the other), with the default receive limit and receive
 * state of its own; the two share one stream, so use each end from one
 * process at a time, as with a Python Connection passed to a child. Close
 * it with mproc_conn_close, which closes only its own descriptor: the
 * peer sees EOF only once every descriptor of the end is closed.
 *
 * Returns 0; MPROC_ENOENT when this process was not given ref (made up,
 * taken after this process started, or withdrawn by a close before the
 * start); MPROC_EINVAL if out is NULL or ref names another kind of
 * object; MPROC_ENOMEM; a negative errno value (-EMFILE) when no
 * descriptor is left. *out is untouched on failure. Thread-safe.
 */
MPROC_API int mproc_conn_open(mproc_conn **out, mproc_ref ref);

/*
 * mproc_wait - Python's connection.wait: wait until some of the fds are
 * readable (a connection's fileno, a process sentinel, any fd).
 *
 * fds, n:  the fds; hangup and error count as readable, as in Python.
 * timeout: seconds; 0 only looks; MPROC_FOREVER waits.
 * ready:   n flags, set to 1 for each ready fd and 0 for the others.
 * Returns the count of ready fds (0 when the timeout passed first);
 * MPROC_EBADF when an fd is negative or not open; MPROC_EINVAL for a NaN
 * timeout or NULL arrays with n > 0; MPROC_ENOMEM. Never fails with EINTR:
 * a signal only resumes the wait against the same deadline. Thread-safe.
 */
MPROC_API int mproc_wait(const int *fds, size_t n, double timeout, int *ready);

/* Options of mproc_listener_create_with and mproc_client_with; a zeroed
 * struct or NULL is CPython 3.12+'s behaviour with a 10 s handshake bound. */
typedef struct {
    /* Seconds a whole handshake may take: 0 means
     * MPROC_CONN_HANDSHAKE_TIMEOUT, MPROC_FOREVER means no bound. */
    double handshake_timeout;
    /* The digest our challenge asks for: NULL or "sha256", "md5",
     * "sha384", "sha3_256", "sha3_384"; or "legacy" for the bare 20-byte
     * HMAC-MD5 challenge of CPython 3.11 and older. */
    const char *digest;
} mproc_conn_opts;

/*
 * mproc_listener_create - Python's Listener(address, authkey=...): bind
 * and listen.
 *
 * address: a URL as above. authkey, keylen: the key, copied; NULL means no
 *          authentication (authkey=None); a non-NULL key of length 0 is
 *          the empty key, as b"".
 * Returns 0; MPROC_EINVAL for a malformed address, a path too long, or a
 * bad option; -EADDRINUSE, -EACCES, MPROC_ENOENT (no such host) and other
 * negative errnos of socket, bind and listen; MPROC_ENOMEM.
 * An ipc path is unlinked again by mproc_listener_close, as Python does.
 */
MPROC_API int mproc_listener_create(mproc_listener **out, const char *address,
                                    const void *authkey, size_t keylen);

/* mproc_listener_create_with - mproc_listener_create with options: the
 * handshake bound and the digest (an extension; Python's Listener takes
 * neither). */
MPROC_API int mproc_listener_create_with(mproc_listener **out,
                                         const char *address,
                                         const void *authkey, size_t keylen,
                                         const mproc_conn_opts *opts);

/*
 * mproc_listener_accept - accept one connection and, with a key,
 * authenticate it as CPython does (deliver a challenge, then answer the
 * client's).
 *
 * timeout: seconds to wait for a connection (0 only looks; MPROC_FOREVER
 *          waits). The handshake that follows has its own bound (options).
 * Returns 0 with *out set; MPROC_EAGAIN / MPROC_ETIMEDOUT when no client
 * came; for a client that came but failed the handshake (and is closed):
 * MPROC_EAUTH (wrong key, unsupported digest, rejected), MPROC_EPROTO
 * (malformed or oversized handshake frame), MPROC_ETIMEDOUT (stalled past
 * the handshake bound), MPROC_EOF (hung up). The listener stays usable
 * after each. MPROC_EINVAL for a NaN timeout.
 */
MPROC_API int mproc_listener_accept(mproc_listener *l, mproc_conn **out,
                                    double timeout);

/*
 * mproc_listener_address - the bound address as a URL, with the port or
 * abstract name the kernel picked ("tcp://127.0.0.1:40123",
 * "tcp://[::1]:40123", "ipc:///tmp/x.sock", "abstract://name"). Owned by
 * the listener, valid until mproc_listener_close.
 */
MPROC_API const char *mproc_listener_address(const mproc_listener *l);

/* mproc_listener_close - stop listening, unlink an ipc path this process
 * bound, wipe the key and free the listener. NULL is a no-op. */
MPROC_API void mproc_listener_close(mproc_listener *l);

/*
 * mproc_client - Python's Client(address, authkey=...): connect and, with
 * a key, authenticate as CPython does (answer the listener's challenge,
 * then deliver one).
 *
 * Returns 0 with *out set; MPROC_EINVAL for a malformed address;
 * -ECONNREFUSED, MPROC_ENOENT and other negative errnos of connect;
 * MPROC_EAUTH, MPROC_EPROTO, MPROC_ETIMEDOUT, MPROC_EOF as for accept.
 * Connecting and authenticating together are bounded by the handshake timeout.
 */
MPROC_API int mproc_client(mproc_conn **out, const char *address,
                           const void *authkey, size_t keylen);

/* mproc_client_with - mproc_client with options: the handshake bound and
 * the digest (an extension; Python's Client takes neither). */
MPROC_API int mproc_client_with(mproc_conn **out, const char *address,
                                const void *authkey, size_t keylen,
                                const mproc_conn_opts *opts);

#ifdef __cplusplus
}
#endif

#endif /* MPROC_CONNECTION_H */
