/* test_connection.c - Pipe, framing, wait, Listener/Client, handshake. */
#include "check_main.h"
#include "mproc.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static const char KEY[] = "secret password";

/* Writes raw bytes to a connection's socket, behind the framing's back. */
static void raw_write(mproc_conn *c, const void *buf, size_t n)
{
    ck_assert_int_eq(write(mproc_conn_fileno(c), buf, n), (ssize_t)n);
}

static void be32(unsigned char *p, uint32_t v)
{
    v = htonl(v);
    memcpy(p, &v, 4);
}

/* A unique abstract address for this test process. */
static const char *abstract_addr(const char *tag)
{
    static char buf[96];
    snprintf(buf, sizeof buf, "abstract://mproc-test-%s-%d", tag, getpid());
    return buf;
}

START_TEST(pipe_duplex_sends_both_ways)
{
    mproc_conn *a, *b;
    ck_assert_int_eq(mproc_pipe(&a, &b, true), 0);
    char buf[16];
    size_t len;
    ck_assert_int_eq(mproc_conn_send_bytes(a, "ping", 4), 0);
    ck_assert_int_eq(mproc_conn_recv_bytes(b, buf, sizeof buf, &len), 0);
    ck_assert_uint_eq(len, 4);
    ck_assert_int_eq(memcmp(buf, "ping", 4), 0);
    ck_assert_int_eq(mproc_conn_send_bytes(b, "pong!", 5), 0);
    ck_assert_int_eq(mproc_conn_recv_bytes(a, buf, sizeof buf, &len), 0);
    ck_assert_uint_eq(len, 5);
    ck_assert_int_eq(memcmp(buf, "pong!", 5), 0);
    mproc_conn_close(a);
    mproc_conn_close(b);
}
END_TEST

START_TEST(pipe_simplex_ends_refuse_the_wrong_direction)
{
    mproc_conn *r, *w;
    ck_assert_int_eq(mproc_pipe(&r, &w, false), 0);
    char buf[4];
    size_t len;
    ck_assert_int_eq(mproc_conn_send_bytes(r, "x", 1), MPROC_EBADF);
    ck_assert_int_eq(mproc_conn_recv_bytes(w, buf, sizeof buf, &len),
                     MPROC_EBADF);
    ck_assert_int_eq(mproc_conn_poll(w, 0), MPROC_EBADF);
    ck_assert_int_eq(mproc_conn_send_bytes(w, "abc", 3), 0);
    ck_assert_int_eq(mproc_conn_recv_bytes(r, buf, sizeof buf, &len), 0);
    ck_assert_uint_eq(len, 3);
    mproc_conn_close(r);
    mproc_conn_close(w);
}
END_TEST

START_TEST(recv_into_small_buffer_keeps_message)
{
    mproc_conn *a, *b;
    ck_assert_int_eq(mproc_pipe(&a, &b, true), 0);
    ck_assert_int_eq(mproc_conn_send_bytes(a, "0123456789", 10), 0);
    char buf[16];
    size_t len = 0;
    ck_assert_int_eq(mproc_conn_recv_bytes(b, buf, 4, &len), MPROC_EMSGSIZE);
    ck_assert_uint_eq(len, 10);
    ck_assert_int_eq(mproc_conn_poll(b, 0), 1);
    ck_assert_int_eq(mproc_conn_recv_bytes(b, buf, sizeof buf, &len), 0);
    ck_assert_uint_eq(len, 10);
    ck_assert_int_eq(memcmp(buf, "0123456789", 10), 0);
    mproc_conn_close(a);
    mproc_conn_close(b);
}
END_TEST

START_TEST(recv_alloc_returns_empty_message)
{
    mproc_conn *a, *b;
    ck_assert_int_eq(mproc_pipe(&a, &b, true), 0);
    ck_assert_int_eq(mproc_conn_send_bytes(a, NULL, 0), 0);
    void *p = NULL;
    size_t len = 99;
    ck_assert_int_eq(mproc_conn_recv_bytes_alloc(b, &p, &len), 0);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(len, 0);
    free(p);
    mproc_conn_close(a);
    mproc_conn_close(b);
}
END_TEST

#define BIG (3u << 20)

static int send_big(void *arg)
{
    mproc_conn *c = arg;
    unsigned char *p = malloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        p[i] = (unsigned char)(i * 7);
    int rc = mproc_conn_send_bytes(c, p, BIG);
    free(p);
    return rc == 0 ? 0 : 1;
}

START_TEST(recv_alloc_returns_large_message_intact)
{
    mproc_conn *a, *b;
    ck_assert_int_eq(mproc_pipe(&a, &b, false), 0);
    pid_t pid = spawn(send_big, b);
    unsigned char *p;
    size_t len;
    ck_assert_int_eq(mproc_conn_recv_bytes_alloc(a, (void **)&p, &len), 0);
    ck_assert_uint_eq(len, BIG);
    for (size_t i = 0; i < BIG; i++)
        if (p[i] != (unsigned char)(i * 7))
            ck_abort_msg("byte %zu differs", i);
    free(p);
    ck_assert_int_eq(child_exit_status(pid), 0);
    mproc_conn_close(a);
    mproc_conn_close(b);
}
END_TEST

START_TEST(recv_returns_eof_when_peer_closed)
{
    mproc_conn *a, *b;
    ck_assert_int_eq(mproc_pipe(&a, &b, true), 0);
    ck_assert_int_eq(mproc_conn_send_bytes(a, "last", 4), 0);
    mproc_conn_close(a);
    char buf[8];
    size_t len;
    ck_assert_int_eq(mproc_conn_recv_bytes(b, buf, sizeof buf, &len), 0);
    ck_assert_int_eq(mproc_conn_poll(b, 0), 1);
    ck_assert_int_eq(mproc_conn_recv_bytes(b, buf, sizeof buf, &len),
                     MPROC_EOF);
    ck_assert_int_eq(mproc_conn_recv_bytes(b, buf, sizeof buf, &len),
                     MPROC_EOF); /* as Python's EOFError, every time */
    ck_assert_int_ge(mproc_conn_fileno(b), 0);
    mproc_conn_close(b);
}
END_TEST

