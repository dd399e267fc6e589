/*
 * process/forkserver.c - the forkserver start method: a server that forks
 * children on request, and this process's side of asking it.
 *
 * Design. The forkserver is this program exec'd afresh (start.c's
 * mproc__spawn_self), so it holds none of its starter's threads, locks or
 * heap; it is single-threaded and forks each child from that clean state.
 * Its starter makes the listening socket (an abstract unix address with a
 * random name) before spawning it, so the first request can be sent at
 * once; the server gets the socket and a random key through the
 * environment (MPROC__FORKSERVER_ENV). Every process that inherits the
 * address and key (this process's forked children) may use it.
 *
 * One start is one connection. The client sends the key, the record's
 * length and its count of handed objects, the record (start.c), then the
 * handed objects' descriptors (SCM_RIGHTS, in batches). The server admits
 * only peers of its own user (SO_PEERCRED) that show the key, loads the
 * target's object (so a load happens once, in the server, not in every
 * child), forks, and answers (code, PID) and the child's pidfd. The
 * connection then stays open: when the child ends, the server reaps it
 * and writes its exit code there (int32, as exitcode reports it). So the
 * client's end of the connection is the child's sentinel, and the pidfd
 * serves for signals, which can never reach a recycled PID.
 *
 * Lifetime. The server keeps a pidfd of every client (its starter from
 * the beginning, others from their first request). When a client dies,
 * the server SIGKILLs that client's daemon children, as PR_SET_PDEATHSIG
 * does for a forked daemon; daemons also die if the server itself dies.
 * When no client is left, the server exits; its children run on.
 *
 * Crash behaviour. A server killed during a request: that start fails
 * with MPROC_EAGAIN, and the next start sees its address refused and
 * starts a new one. A server killed later: its children's exit codes are
 * lost, and their sentinels report 255, as CPython's forkserver does.
 * A client killed during a request: the server finds the connection
 * closed and drops the request; a child already forked runs on, a daemon
 * is killed as its client is gone.
 */
#include "start.h"

#include "../kit/log.h"
#include "../sys/sys.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

/* How long the server waits for the rest of a request once it began. */
#define REQUEST_NS ((int64_t)5000000000)

/* What a client sends before the record. */
struct request {
    char key[MPROC__FORKSERVER_KEY];
    uint64_t len;
    uint32_t nhandoffs;
    uint32_t pad;
};

/* The server's answer. */
struct reply {
    int32_t rc;
    int32_t pid;
};

/* ---- the client side ---- */

static struct {
    pthread_mutex_t mu;
    struct sockaddr_un addr;
    unsigned addrlen; /* 0: no server yet */
    char key[MPROC__FORKSERVER_KEY + 1];
    pid_t server;  /* the server, when this process started it */
    pid_t starter; /* who started it: only it may reap it */
    pid_t gone;    /* a server of ours given up, not yet reaped */
} fs = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* What request returns when the server went away during it. */
#define SERVER_GONE 1

/* Reaps the server given up last, if it has ended by now. Mutex held. */
static void reap_gone(void)
{
    int code;
    if (fs.gone > 0 && mproc__child_reap(-1, fs.gone, false, &code) != 0)
        fs.gone = 0;
}

/* Starts a server: its socket, its key, its process. Mutex held. */
static int start_server(void)
{
    unsigned char raw[MPROC__FORKSERVER_KEY / 2];
    uint32_t tag;
    int rc = mproc__random(raw, sizeof raw);
    if (rc == 0)
        rc = mproc__random(&tag, sizeof tag);
    if (rc != 0)
        return rc;
    for (size_t k = 0; k < sizeof raw; k++)
        snprintf(fs.key + 2 * k, 3, "%02x", raw[k]);
    memset(&fs.addr, 0, sizeof fs.addr);
    fs.addr.sun_family = AF_UNIX;
    int n = snprintf(fs.addr.sun_path + 1, sizeof fs.addr.sun_path - 1,
                     "mproc-forkserver-%d-%08x", (int)mproc__getpid(), tag);
    unsigned len = (unsigned)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    int lfd = mproc__sock_listen((struct sockaddr *)&fs.addr, len, 128);
    if (lfd < 0)
        return lfd;
    char entry[sizeof MPROC__FORKSERVER_ENV + 16 + MPROC__FORKSERVER_KEY];
    snprintf(entry, sizeof entry, MPROC__FORKSERVER_ENV "=%d:%s", lfd, fs.key);
    pid_t pid;
    rc = mproc__spawn_self(entry, &lfd, 1, &pid);
    mproc__close(lfd);
    if (rc != 0)
        return rc;
    fs.addrlen = len;
    fs.server = pid;
    fs.starter = mproc__getpid();
    return 0;
}

