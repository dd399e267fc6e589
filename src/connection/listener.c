/*
 * connection/listener.c - addresses, Listener and Client.
 *
 * Design. An address is an nng-style URL parsed into one sockaddr:
 * "ipc://PATH" (AF_UNIX at PATH), "abstract://NAME" (AF_UNIX, a leading
 * NUL, exactly the name's bytes - as Python's "\0NAME"; an empty name at
 * listen asks the kernel to pick one), "tcp://HOST:PORT" and
 * "tcp://[V6]:PORT" (resolved by getaddrinfo, first result; an empty host
 * or "*" at listen is every IPv4 interface). The listener records the
 * address it actually bound (getsockname), so port 0 and autobound names
 * come back filled in.
 *
 * A Listener owns its listening fd (non-blocking, so accept with a
 * timeout never hangs on a client that left), a copy of the key (wiped on
 * close), and, for ipc, the path it created, which it unlinks on close
 * only in the process that bound it (as Python's finalizer). The backlog
 * is SOMAXCONN rather than Python's 1: a burst of clients then queues
 * instead of being refused.
 *
 * Accept is: wait for a client until the caller's deadline, then the
 * handshake (server side: challenge first) until its own deadline. Client
 * is: connect and handshake (client side: answer first) within one
 * deadline. A failed handshake closes that one connection only.
 * TCP connections get TCP_NODELAY (every frame is a single write).
 */
#include "conn.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <openssl/crypto.h>

#define LISTENER_MAGIC 0x4c49534eu /* "LISN" */

struct mproc_listener {
    uint32_t magic;
    int fd;
    bool tcp;
    pid_t owner;
    char *address;
    char *unlink_path; /* the ipc path this listener created, or NULL */
    unsigned char *key;
    size_t keylen;
    bool has_key;
    double handshake_timeout;
    const char *digest;
};

struct addr {
    struct sockaddr_storage ss;
    unsigned len;
    bool tcp;
    bool ipc;
};

static bool prefixed(const char *s, const char *prefix, const char **rest)
{
    size_t n = strlen(prefix);
    if (strncmp(s, prefix, n) != 0)
        return false;
    *rest = s + n;
    return true;
}

static int parse_unix(const char *name, bool abstract, bool listen,
                      struct addr *a)
{
    struct sockaddr_un *un = (struct sockaddr_un *)&a->ss;
    size_t n = strlen(name);
    un->sun_family = AF_UNIX;
    if (!abstract) {
        if (n == 0 || n >= sizeof un->sun_path)
            return MPROC_EINVAL;
        memcpy(un->sun_path, name, n + 1);
        a->len = (unsigned)(offsetof(struct sockaddr_un, sun_path) + n + 1);
        a->ipc = true;
        return 0;
    }
    if (n == 0 && !listen)
        return MPROC_EINVAL;
    if (n + 1 > sizeof un->sun_path)
        return MPROC_EINVAL;
    un->sun_path[0] = '\0';
    memcpy(un->sun_path + 1, name, n);
    /* An empty name binds with only the family: Linux autobind. */
    a->len = n == 0
                 ? (unsigned)sizeof(sa_family_t)
                 : (unsigned)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    return 0;
}

static int parse_tcp(const char *hp, bool listen, struct addr *a)
{
    char host[256];
    const char *colon;
    size_t hlen;
    if (hp[0] == '[') {
        const char *end = strchr(hp, ']');
        if (!end || end[1] != ':')
            return MPROC_EINVAL;
        hlen = (size_t)(end - hp - 1);
        memcpy(host, hp + 1, hlen < sizeof host ? hlen : 0);
        colon = end + 1;
        if (hlen == 0)
            return MPROC_EINVAL;
    } else {
        colon = strrchr(hp, ':');
        if (!colon)
            return MPROC_EINVAL;
        hlen = (size_t)(colon - hp);
        if (memchr(hp, ':', hlen))
            return MPROC_EINVAL; /* bare IPv6: needs brackets */
        if (hlen < sizeof host)
            memcpy(host, hp, hlen);
    }
    if (hlen >= sizeof host)
        return MPROC_EINVAL;
    host[hlen] = '\0';
    const char *port = colon + 1;
    if (*port == '\0' || strlen(port) > 5 ||
        strspn(port, "0123456789") != strlen(port) || atoi(port) > 65535)
        return MPROC_EINVAL;
    bool any = hlen == 0 || strcmp(host, "*") == 0;
    if (any && !listen)
        return MPROC_EINVAL;
    unsigned len = sizeof a->ss;
    int rc = mproc__sock_resolve(any ? "0.0.0.0" : host, port,
                                 (struct sockaddr *)&a->ss, &len);
    if (rc < 0)
        return rc;
    a->len = len;
    a->tcp = true;
    return 0;
}