START_TEST(send_to_closed_peer_returns_eof_without_sigpipe)
{
    signal(SIGPIPE, SIG_DFL);
    for (int duplex = 0; duplex < 2; duplex++) {
        mproc_conn *a, *b;
        ck_assert_int_eq(mproc_pipe(&a, &b, duplex), 0);
        mproc_conn_close(a); /* the reader of a simplex pipe */
        ck_assert_int_eq(mproc_conn_send_bytes(b, "x", 1), MPROC_EOF);
        ck_assert_int_eq(mproc_conn_send_bytes(b, "x", 1), MPROC_EOF);
        mproc_conn_close(b);
    }
}
END_TEST

START_TEST(poll_times_out_when_nothing_waits)
{
    mproc_conn *a, *b;
    ck_assert_int_eq(mproc_pipe(&a, &b, true), 0);
    ck_assert_int_eq(mproc_conn_poll(b, 0), 0);
    double t0 = now_s();
    ck_assert_int_eq(mproc_conn_poll(b, 0.1), 0);
    double dt = now_s() - t0;
    ck_assert(dt >= 0.09 && dt < 2.0 * TIME_SCALE);
    ck_assert_int_eq(mproc_conn_send_bytes(a, "x", 1), 0);
    ck_assert_int_eq(mproc_conn_poll(b, MPROC_FOREVER), 1);
    ck_assert_int_eq(mproc_conn_poll(b, 0.0 / 0.0), MPROC_EINVAL);
    mproc_conn_close(a);
    mproc_conn_close(b);
}
END_TEST

START_TEST(recv_over_limit_fails_and_closes_connection)
{
    mproc_conn *a, *b;
    ck_assert_int_eq(mproc_pipe(&a, &b, true), 0);
    ck_assert_int_eq(mproc_conn_set_limit(b, 10), 0);
    ck_assert_int_eq(mproc_conn_send_bytes(a, "0123456789", 10), 0);
    ck_assert_int_eq(mproc_conn_send_bytes(a, "0123456789A", 11), 0);
    char buf[32];
    size_t len;
    ck_assert_int_eq(mproc_conn_recv_bytes(b, buf, sizeof buf, &len), 0);
    ck_assert_int_eq(mproc_conn_recv_bytes(b, buf, sizeof buf, &len),
                     MPROC_EPROTO);
    ck_assert_int_eq(mproc_conn_recv_bytes(b, buf, sizeof buf, &len),
                     MPROC_EBADF);
    ck_assert_int_eq(mproc_conn_fileno(b), MPROC_EBADF);
    /* The peer sees the connection closed. */
    ck_assert_int_eq(mproc_conn_recv_bytes(a, buf, sizeof buf, &len),
                     MPROC_EOF);
    mproc_conn_close(a);
    mproc_conn_close(b);
}
END_TEST

START_TEST(default_limit_refuses_over_one_gib)
{
    mproc_conn *a, *b;
    ck_assert_int_eq(mproc_pipe(&a, &b, true), 0);
    unsigned char hdr[4];
    be32(hdr, (1u << 30) + 1);
    raw_write(a, hdr, 4);
    void *p = NULL;
    size_t len;
    ck_assert_int_eq(mproc_conn_recv_bytes_alloc(b, &p, &len), MPROC_EPROTO);
    ck_assert_ptr_null(p);
    mproc_conn_close(a);
    mproc_conn_close(b);
}
END_TEST

START_TEST(negative_length_is_protocol_error)
{
    mproc_conn *a, *b;
    ck_assert_int_eq(mproc_pipe(&a, &b, true), 0);
    unsigned char hdr[4];
    be32(hdr, (uint32_t)-2);
    raw_write(a, hdr, 4);
    char buf[8];
    size_t len;
    ck_assert_int_eq(mproc_conn_recv_bytes(b, buf, sizeof buf, &len),
                     MPROC_EPROTO);
    mproc_conn_close(a);
    mproc_conn_close(b);
}
END_TEST

START_TEST(truncated_frame_is_protocol_error)
{
    static const int cut[] = {2, 7}; /* inside the header, the payload */
    for (int i = 0; i < 2; i++) {
        mproc_conn *a, *b;
        ck_assert_int_eq(mproc_pipe(&a, &b, true), 0);
        unsigned char frame[14];
        be32(frame, 10);
        memcpy(frame + 4, "0123456789", 10);
        raw_write(a, frame, (size_t)cut[i]);
        mproc_conn_close(a);
        void *p = NULL;
        size_t len;
        ck_assert_int_eq(mproc_conn_recv_bytes_alloc(b, &p, &len),
                         MPROC_EPROTO);
        mproc_conn_close(b);
    }
}
END_TEST

/* The child writes a frame a byte at a time, 2 ms apart: the receiver's
 * spin finds part of the header or nothing, and it blocks for the rest. */
static int trickle_frame(void *arg)
{
    mproc_conn *a = arg;
    unsigned char frame[4 + 5];
    be32(frame, 5);
    memcpy(frame + 4, "hello", 5);
    for (size_t i = 0; i < sizeof frame; i++) {
        usleep(2000);
        if (write(mproc_conn_fileno(a), frame + i, 1) != 1)
            return 1;
    }
    return 0;
}

START_TEST(frame_arriving_a_byte_at_a_time_is_received_whole)
{
    mproc_conn *a, *b;
    ck_assert_int_eq(mproc_pipe(&a, &b, true), 0);
    for (int round = 0; round < 3; round++) {
        pid_t pid = spawn(trickle_frame, a);
        char buf[16];
        size_t len = 0;
        ck_assert_int_eq(mproc_conn_recv_bytes(b, buf, sizeof buf, &len), 0);
        ck_assert_uint_eq(len, 5);
        ck_assert_mem_eq(buf, "hello", 5);
        ck_assert_int_eq(child_exit_status(pid), 0);
    }
    mproc_conn_close(a);
    mproc_conn_close(b);
}
END_TEST