/*
 * Forgets the server, which refused a connection or closed one without an
 * answer. If this process started it, it is reaped once it has ended
 * (it may still be exiting); it is never killed: a server that merely
 * turned a request away still owes its other children's exit codes.
 */
static void forget_server(void)
{
    if (fs.starter == mproc__getpid()) {
        reap_gone();
        if (!fs.gone)
            fs.gone = fs.server;
        reap_gone();
    }
    fs.addrlen = 0;
}

/* A connection to the server, starting one if there is none or the one
 * there was is gone. Mutex held. */
static int connect_server(void)
{
    pid_t gone = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!fs.addrlen) {
            int rc = start_server();
            if (rc != 0)
                return rc;
            if (gone)
                mproc__log_forkserver_restarted((int)gone, (int)fs.server);
        }
        int fd = mproc__sock_connect((struct sockaddr *)&fs.addr, fs.addrlen,
                                     mproc__now() + REQUEST_NS);
        if (fd != -ECONNREFUSED)
            return fd;
        gone = fs.server;
        forget_server();
    }
    return MPROC_EAGAIN;
}

/* Sends the handed objects' descriptors in batches the kernel takes. */
static int send_handoffs(int fd, const mproc__handoff *h, size_t nh)
{
    int batch[MPROC__FDS_PER_SEND];
    for (size_t k = 0; k < nh;) {
        size_t n = 0;
        for (; n < MPROC__FDS_PER_SEND && k < nh; n++, k++)
            batch[n] = h[k].fd;
        char byte = 0;
        int rc = mproc__send_fds(fd, &byte, 1, batch, n);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* One request on connection fd; the reply's code, *pid and *pidfd. */
static int request(int fd, const void *rec, size_t len, const mproc__handoff *h,
                   size_t nh, pid_t *pid, int *pidfd)
{
    struct request q = {.len = len, .nhandoffs = (uint32_t)nh};
    memcpy(q.key, fs.key, sizeof q.key);
    struct iovec iov[2] = {{&q, sizeof q}, {(void *)rec, len}};
    int rc = mproc__send_all(fd, iov, 2, NULL);
    if (rc == 0)
        rc = send_handoffs(fd, h, nh);
    struct reply r;
    if (rc == 0) /* the answer, with the child's pidfd when it started */
        rc = mproc__recv_fds(fd, &r, sizeof r, pidfd, 1, MPROC__NO_DEADLINE);
    if (rc < 0) /* the server went away mid-request */
        return rc == -EMFILE || rc == -ENFILE ? rc : SERVER_GONE;
    if (r.rc == 0 && rc == 1) {
        *pid = r.pid;
        return 0;
    }
    if (rc == 1)
        mproc__close(*pidfd);
    return r.rc ? r.rc : MPROC_EPROTO;
}

/*
 * 0 when this system gives out pidfds, which the server tracks its clients
 * and children by; -ENOSYS when it refuses them (valgrind before 3.20,
 * some seccomp profiles); another negative errno value (-EMFILE) when the
 * question could not be asked now. Mutex held; a yes or no is kept.
 */
static int pidfds_work(void)
{
    static int known; /* 0 unknown, 1 yes, -1 no */
    if (!known) {
        int fd = mproc__pidfd_open(mproc__getpid());
        if (fd < 0 && fd != -ENOSYS && fd != -EPERM)
            return fd;
        known = fd >= 0 ? 1 : -1;
        if (fd >= 0)
            mproc__close(fd);
    }
    return known > 0 ? 0 : -ENOSYS;
}

int mproc__forkserver_child(const void *rec, size_t len,
                            const mproc__handoff *h, size_t nh, pid_t *pid,
                            int *pidfd, int *statusfd)
{
    pthread_mutex_lock(&fs.mu);
    int ok = pidfds_work();
    int fd = ok == 0 ? connect_server() : ok;
    int rc = fd < 0 ? fd : request(fd, rec, len, h, nh, pid, pidfd);
    if (rc == SERVER_GONE) {
        forget_server();
        rc = MPROC_EAGAIN;
    }
    pthread_mutex_unlock(&fs.mu);
    if (rc != 0 && fd >= 0)
        mproc__close(fd);
    if (rc == 0)
        *statusfd = fd;
    return rc;
}

int mproc__forkserver_status(int statusfd, bool block, int *code)
{
    int64_t deadline = block ? MPROC__NO_DEADLINE : 0;
    int ready = mproc__poll_in(statusfd, deadline);
    if (ready <= 0)
        return 0;
    int32_t c;
    char end;
    int rc = mproc__recv_exact(statusfd, &c, sizeof c, NULL, deadline);
    *code = rc == 0 ? c : 255; /* the server died before it could tell */
    /* The server closes the connection right after the code: wait for
     * that, so the sentinel reads as ended from now on. */
    if (rc == 0)
        mproc__recv_exact(statusfd, &end, 1, NULL, MPROC__NO_DEADLINE);
    return 1;
}

/* ---- the server side ---- */

struct client {
    pid_t pid;
    int pidfd;
};

struct kid {
    pid_t pid;
    int pidfd;
    int conn;     /* where its exit code goes */
    pid_t client; /* who asked for it */
    bool daemon;
};

static struct {
    int lfd;
    const char *key;
    struct client *clients;
    size_t nclients;
    struct kid *kids;
    size_t nkids;
} srv;

/* Appends one element to an array (*v of *n elements of size sz). */
static bool push(void *v, size_t *n, size_t sz, const void *e)
{
    char *grown = realloc(*(void **)v, (*n + 1) * sz);
    if (!grown)
        return false;
    memcpy(grown + *n * sz, e, sz);
    *(void **)v = grown;
    (*n)++;
    return true;
}

/* Registers the client pid (once); false when it cannot be tracked. */
static bool admit_client(pid_t pid)
{
    for (size_t k = 0; k < srv.nclients; k++)
        if (srv.clients[k].pid == pid)
            return true;
    struct client c = {pid, mproc__pidfd_open(pid)};
    if (c.pidfd < 0)
        return false;
    if (!push(&srv.clients, &srv.nclients, sizeof c, &c)) {
        mproc__close(c.pidfd);
        return false;
    }
    return true;
}

/* In a child just forked: closes every descriptor of the server's. */
static void close_server_fds(void)
{
    mproc__close(srv.lfd);
    for (size_t k = 0; k < srv.nclients; k++)
        mproc__close(srv.clients[k].pidfd);
    for (size_t k = 0; k < srv.nkids; k++) {
        mproc__close(srv.kids[k].pidfd);
        mproc__close(srv.kids[k].conn);
    }
}

/* Receives the handed objects' descriptors into h (their fd fields). */
static int recv_handoffs(int conn, mproc__handoff *h, size_t nh)
{
    int batch[MPROC__FDS_PER_SEND];
    for (size_t k = 0; k < nh;) {
        size_t n = nh - k < MPROC__FDS_PER_SEND ? nh - k : MPROC__FDS_PER_SEND;
        char byte;
        int rc = mproc__recv_fds(conn, &byte, 1, batch, n,
                                 mproc__now() + REQUEST_NS);
        if (rc >= 0 && (size_t)rc != n) {
            for (int j = 0; j < rc; j++)
                mproc__close(batch[j]);
            rc = MPROC_EPROTO;
        }
        if (rc < 0) {
            for (size_t j = 0; j < k; j++)
                mproc__close(h[j].fd);
            return rc;
        }
        for (size_t j = 0; j < n; j++)
            h[k++].fd = batch[j];
    }
    return 0;
}

/* Forks the child c describes; 0 and its kid entry, or a code. */
static int fork_kid(const mproc__child *c, mproc_target fn, int conn,
                    pid_t client, struct kid *kid)
{
    pid_t pid = mproc__fork();
    if (pid < 0)
        return pid;
    if (pid == 0) {
        pid_t server = mproc__getppid();
        close_server_fds();
        mproc__close(conn);
        if (mproc__handoff_adopt(c->handoffs, c->nhandoffs) != 0)
            mproc__exit(255);
        mproc__run_child(c, fn, server);
    }
    int pidfd = mproc__pidfd_open(pid);
    if (pidfd < 0) {
        mproc__kill_and_reap(pid);
        return pidfd;
    }
    *kid = (struct kid){pid, pidfd, conn, client, c->daemon};
    return 0;
}

/* Reads, checks and serves one request on conn; the kid is kept on
 * success, conn closed otherwise. */
static void serve_request(int conn)
{
    pid_t peer;
    uid_t uid;
    struct request q;
    int64_t deadline = mproc__now() + REQUEST_NS;
    if (mproc__peer_cred(conn, &peer, &uid) != 0 || uid != mproc__getuid() ||
        mproc__recv_exact(conn, &q, sizeof q, NULL, deadline) != 0 ||
        memcmp(q.key, srv.key, sizeof q.key) != 0 || q.len > SIZE_MAX ||
        q.nhandoffs > q.len / sizeof(mproc__handoff) || !admit_client(peer)) {
        mproc__close(conn);
        return;
    }
    void *rec = malloc((size_t)q.len);
    mproc__child c = {0};
    mproc_target fn;
    struct kid kid;
    int rc = rec ? mproc__recv_exact(conn, rec, (size_t)q.len, NULL, deadline)
                 : MPROC_ENOMEM;
    if (rc == 0)
        rc = mproc__child_decode(rec, (size_t)q.len, &c);
    if (rc == 0 && c.nhandoffs != q.nhandoffs)
        rc = MPROC_EPROTO;
    if (rc == 0)
        rc = recv_handoffs(conn, c.handoffs, c.nhandoffs);
    bool fds_here = rc == 0;
    if (rc == 0)
        rc = mproc__child_target(&c, &fn);
    if (rc == 0)
        rc = fork_kid(&c, fn, conn, peer, &kid);
    for (size_t k = 0; fds_here && k < c.nhandoffs; k++)
        mproc__close(c.handoffs[k].fd);
    free(rec);
    struct reply r = {rc, rc == 0 ? kid.pid : 0};
    if (mproc__send_fds(conn, &r, sizeof r, &kid.pidfd, rc == 0) != 0 ||
        rc != 0 || !push(&srv.kids, &srv.nkids, sizeof kid, &kid)) {
        if (rc == 0) { /* the client is gone: the child runs on alone */
            mproc__close(kid.pidfd);
            mproc__close(conn);
        } else {
            mproc__close(conn);
        }
    }
}

/* A kid has ended: reap it and tell its client. */
static void finish_kid(size_t k)
{
    struct kid *d = &srv.kids[k];
    int code = 255;
    mproc__child_reap(d->pidfd, d->pid, true, &code);
    int32_t c = code;
    struct iovec iov = {&c, sizeof c};
    mproc__send_all(d->conn, &iov, 1, NULL);
    mproc__close(d->conn);
    mproc__close(d->pidfd);
    srv.kids[k] = srv.kids[--srv.nkids];
}

/* A client has died: its daemons die with it. */
static void drop_client(size_t k)
{
    pid_t pid = srv.clients[k].pid;
    for (size_t j = 0; j < srv.nkids; j++)
        if (srv.kids[j].client == pid && srv.kids[j].daemon)
            mproc__child_signal(srv.kids[j].pidfd, srv.kids[j].pid, SIGKILL);
    mproc__close(srv.clients[k].pidfd);
    srv.clients[k] = srv.clients[--srv.nclients];
}

_Noreturn void mproc__forkserver_serve(int lfd, const char *key)
{
    srv.lfd = lfd;
    srv.key = key;
    /* its children inherit its mask: none of the starter's blocks */
    mproc__signals_unblock_all();
    if (lfd < 0 || strlen(key) != MPROC__FORKSERVER_KEY ||
        !admit_client(mproc__getppid()))
        mproc__exit(1);
    while (srv.nclients > 0) {
        size_t n = 1 + srv.nclients + srv.nkids;
        int *fds = malloc(n * sizeof *fds), *ready = malloc(n * sizeof *ready);
        if (!fds || !ready)
            mproc__exit(1);
        fds[0] = lfd;
        for (size_t k = 0; k < srv.nclients; k++)
            fds[1 + k] = srv.clients[k].pidfd;
        for (size_t k = 0; k < srv.nkids; k++)
            fds[1 + srv.nclients + k] = srv.kids[k].pidfd;
        size_t nc = srv.nclients, nk = srv.nkids;
        if (mproc__poll_fds(fds, n, MPROC__NO_DEADLINE, ready) > 0) {
            for (size_t k = nk; k-- > 0;)
                if (ready[1 + nc + k])
                    finish_kid(k);
            for (size_t k = nc; k-- > 0;)
                if (ready[1 + k])
                    drop_client(k);
            if (ready[0]) {
                int conn = mproc__sock_accept(lfd, 0);
                if (conn >= 0)
                    serve_request(conn);
            }
        }
        free(fds);
        free(ready);
    }
    mproc__exit(0);
}
