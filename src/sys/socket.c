/*
 * socket.c - the socket calls connections are made of.
 *
 * Every fd is created close-on-exec; every send passes MSG_NOSIGNAL, so a
 * peer that has gone away gives -EPIPE, never SIGPIPE, without touching the
 * process's signal dispositions or masks. Blocking loops retry EINTR; a
 * wait with a deadline polls for what is left of it, so a signal never
 * extends the total wait.
 */
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

int mproc__socketpair(int sv[2])
{
    int rc = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    if (rc < 0 && errno == EMFILE && mproc__nofile_raise())
        rc = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    return rc < 0 ? -errno : 0;
}

int mproc__send_all(int fd, struct iovec *iov, int iovcnt, size_t *sent)
{
    size_t total = 0;
    while (iovcnt > 0) {
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};
        ssize_t n = iovcnt == 1
                        ? send(fd, iov->iov_base, iov->iov_len, MSG_NOSIGNAL)
                        : sendmsg(fd, &m, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (sent)
                *sent = total;
            return -errno;
        }
        total += (size_t)n;
        while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
            n -= (ssize_t)iov->iov_len;
            iov++;
            iovcnt--;
        }
        if (iovcnt > 0) {
            iov->iov_base = (char *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
    if (sent)
        *sent = total;
    return 0;
}

/* Time left until deadline as a timespec for ppoll; NULL for forever. */
static struct timespec *left_until(int64_t deadline, struct timespec *ts)
{
    if (deadline == MPROC__NO_DEADLINE)
        return NULL;
    int64_t ns = deadline - mproc__now();
    if (ns < 0)
        ns = 0;
    ts->tv_sec = ns / 1000000000;
    ts->tv_nsec = ns % 1000000000;
    return ts;
}

/* Waits for events on one fd until the deadline: 1, 0 (deadline), -errno. */
static int wait_one(int fd, short events, int64_t deadline)
{
    struct pollfd p = {.fd = fd, .events = events};
    for (;;) {
        struct timespec ts, *tsp = left_until(deadline, &ts);
        int n = ppoll(&p, 1, tsp, NULL);
        if (n > 0)
            return 1;
        if (n == 0) {
            if (mproc__now() >= deadline)
                return 0;
            continue;
        }
        if (errno != EINTR)
            return -errno;
    }
}

int mproc__recv_exact(int fd, void *buf, size_t n, size_t *got,
                      int64_t deadline)
{
    size_t have = 0;
    int flags = deadline == MPROC__NO_DEADLINE ? 0 : MSG_DONTWAIT;
    int rc = 0;
    while (have < n) {
        ssize_t r = recv(fd, (char *)buf + have, n - have, flags);
        if (r > 0) {
            have += (size_t)r;
            continue;
        }
        if (r == 0) {
            rc = 1;
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN && flags) {
            int w = wait_one(fd, POLLIN, deadline);
            if (w > 0)
                continue;
            rc = w == 0 ? -ETIMEDOUT : w;
            break;
        }
        rc = -errno;
        break;
    }
    if (got)
        *got = have;
    return rc;
}

size_t mproc__recv_spin(int fd, void *buf, size_t n, int64_t spin_ns)
{
    int64_t until = mproc__now() + spin_ns;
    do {
        ssize_t r = recv(fd, buf, n, MSG_DONTWAIT);
        if (r > 0)
            return (size_t)r;
        if (r == 0 || (errno != EAGAIN && errno != EINTR))
            return 0; /* EOF or an error: the blocking read reports it */
    } while (mproc__now() < until);
    return 0;
}

int mproc__poll_fds(const int *fds, size_t n, int64_t deadline, int *ready)
{
    struct pollfd small[16], *p = small;
    if (n > sizeof small / sizeof small[0]) {
        p = malloc(n * sizeof *p);
        if (!p)
            return -ENOMEM;
    }
    int rc;
    for (size_t i = 0; i < n; i++) {
        if (fds[i] < 0) {
            rc = -EBADF;
            goto out;
        }
        p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    }
    for (;;) {
        struct timespec ts, *tsp = left_until(deadline, &ts);
        int k = ppoll(p, n, tsp, NULL);
        if (k > 0) {
            rc = 0;
            for (size_t i = 0; i < n; i++) {
                if (p[i].revents & POLLNVAL) {
                    rc = -EBADF;
                    goto out;
                }
                ready[i] = p[i].revents != 0;
                rc += ready[i];
            }
            goto out;
        }
        if (k == 0) {
            if (mproc__now() >= deadline) {
                for (size_t i = 0; i < n; i++)
                    ready[i] = 0;
                rc = 0;
                goto out;
            }
            continue;
        }
        if (errno != EINTR) {
            rc = -errno;
            goto out;
        }
    }
out:
    if (p != small)
        free(p);
    return rc;
}

int mproc__sock_listen(const struct sockaddr *sa, unsigned salen, int backlog)
{
    int fd =
        socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    if (sa->sa_family != AF_UNIX) {
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    }
    if (bind(fd, sa, salen) < 0 || listen(fd, backlog) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

int mproc__sock_accept(int lfd, int64_t deadline)
{
    for (;;) {
        int w = wait_one(lfd, POLLIN, deadline);
        if (w < 0)
            return w;
        if (w == 0)
            return -ETIMEDOUT;
        /* The listening fd is non-blocking (a client that left between
         * poll and accept gives EAGAIN, not a hang); on Linux the accepted
         * fd does not inherit that and blocks. */
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0)
            return fd;
        if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
            return -errno;
    }
}

/* One connect attempt: 0 connected, 1 in progress, or -errno. */
static int connect_once(int fd, const struct sockaddr *sa, unsigned salen)
{
    if (connect(fd, sa, salen) == 0)
        return 0;
    if (errno == EINPROGRESS || errno == EINTR)
        return 1;
    return -errno;
}

int mproc__sock_connect(const struct sockaddr *sa, unsigned salen,
                        int64_t deadline)
{
    int fd =
        socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    int rc;
    /* A Unix socket whose backlog is full answers EAGAIN at once: retry
     * every millisecond until the deadline. */
    while ((rc = connect_once(fd, sa, salen)) == -EAGAIN &&
           sa->sa_family == AF_UNIX && mproc__now() < deadline)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    if (rc == -EAGAIN && sa->sa_family == AF_UNIX)
        rc = -ETIMEDOUT;
    if (rc == 1) {
        int w = wait_one(fd, POLLOUT, deadline);
        int err = 0;
        socklen_t len = sizeof err;
        if (w <= 0)
            rc = w == 0 ? -ETIMEDOUT : w;
        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            rc = -errno;
        else
            rc = -err;
    }
    int fl = rc < 0 ? 0 : fcntl(fd, F_GETFL);
    if (rc == 0 && (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0))
        rc = -errno;
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

int mproc__sock_name(int fd, struct sockaddr *sa, unsigned *salen)
{
    socklen_t len = *salen;
    if (getsockname(fd, sa, &len) < 0)
        return -errno;
    *salen = len;
    return 0;
}

int mproc__sock_nodelay(int fd)
{
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
        return -errno;
    return 0;
}

int mproc__shutdown(int fd, int how)
{
    return shutdown(fd, how) < 0 ? -errno : 0;
}

int mproc__sock_resolve(const char *host, const char *port, struct sockaddr *sa,
                        unsigned *salen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV},
                    *res;
    int e = getaddrinfo(host, port, &hints, &res);
    if (e != 0)
        return e == EAI_MEMORY   ? MPROC_ENOMEM
               : e == EAI_SYSTEM ? -errno
                                 : MPROC_ENOENT;
    int rc = 0;
    if (res->ai_addrlen > *salen) {
        rc = MPROC_ENOENT;
    } else {
        memcpy(sa, res->ai_addr, res->ai_addrlen);
        *salen = (unsigned)res->ai_addrlen;
    }
    freeaddrinfo(res);
    return rc;
}

int mproc__send_fds(int fd, const int *fds, size_t n)
{
    if (n > MPROC__FDS_PER_SEND)
        return -EINVAL;
    char byte = 0;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(MPROC__FDS_PER_SEND * sizeof(int))];
    } u;
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    if (n) {
        m.msg_control = u.buf;
        m.msg_controllen = CMSG_SPACE(n * sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(n * sizeof(int));
        memcpy(CMSG_DATA(c), fds, n * sizeof(int));
    }
    ssize_t r;
    while ((r = sendmsg(fd, &m, MSG_NOSIGNAL)) < 0 && errno == EINTR)
        ;
    return r < 0 ? -errno : 0;
}

int mproc__recv_fds(int fd, int *fds, size_t n, int64_t deadline)
{
    char byte;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(MPROC__FDS_PER_SEND * sizeof(int))];
    } u;
    for (;;) {
        struct msghdr m = {.msg_iov = &iov,
                           .msg_iovlen = 1,
                           .msg_control = u.buf,
                           .msg_controllen = sizeof u.buf};
        ssize_t r = recvmsg(fd, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN) {
            int w = wait_one(fd, POLLIN, deadline);
            if (w > 0)
                continue;
            return w == 0 ? -ETIMEDOUT : w;
        }
        if (r < 0)
            return -errno;
        if (r == 0)
            return -EPIPE;
        size_t got = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                continue;
            size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            int *in = (int *)(void *)CMSG_DATA(c);
            for (size_t j = 0; j < k; j++) {
                if (got < n)
                    fds[got++] = in[j];
                else
                    close(in[j]);
            }
        }
        if ((m.msg_flags & MSG_CTRUNC) || got != n) {
            for (size_t j = 0; j < got; j++)
                close(fds[j]);
            return -EPROTO;
        }
        return 0;
    }
}

int mproc__peer_cred(int fd, pid_t *pid, uid_t *uid)
{
    struct ucred cr;
    socklen_t len = sizeof cr;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
        return -errno;
    *pid = cr.pid;
    *uid = cr.uid;
    return 0;
}