START_TEST(eight_byte_length_form_is_accepted)
{
    mproc_conn *a, *b;
    ck_assert_int_eq(mproc_pipe(&a, &b, true), 0);
    unsigned char frame[17] = {0xff, 0xff, 0xff, 0xff, 0,   0,   0,   0,  0,
                               0,    0,    5,    'h',  'e', 'l', 'l', 'o'};
    raw_write(a, frame, sizeof frame);
    char buf[8];
    size_t len;
    ck_assert_int_eq(mproc_conn_recv_bytes(b, buf, sizeof buf, &len), 0);
    ck_assert_uint_eq(len, 5);
    ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
    /* An 8-byte length over the limit fails like any other. */
    frame[4] = 1;
    raw_write(a, frame, 12);
    ck_assert_int_eq(mproc_conn_recv_bytes(b, buf, sizeof buf, &len),
                     MPROC_EPROTO);
    mproc_conn_close(a);
    mproc_conn_close(b);
}
END_TEST

struct big_send {
    mproc_conn *c;
    const void *buf;
    size_t len;
    int rc;
};

static void *big_sender(void *arg)
{
    struct big_send *s = arg;
    s->rc = mproc_conn_send_bytes(s->c, s->buf, s->len);
    return NULL;
}

START_TEST(send_over_2gib_uses_eight_byte_header)
{
    /* 2 GiB + 3 of untouched zeros: only the pages sent before the reader
     * hangs up are ever faulted in. */
    size_t n = ((size_t)1 << 31) + 3;
    char *zeros = mmap(NULL, n, PROT_READ,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    ck_assert_ptr_ne(zeros, MAP_FAILED);
    mproc_conn *a, *b;
    ck_assert_int_eq(mproc_pipe(&a, &b, false), 0);
    struct big_send s = {b, zeros, n, -1};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, big_sender, &s), 0);
    int fd = mproc_conn_fileno(a);
    unsigned char hdr[12];
    size_t got = 0;
    while (got < sizeof hdr) {
        ssize_t r = read(fd, hdr + got, sizeof hdr - got);
        ck_assert_int_gt(r, 0);
        got += (size_t)r;
    }
    static const unsigned char want[12] = {0xff, 0xff, 0xff, 0xff, 0, 0,
                                           0,    0,    0x80, 0,    0, 3};
    ck_assert_int_eq(memcmp(hdr, want, 12), 0);
    static char sink[1 << 20];
    size_t left = sizeof sink;
    while (left > 0) { /* the start of the payload, as sent */
        ssize_t r = read(fd, sink, left);
        ck_assert_int_gt(r, 0);
        ck_assert(memchr(sink, 1, (size_t)r) == NULL);
        left -= (size_t)r;
    }
    mproc_conn_close(a); /* the sender now fails, without SIGPIPE */
    pthread_join(t, NULL);
    ck_assert_int_eq(s.rc, MPROC_EOF);
    ck_assert_int_eq(mproc_conn_send_bytes(b, "x", 1), MPROC_EBADF);
    munmap(zeros, n);
    mproc_conn_close(b);
}
END_TEST

START_TEST(wait_reports_the_ready_fds)
{
    mproc_conn *a[3], *b[3];
    int fds[3], ready[3];
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(mproc_pipe(&a[i], &b[i], true), 0);
        fds[i] = mproc_conn_fileno(b[i]);
    }
    ck_assert_int_eq(mproc_conn_send_bytes(a[1], "x", 1), 0);
    ck_assert_int_eq(mproc_wait(fds, 3, MPROC_FOREVER, ready), 1);
    ck_assert(!ready[0] && ready[1] && !ready[2]);
    mproc_conn_close(a[2]); /* a hangup counts as ready */
    ck_assert_int_eq(mproc_wait(fds, 3, 0, ready), 2);
    ck_assert(!ready[0] && ready[1] && ready[2]);
    for (int i = 0; i < 3; i++) {
        if (i != 2)
            mproc_conn_close(a[i]);
        mproc_conn_close(b[i]);
    }
}
END_TEST

START_TEST(wait_times_out_with_none_ready)
{
    mproc_conn *a, *b;
    ck_assert_int_eq(mproc_pipe(&a, &b, true), 0);
    int fd = mproc_conn_fileno(b), ready = 7;
    ck_assert_int_eq(mproc_wait(&fd, 1, 0, &ready), 0);
    ck_assert_int_eq(ready, 0);
    double t0 = now_s();
    ck_assert_int_eq(mproc_wait(&fd, 1, 0.1, &ready), 0);
    ck_assert(now_s() - t0 >= 0.09);
    mproc_conn_close(a);
    mproc_conn_close(b);
}
END_TEST

START_TEST(wait_is_not_interrupted_by_signals)
{
    alarm_every(20000);
    mproc_conn *a, *b;
    ck_assert_int_eq(mproc_pipe(&a, &b, true), 0);
    int fd = mproc_conn_fileno(b), ready;
    double t0 = now_s();
    ck_assert_int_eq(mproc_wait(&fd, 1, 0.3, &ready), 0);
    ck_assert(now_s() - t0 >= 0.29);
    ck_assert_int_eq(mproc_conn_poll(b, 0.1), 0);
    alarm_every(0);
    mproc_conn_close(a);
    mproc_conn_close(b);
}
END_TEST

static int quick_exit_target(void *arg, size_t len)
{
    (void)arg;
    (void)len;
    return 3;
}