static int parse_address(const char *url, bool listen, struct addr *a)
{
    const char *rest;
    memset(a, 0, sizeof *a);
    if (!url)
        return MPROC_EINVAL;
    if (prefixed(url, "ipc://", &rest))
        return parse_unix(rest, false, listen, a);
    if (prefixed(url, "abstract://", &rest))
        return parse_unix(rest, true, listen, a);
    if (prefixed(url, "tcp://", &rest))
        return parse_tcp(rest, listen, a);
    return MPROC_EINVAL;
}

/* The URL of a bound socket, malloc'd; NULL when out of memory. */
static char *format_address(int fd)
{
    struct sockaddr_storage ss;
    unsigned len = sizeof ss;
    char host[INET6_ADDRSTRLEN], *out = NULL;
    if (mproc__sock_name(fd, (struct sockaddr *)&ss, &len) < 0)
        return strdup("");
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        if (asprintf(&out, "tcp://%s:%u", host, ntohs(in->sin_port)) < 0)
            return NULL;
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        if (asprintf(&out, "tcp://[%s]:%u", host, ntohs(in6->sin6_port)) < 0)
            return NULL;
    } else {
        struct sockaddr_un *un = (struct sockaddr_un *)&ss;
        size_t n = len - offsetof(struct sockaddr_un, sun_path);
        if (n > 0 && un->sun_path[0] == '\0') {
            if (asprintf(&out, "abstract://%.*s", (int)(n - 1),
                         un->sun_path + 1) < 0)
                return NULL;
        } else if (asprintf(&out, "ipc://%.*s", (int)strnlen(un->sun_path, n),
                            un->sun_path) < 0) {
            return NULL;
        }
    }
    return out;
}

/* What a listener or client is made from: parsed options and address. */
struct settings {
    double timeout;
    const char *digest;
    struct addr a;
};

static int prepare(const mproc_conn_opts *opts, const char *url, bool listen,
                   struct settings *st)
{
    st->timeout = MPROC_CONN_HANDSHAKE_TIMEOUT;
    st->digest = mproc__digest_known(NULL);
    if (opts) {
        if (opts->handshake_timeout != opts->handshake_timeout)
            return MPROC_EINVAL; /* NaN */
        if (opts->handshake_timeout != 0)
            st->timeout = opts->handshake_timeout;
        st->digest = mproc__digest_known(opts->digest);
        if (!st->digest)
            return MPROC_EINVAL;
    }
    return parse_address(url, listen, &st->a);
}

/*
 * Wraps a connected fd (taken over) and, with a key, runs the handshake
 * (server: challenge first) by the deadline. On failure nothing is left
 * open; a connection an error closed mid-handshake reports MPROC_EPROTO.
 */
static int establish(int fd, bool tcp, const void *key, size_t keylen,
                     const char *digest, bool server, int64_t deadline,
                     mproc_conn **out)
{
    if (tcp)
        mproc__sock_nodelay(fd);
    mproc_conn *c;
    int rc = mproc__conn_new(fd, true, true, &c);
    if (rc < 0)
        return rc;
    if (key) {
        rc = server ? mproc__auth_server(c, key, keylen, digest, deadline)
                    : mproc__auth_client(c, key, keylen, digest, deadline);
        if (rc < 0) {
            mproc_conn_close(c);
            return rc == MPROC_EBADF ? MPROC_EPROTO : rc;
        }
    }
    *out = c;
    return 0;
}