START_TEST(wait_sees_a_process_sentinel)
{
    mproc_process *p = start_process(quick_exit_target, NULL, 0);
    if (mproc_process_sentinel(p) == -ENOSYS) { /* valgrind < 3.20 */
        fprintf(stderr, "skip: no pidfd_open here, so no sentinel\n");
        ck_assert_int_eq(mproc_process_join(p, MPROC_FOREVER), 0);
        mproc_process_destroy(p);
        return;
    }
    mproc_conn *a, *b;
    ck_assert_int_eq(mproc_pipe(&a, &b, true), 0);
    int fds[2] = {mproc_conn_fileno(b), mproc_process_sentinel(p)}, ready[2];
    ck_assert_int_eq(mproc_wait(fds, 2, 10.0 * TIME_SCALE, ready), 1);
    ck_assert(!ready[0] && ready[1]);
    ck_assert_int_eq(mproc_process_join(p, MPROC_FOREVER), 0);
    mproc_process_destroy(p);
    mproc_conn_close(a);
    mproc_conn_close(b);
}
END_TEST

START_TEST(wait_rejects_bad_fds)
{
    int fds[1] = {-1}, ready[1];
    ck_assert_int_eq(mproc_wait(fds, 1, 0, ready), MPROC_EBADF);
    int closed[1];
    int pv[2];
    ck_assert_int_eq(pipe(pv), 0);
    close(pv[0]);
    close(pv[1]);
    closed[0] = pv[0];
    ck_assert_int_eq(mproc_wait(closed, 1, 0, ready), MPROC_EBADF);
    ck_assert_int_eq(mproc_wait(NULL, 1, 0, ready), MPROC_EINVAL);
}
END_TEST

/* A client child: connects with the given key, echoes one message. */
struct client_arg {
    const char *address;
    const void *key;
    size_t keylen;
    mproc_conn_opts opts;
    int expect; /* the result mproc_client_with must give */
};

static int echo_client(void *arg)
{
    struct client_arg *ca = arg;
    mproc_conn *c = NULL;
    int rc = mproc_client_with(&c, ca->address, ca->key, ca->keylen, &ca->opts);
    if (rc != ca->expect)
        return 10;
    if (rc < 0)
        return 0;
    void *p;
    size_t len;
    if (mproc_conn_recv_bytes_alloc(c, &p, &len) != 0)
        return 11;
    rc = mproc_conn_send_bytes(c, p, len);
    free(p);
    mproc_conn_close(c);
    return rc == 0 ? 0 : 12;
}

/* Accepts one client of the child and checks an echo through it. */
static void accept_and_echo(mproc_listener *l, struct client_arg *ca)
{
    ca->address = mproc_listener_address(l);
    pid_t pid = spawn(echo_client, ca);
    mproc_conn *c;
    ck_assert_int_eq(mproc_listener_accept(l, &c, 10.0 * TIME_SCALE), 0);
    ck_assert_int_eq(mproc_conn_send_bytes(c, "echo me", 7), 0);
    char buf[16];
    size_t len;
    ck_assert_int_eq(mproc_conn_recv_bytes(c, buf, sizeof buf, &len), 0);
    ck_assert_uint_eq(len, 7);
    ck_assert_int_eq(memcmp(buf, "echo me", 7), 0);
    mproc_conn_close(c);
    ck_assert_int_eq(child_exit_status(pid), 0);
}

START_TEST(listener_ipc_authenticates_and_echoes)
{
    char path[64], url[80];
    snprintf(path, sizeof path, "/tmp/mproc-test-%d.sock", getpid());
    snprintf(url, sizeof url, "ipc://%s", path);
    mproc_listener *l;
    ck_assert_int_eq(mproc_listener_create(&l, url, KEY, strlen(KEY)), 0);
    ck_assert_str_eq(mproc_listener_address(l), url);
    struct client_arg ca = {.key = KEY, .keylen = strlen(KEY)};
    accept_and_echo(l, &ca);
    mproc_listener_close(l);
}
END_TEST

START_TEST(listener_close_unlinks_ipc_path)
{
    char path[64], url[80];
    snprintf(path, sizeof path, "/tmp/mproc-test-unlink-%d.sock", getpid());
    snprintf(url, sizeof url, "ipc://%s", path);
    mproc_listener *l, *l2;
    ck_assert_int_eq(mproc_listener_create(&l, url, NULL, 0), 0);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(mproc_listener_create(&l2, url, NULL, 0), -EADDRINUSE);
    ck_assert_int_eq(stat(path, &st), 0); /* a failed bind removes nothing */
    mproc_listener_close(l);
    ck_assert_int_eq(stat(path, &st), -1);
}
END_TEST

START_TEST(listener_abstract_autobind_reports_name)
{
    mproc_listener *l;
    ck_assert_int_eq(mproc_listener_create(&l, "abstract://", KEY, 3), 0);
    const char *addr = mproc_listener_address(l);
    ck_assert_int_eq(strncmp(addr, "abstract://", 11), 0);
    ck_assert_uint_gt(strlen(addr), 11);
    struct client_arg ca = {.key = KEY, .keylen = 3};
    accept_and_echo(l, &ca);
    mproc_listener_close(l);
}
END_TEST

START_TEST(listener_tcp_port_zero_reports_bound_port)
{
    static const char *urls[] = {"tcp://127.0.0.1:0", "tcp://[::1]:0",
                                 "tcp://localhost:0"};
    for (int i = 0; i < 3; i++) {
        mproc_listener *l;
        int rc = mproc_listener_create(&l, urls[i], KEY, strlen(KEY));
        if (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT) {
            fprintf(stderr, "skip %s: no such interface\n", urls[i]);
            continue;
        }
        ck_assert_int_eq(rc, 0);
        const char *addr = mproc_listener_address(l);
        const char *port = strrchr(addr, ':') + 1;
        ck_assert_int_gt(atoi(port), 0);
        if (i == 1)
            ck_assert_int_eq(strncmp(addr, "tcp://[::1]:", 12), 0);
        struct client_arg ca = {.key = KEY, .keylen = strlen(KEY)};
        accept_and_echo(l, &ca);
        mproc_listener_close(l);
    }
}
END_TEST

START_TEST(listener_rejects_malformed_addresses)
{
    static const char *bad[] = {
        "",
        "foo",
        "ipc://",
        "tcp://",
        "tcp://host",
        "tcp://:-1",
        "tcp://h:70000",
        "tcp://::1:5",
        "tcp://[::1",
        "tcp://[]:1",
        "tcp://h:12a",
        "udp://h:1",
        "ipc://"
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mproc_listener *l = NULL;
        ck_assert_msg(mproc_listener_create(&l, bad[i], NULL, 0) ==
                          MPROC_EINVAL,
                      "%s", bad[i]);
        ck_assert_ptr_null(l);
    }
    mproc_listener *l;
    ck_assert_int_eq(mproc_listener_create(&l, NULL, NULL, 0), MPROC_EINVAL);
    mproc_conn *c;
    ck_assert_int_eq(mproc_client(&c, "tcp://:5", NULL, 0), MPROC_EINVAL);
    ck_assert_int_eq(mproc_client(&c, "abstract://", NULL, 0), MPROC_EINVAL);
    mproc_conn_opts o = {.digest = "sha512"};
    ck_assert_int_eq(mproc_listener_create_with(&l, "abstract://", NULL, 0, &o),
                     MPROC_EINVAL);
}
END_TEST

START_TEST(client_to_missing_address_fails)
{
    mproc_conn *c = NULL;
    ck_assert_int_eq(mproc_client(&c, "ipc:///nonexistent/mproc.sock", NULL, 0),
                     -ENOENT);
    ck_assert_int_eq(mproc_client(&c, abstract_addr("missing"), NULL, 0),
                     -ECONNREFUSED);
    ck_assert_ptr_null(c);
}
END_TEST

START_TEST(wrong_key_fails_on_both_sides)
{
    mproc_listener *l;
    ck_assert_int_eq(
        mproc_listener_create(&l, abstract_addr("wrongkey"), KEY, strlen(KEY)),
        0);
    struct client_arg ca = {.address = mproc_listener_address(l),
                            .key = "other key",
                            .keylen = 9,
                            .expect = MPROC_EAUTH};
    int before = open_fds();
    pid_t pid = spawn(echo_client, &ca);
    mproc_conn *c = NULL;
    ck_assert_int_eq(mproc_listener_accept(l, &c, 10.0 * TIME_SCALE),
                     MPROC_EAUTH);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(child_exit_status(pid), 0);
    ck_assert_int_eq(open_fds(), before);
    /* The listener stays usable. */
    ca.key = KEY;
    ca.keylen = strlen(KEY);
    ca.expect = 0;
    accept_and_echo(l, &ca);
    mproc_listener_close(l);
}
END_TEST

START_TEST(empty_key_authenticates)
{
    mproc_listener *l;
    ck_assert_int_eq(mproc_listener_create(&l, abstract_addr("empty"), "", 0),
                     0);
    struct client_arg ca = {.key = "", .keylen = 0};
    accept_and_echo(l, &ca);
    mproc_listener_close(l);
}
END_TEST

START_TEST(no_key_skips_the_handshake)
{
    mproc_listener *l;
    ck_assert_int_eq(mproc_listener_create(&l, abstract_addr("nokey"), NULL, 0),
                     0);
    struct client_arg ca = {0};
    accept_and_echo(l, &ca);
    mproc_listener_close(l);
}
END_TEST

START_TEST(every_digest_authenticates_both_ways)
{
    static const char *names[] = {NULL,       "md5",      "sha256", "sha384",
                                  "sha3_256", "sha3_384", "legacy"};
    mproc_listener *l;
    for (size_t s = 0; s < sizeof names / sizeof names[0]; s++) {
        mproc_conn_opts so = {.digest = names[s]};
        ck_assert_int_eq(mproc_listener_create_with(&l, "abstract://", KEY,
                                                    strlen(KEY), &so),
                         0);
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
            struct client_arg ca = {.key = KEY, .keylen = strlen(KEY)};
            ca.opts.digest = names[k];
            accept_and_echo(l, &ca);
        }
        mproc_listener_close(l);
    }
}
END_TEST

START_TEST(accept_times_out_without_a_client)
{
    mproc_listener *l;
    ck_assert_int_eq(mproc_listener_create(&l, "abstract://", NULL, 0), 0);
    mproc_conn *c;
    ck_assert_int_eq(mproc_listener_accept(l, &c, 0), MPROC_EAGAIN);
    double t0 = now_s();
    ck_assert_int_eq(mproc_listener_accept(l, &c, 0.1), MPROC_ETIMEDOUT);
    ck_assert(now_s() - t0 >= 0.09);
    mproc_listener_close(l);
}
END_TEST

/* A raw peer: connects without the library and does the given thing. */
struct raw_peer {
    const char *address;
    int what; /* 0: stall, 1: answer with an oversized frame */
};

static int raw_client(void *arg)
{
    struct raw_peer *rp = arg;
    mproc_conn *c;
    if (mproc_client(&c, rp->address, NULL, 0) != 0)
        return 10;
    void *p;
    size_t len;
    if (mproc_conn_recv_bytes_alloc(c, &p, &len) != 0)
        return 11;
    free(p);
    if (rp->what == 0) {
        pause(); /* stall until killed */
    } else {
        static char junk[300];
        mproc_conn_send_bytes(c, junk, sizeof junk);
        mproc_conn_recv_bytes_alloc(c, &p, &len); /* wait for the close */
    }
    mproc_conn_close(c);
    return 0;
}