/* Frees a listener's memory, wiping the key; closes and unlinks nothing. */
static void free_listener(mproc_listener *l)
{
    free(l->unlink_path);
    free(l->address);
    if (l->key)
        OPENSSL_cleanse(l->key, l->keylen);
    free(l->key);
    free(l);
}

static void check(const mproc_listener *l)
{
    MPROC__CHECK(l && l->magic == LISTENER_MAGIC,
                 "mproc_listener used after close");
}

int mproc_listener_create_with(mproc_listener **out, const char *address,
                               const void *authkey, size_t keylen,
                               const mproc_conn_opts *opts)
{
    struct settings st;
    int rc = prepare(opts, address, true, &st);
    if (rc < 0)
        return rc;
    mproc_listener *l = calloc(1, sizeof *l);
    if (!l)
        return MPROC_ENOMEM;
    l->handshake_timeout = st.timeout;
    l->digest = st.digest;
    l->tcp = st.a.tcp;
    l->has_key = authkey != NULL;
    l->key = authkey ? malloc(keylen ? keylen : 1) : NULL;
    l->keylen = keylen;
    if (authkey && l->key)
        memcpy(l->key, authkey, keylen);
    if (authkey && !l->key) {
        free_listener(l);
        return MPROC_ENOMEM;
    }
    l->fd =
        mproc__sock_listen((struct sockaddr *)&st.a.ss, st.a.len, SOMAXCONN);
    if (l->fd < 0) {
        rc = l->fd;
        free_listener(l);
        return rc;
    }
    l->owner = mproc__getpid();
    if (st.a.ipc)
        l->unlink_path = strdup(((struct sockaddr_un *)&st.a.ss)->sun_path);
    l->address = format_address(l->fd);
    if (!l->address || (st.a.ipc && !l->unlink_path)) {
        mproc__close(l->fd);
        if (st.a.ipc)
            mproc__unlink(((struct sockaddr_un *)&st.a.ss)->sun_path);
        free_listener(l);
        return MPROC_ENOMEM;
    }
    l->magic = LISTENER_MAGIC;
    *out = l;
    return 0;
}

int mproc_listener_create(mproc_listener **out, const char *address,
                          const void *authkey, size_t keylen)
{
    return mproc_listener_create_with(out, address, authkey, keylen, NULL);
}

int mproc_listener_accept(mproc_listener *l, mproc_conn **out, double timeout)
{
    check(l);
    int64_t deadline;
    int rc = mproc__deadline(timeout, &deadline);
    if (rc < 0)
        return rc;
    int fd = mproc__sock_accept(l->fd, deadline);
    if (fd == -ETIMEDOUT)
        return mproc__expired(timeout);
    if (fd < 0)
        return fd;
    if (l->has_key)
        mproc__deadline(l->handshake_timeout, &deadline);
    return establish(fd, l->tcp, l->has_key ? l->key : NULL, l->keylen,
                     l->digest, true, deadline, out);
}

const char *mproc_listener_address(const mproc_listener *l)
{
    check(l);
    return l->address;
}

void mproc_listener_close(mproc_listener *l)
{
    if (!l)
        return;
    check(l);
    l->magic = 0;
    mproc__close(l->fd);
    if (l->unlink_path && l->owner == mproc__getpid())
        mproc__unlink(l->unlink_path);
    free_listener(l);
}

int mproc_client_with(mproc_conn **out, const char *address,
                      const void *authkey, size_t keylen,
                      const mproc_conn_opts *opts)
{
    struct settings st;
    int rc = prepare(opts, address, false, &st);
    if (rc < 0)
        return rc;
    int64_t deadline;
    mproc__deadline(st.timeout, &deadline);
    int fd =
        mproc__sock_connect((struct sockaddr *)&st.a.ss, st.a.len, deadline);
    if (fd < 0)
        return fd;
    return establish(fd, st.a.tcp, authkey, keylen, st.digest, false, deadline,
                     out);
}

int mproc_client(mproc_conn **out, const char *address, const void *authkey,
                 size_t keylen)
{
    return mproc_client_with(out, address, authkey, keylen, NULL);
}