START_TEST(accept_bounds_a_stalled_handshake)
{
    mproc_conn_opts o = {.handshake_timeout = 0.2};
    mproc_listener *l;
    ck_assert_int_eq(
        mproc_listener_create_with(&l, "abstract://", KEY, strlen(KEY), &o), 0);
    struct raw_peer rp = {mproc_listener_address(l), 0};
    pid_t pid = spawn(raw_client, &rp);
    mproc_conn *c;
    double t0 = now_s();
    ck_assert_int_eq(mproc_listener_accept(l, &c, 10.0 * TIME_SCALE),
                     MPROC_ETIMEDOUT);
    ck_assert(now_s() - t0 < 5.0 * TIME_SCALE);
    kill(pid, SIGKILL);
    child_exit_status(pid);
    mproc_listener_close(l);
}
END_TEST

START_TEST(accept_rejects_an_oversized_handshake_frame)
{
    mproc_listener *l;
    ck_assert_int_eq(mproc_listener_create(&l, "abstract://", KEY, strlen(KEY)),
                     0);
    struct raw_peer rp = {mproc_listener_address(l), 1};
    pid_t pid = spawn(raw_client, &rp);
    mproc_conn *c;
    ck_assert_int_eq(mproc_listener_accept(l, &c, 10.0 * TIME_SCALE),
                     MPROC_EPROTO);
    ck_assert_int_eq(child_exit_status(pid), 0);
    mproc_listener_close(l);
}
END_TEST

static int silent_server(void *arg)
{
    mproc_listener *l = arg;
    mproc_conn *c;
    if (mproc_listener_accept(l, &c, 10.0 * TIME_SCALE) != 0)
        return 1;
    pause();
    return 0;
}

START_TEST(client_bounds_a_stalled_handshake)
{
    mproc_listener *l;
    ck_assert_int_eq(mproc_listener_create(&l, "abstract://", NULL, 0), 0);
    pid_t pid = spawn(silent_server, l);
    mproc_conn_opts o = {.handshake_timeout = 0.2};
    mproc_conn *c;
    double t0 = now_s();
    ck_assert_int_eq(
        mproc_client_with(&c, mproc_listener_address(l), KEY, strlen(KEY), &o),
        MPROC_ETIMEDOUT);
    ck_assert(now_s() - t0 < 5.0 * TIME_SCALE);
    kill(pid, SIGKILL);
    child_exit_status(pid);
    mproc_listener_close(l);
}
END_TEST

START_TEST(close_accepts_null)
{
    mproc_conn_close(NULL);
    mproc_listener_close(NULL);
}
END_TEST

START_TEST(pipes_leak_no_fds)
{
    int before = open_fds();
    for (int i = 0; i < 50; i++) {
        mproc_conn *a, *b;
        ck_assert_int_eq(mproc_pipe(&a, &b, i % 2), 0);
        mproc_conn_close(a);
        mproc_conn_close(b);
    }
    ck_assert_int_eq(open_fds(), before);
}
END_TEST

static int flood(void *arg)
{
    mproc_conn *c = arg;
    static unsigned char buf[256 << 10];
    for (unsigned i = 0;; i++)
        if (mproc_conn_send_bytes(c, buf, (i * 7919u) % sizeof buf) != 0)
            return 1;
}

START_TEST(peer_killed_mid_stream_gives_eof_or_eproto)
{
    srand((unsigned)getpid());
    for (int round = 0; round < 40; round++) {
        mproc_conn *a, *b;
        ck_assert_int_eq(mproc_pipe(&a, &b, false), 0);
        pid_t pid = spawn(flood, b);
        mproc_conn_close(b);
        int stop = rand() % 50, rc = 0;
        for (int i = 0; rc == 0; i++) {
            if (i == stop)
                kill(pid, SIGKILL);
            void *p;
            size_t len;
            rc = mproc_conn_recv_bytes_alloc(a, &p, &len);
            if (rc == 0)
                free(p);
        }
        ck_assert_msg(rc == MPROC_EOF || rc == MPROC_EPROTO, "%s",
                      mproc_err_name(rc));
        child_exit_status(pid);
        mproc_conn_close(a);
    }
}
END_TEST

START_TEST(client_killed_mid_handshake_leaves_listener_usable)
{
    mproc_conn_opts o = {.handshake_timeout = 2.0};
    mproc_listener *l;
    ck_assert_int_eq(
        mproc_listener_create_with(&l, "abstract://", KEY, strlen(KEY), &o), 0);
    struct client_arg ca = {.address = mproc_listener_address(l),
                            .key = KEY,
                            .keylen = strlen(KEY)};
    srand((unsigned)getpid());
    int before = open_fds();
    for (int round = 0; round < 40; round++) {
        pid_t pid = spawn(echo_client, &ca);
        usleep((useconds_t)(rand() % 3000));
        kill(pid, SIGKILL);
        child_exit_status(pid);
        /* Whatever the client got through before it died is queued: each
         * accept ends at once, and never hangs on the dead peer. */
        mproc_conn *c;
        int rc;
        while ((rc = mproc_listener_accept(l, &c, 0)) != MPROC_EAGAIN) {
            ck_assert_msg(rc == 0 || rc == MPROC_EOF || rc == MPROC_EPROTO,
                          "%s", mproc_err_name(rc));
            if (rc == 0)
                mproc_conn_close(c);
        }
    }
    ck_assert_int_eq(open_fds(), before);
    accept_and_echo(l, &ca);
    mproc_listener_close(l);
}
END_TEST

static bool cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFD);
    return fl >= 0 && (fl & FD_CLOEXEC);
}

START_TEST(every_fd_is_close_on_exec)
{
    mproc_conn *a, *b;
    ck_assert_int_eq(mproc_pipe(&a, &b, false), 0);
    ck_assert(cloexec(mproc_conn_fileno(a)) && cloexec(mproc_conn_fileno(b)));
    mproc_conn_close(a);
    mproc_conn_close(b);
    mproc_listener *l;
    ck_assert_int_eq(mproc_listener_create(&l, "tcp://127.0.0.1:0", NULL, 0),
                     0);
    mproc_conn *c, *s;
    ck_assert_int_eq(mproc_client(&c, mproc_listener_address(l), NULL, 0), 0);
    ck_assert_int_eq(mproc_listener_accept(l, &s, 10.0 * TIME_SCALE), 0);
    ck_assert(cloexec(mproc_conn_fileno(c)) && cloexec(mproc_conn_fileno(s)));
    mproc_conn_close(c);
    mproc_conn_close(s);
    mproc_listener_close(l);
}
END_TEST

/* ---- references ---- */

/*
 * Opens the connection end in its argument bytes (nothing else of its
 * parent). A duplex end sends an empty message, then answers each message
 * with the same bytes and a "!" after them, until "bye" (not EOF: a
 * forked child holds the parent's end too). A simplex writing
 * end (whose poll is refused) sends "hello"; a reading end (whose send is
 * refused) checks that it receives "hello". Exits 0, or the step that
 * failed.
 */
static int ref_conn_child(void *arg, size_t len)
{
    mproc_conn *c;
    if (mproc_conn_open(&c, ref_arg(arg, len, 0)) != 0)
        return 1;
    char buf[64];
    size_t n = 0;
    int rc = 0;
    if (mproc_conn_poll(c, 0) == MPROC_EBADF) { /* a simplex writing end */
        if (mproc_conn_send_bytes(c, "hello", 5) != 0)
            rc = 2;
    } else if (mproc_conn_send_bytes(c, "", 0) == MPROC_EBADF) { /* reading */
        if (mproc_conn_recv_bytes(c, buf, sizeof buf, &n) != 0 || n != 5 ||
            memcmp(buf, "hello", 5) != 0)
            rc = 3;
    } else { /* duplex: the empty message was sent, now echo */
        while (rc == 0 &&
               (rc = mproc_conn_recv_bytes(c, buf, sizeof buf - 1, &n)) == 0 &&
               !(n == 3 && memcmp(buf, "bye", 3) == 0)) {
            buf[n] = '!';
            rc = mproc_conn_send_bytes(c, buf, n + 1);
        }
        rc = rc == 0 ? 0 : 4;
    }
    mproc_conn_close(c);
    return rc;
}

START_TEST(conn_opened_in_child_talks_with_parent)
{
    mproc_conn *a, *b;
    mproc_ref ref;
    ck_assert_int_eq(mproc_pipe(&a, &b, true), 0);
    ck_assert_int_eq(mproc_conn_ref(b, &ref), 0);
    mproc_process *p = start_process(ref_conn_child, &ref, sizeof ref);
    mproc_conn_close(b); /* the child holds its own descriptor of b */
    char buf[64];
    size_t n = 0;
    ck_assert_int_eq(mproc_conn_recv_bytes(a, buf, sizeof buf, &n), 0);
    ck_assert_uint_eq(n, 0); /* the child's probe of its end */
    for (int i = 0; i < 100; i++) {
        char msg[16];
        int m = snprintf(msg, sizeof msg, "ping %d", i);
        ck_assert_int_eq(mproc_conn_send_bytes(a, msg, (size_t)m), 0);
        ck_assert_int_eq(mproc_conn_recv_bytes(a, buf, sizeof buf, &n), 0);
        ck_assert_uint_eq(n, (size_t)m + 1);
        ck_assert(memcmp(buf, msg, (size_t)m) == 0 && buf[m] == '!');
    }
    ck_assert_int_eq(mproc_conn_send_bytes(a, "bye", 3), 0);
    ck_assert_int_eq(finish_process(p), 0);
    mproc_conn_close(a);
}
END_TEST

/* A simplex end opened elsewhere goes the one way its original goes. */
START_TEST(conn_opened_simplex_ends_keep_their_direction)
{
    mproc_conn *r, *w;
    mproc_ref ref;
    char buf[16];
    size_t n = 0;
    ck_assert_int_eq(mproc_pipe(&r, &w, false), 0);
    ck_assert_int_eq(mproc_conn_ref(w, &ref), 0);
    ck_assert_int_eq(run_process(ref_conn_child, &ref, sizeof ref), 0);
    ck_assert_int_eq(mproc_conn_recv_bytes(r, buf, sizeof buf, &n), 0);
    ck_assert(n == 5 && memcmp(buf, "hello", 5) == 0);

    ck_assert_int_eq(mproc_conn_ref(r, &ref), 0);
    mproc_process *p = start_process(ref_conn_child, &ref, sizeof ref);
    ck_assert_int_eq(mproc_conn_send_bytes(w, "hello", 5), 0);
    ck_assert_int_eq(finish_process(p), 0);
    mproc_conn_close(r);
    mproc_conn_close(w);
}
END_TEST

static mproc_conn *late_conn;

static int conn_ref_now(mproc_ref *out)
{
    return mproc_conn_ref(late_conn, out);
}

static int open_conn(mproc_ref ref)
{
    mproc_conn *c;
    int rc = mproc_conn_open(&c, ref);
    mproc_conn_close(rc == 0 ? c : NULL);
    return rc;
}

static void close_late_conn(void)
{
    mproc_conn_close(late_conn);
}

START_TEST(conn_open_of_reference_not_given_is_enoent)
{
    mproc_conn *other;
    ck_assert_int_eq(mproc_pipe(&late_conn, &other, true), 0);
    assert_only_given_opens(conn_ref_now, open_conn, close_late_conn);
    mproc_conn_close(other);
}
END_TEST

START_TEST(conn_open_as_another_kind_is_einval)
{
    mproc_conn *a, *b, *o = NULL;
    mproc_ref ref, other_way;
    ck_assert_int_eq(mproc_pipe(&a, &b, false), 0);
    ck_assert_int_eq(mproc_conn_ref(a, &ref), 0);
    assert_kind_kept(ref, open_conn);
    ck_assert_int_eq(mproc_conn_ref(b, &other_way), 0);
    mproc_ref forged = {{ref.w[0], other_way.w[1]}}; /* read end as write */
    ck_assert_int_eq(mproc_conn_open(&o, forged), MPROC_EINVAL);
    ck_assert_ptr_null(o);
    ck_assert_int_eq(mproc_conn_open(NULL, ref), MPROC_EINVAL);
    ck_assert_int_eq(mproc_conn_ref(a, NULL), MPROC_EINVAL);
    mproc_conn_close(a);
    mproc_conn_close(b);
}
END_TEST

/* Closing an opened end closes only its own descriptor: the original
 * works on, and the peer sees no EOF while it is open. */
START_TEST(conn_close_of_opened_end_leaves_the_original)
{
    mproc_conn *a, *b, *o;
    mproc_ref ref;
    char buf[16];
    size_t n = 0;
    ck_assert_int_eq(mproc_pipe(&a, &b, true), 0);
    ck_assert_int_eq(mproc_conn_ref(b, &ref), 0);
    int fds = open_fds();
    ck_assert_int_eq(mproc_conn_open(&o, ref), 0);
    ck_assert_int_eq(open_fds(), fds + 1);
    ck_assert_int_eq(mproc_conn_send_bytes(o, "via o", 5), 0);
    mproc_conn_close(o);
    ck_assert_int_eq(open_fds(), fds);
    ck_assert_int_eq(mproc_conn_recv_bytes(a, buf, sizeof buf, &n), 0);
    ck_assert(n == 5 && memcmp(buf, "via o", 5) == 0);
    ck_assert_int_eq(mproc_conn_poll(a, 0), 0); /* no EOF */
    ck_assert_int_eq(mproc_conn_send_bytes(a, "to b", 4), 0);
    ck_assert_int_eq(mproc_conn_recv_bytes(b, buf, sizeof buf, &n), 0);
    ck_assert(n == 4 && memcmp(buf, "to b", 4) == 0);
    mproc_conn_close(a);
    mproc_conn_close(b);
}
END_TEST

static Suite *connection_suite(void)
{
    Suite *s = suite_create("connection");
    TCase *tc = tcase_create("pipe");
    tcase_add_test(tc, pipe_duplex_sends_both_ways);
    tcase_add_test(tc, pipe_simplex_ends_refuse_the_wrong_direction);
    tcase_add_test(tc, recv_into_small_buffer_keeps_message);
    tcase_add_test(tc, recv_alloc_returns_empty_message);
    tcase_add_test(tc, recv_alloc_returns_large_message_intact);
    tcase_add_test(tc, recv_returns_eof_when_peer_closed);
    tcase_add_test(tc, send_to_closed_peer_returns_eof_without_sigpipe);
    tcase_add_test(tc, poll_times_out_when_nothing_waits);
    tcase_add_test(tc, pipes_leak_no_fds);
    tcase_add_test(tc, close_accepts_null);
    suite_add_tcase(s, tc);

    tc = tcase_create("ref");
    tcase_add_test(tc, conn_opened_in_child_talks_with_parent);
    tcase_add_test(tc, conn_opened_simplex_ends_keep_their_direction);
    tcase_add_test(tc, conn_open_of_reference_not_given_is_enoent);
    tcase_add_test(tc, conn_open_as_another_kind_is_einval);
    tcase_add_test(tc, conn_close_of_opened_end_leaves_the_original);
    suite_add_tcase(s, tc);

    tc = tcase_create("framing");
    tcase_add_test(tc, recv_over_limit_fails_and_closes_connection);
    tcase_add_test(tc, default_limit_refuses_over_one_gib);
    tcase_add_test(tc, negative_length_is_protocol_error);
    tcase_add_test(tc, truncated_frame_is_protocol_error);
    tcase_add_test(tc, frame_arriving_a_byte_at_a_time_is_received_whole);
    tcase_add_test(tc, eight_byte_length_form_is_accepted);
    suite_add_tcase(s, tc);

    tc = tcase_create("big");
    tcase_set_tags(tc, "stress");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, send_over_2gib_uses_eight_byte_header);
    tcase_add_test(tc, peer_killed_mid_stream_gives_eof_or_eproto);
    tcase_add_test(tc, client_killed_mid_handshake_leaves_listener_usable);
    suite_add_tcase(s, tc);

    tc = tcase_create("wait");
    tcase_add_test(tc, wait_reports_the_ready_fds);
    tcase_add_test(tc, wait_times_out_with_none_ready);
    tcase_add_test(tc, wait_is_not_interrupted_by_signals);
    tcase_add_test(tc, wait_sees_a_process_sentinel);
    tcase_add_test(tc, wait_rejects_bad_fds);
    suite_add_tcase(s, tc);

    tc = tcase_create("listener");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, listener_ipc_authenticates_and_echoes);
    tcase_add_test(tc, listener_close_unlinks_ipc_path);
    tcase_add_test(tc, listener_abstract_autobind_reports_name);
    tcase_add_test(tc, listener_tcp_port_zero_reports_bound_port);
    tcase_add_test(tc, listener_rejects_malformed_addresses);
    tcase_add_test(tc, client_to_missing_address_fails);
    tcase_add_test(tc, wrong_key_fails_on_both_sides);
    tcase_add_test(tc, empty_key_authenticates);
    tcase_add_test(tc, no_key_skips_the_handshake);
    tcase_add_test(tc, every_digest_authenticates_both_ways);
    tcase_add_test(tc, accept_times_out_without_a_client);
    tcase_add_test(tc, accept_bounds_a_stalled_handshake);
    tcase_add_test(tc, accept_rejects_an_oversized_handshake_frame);
    tcase_add_test(tc, client_bounds_a_stalled_handshake);
    tcase_add_test(tc, every_fd_is_close_on_exec);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    test_init(&argc, &argv, NULL);
    return run_suite(connection_suite());
}
