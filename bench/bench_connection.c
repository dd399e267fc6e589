/*
 * bench_connection.c - Pipe and wait: mproc against the raw floor (a bare
 * socketpair with write/read of exactly the bytes), measured in the same
 * program, the two alternating rep by rep so that machine noise hits both.
 *
 * Figures:
 *   pipe ping-pong 64 B        round trip between two processes (us)
 *   pipe 256 MiB in 1 MiB msgs one process sends, the other receives (ms)
 *   wait over 1000 conns, 1 ready   one mproc_wait call (us)
 */
#include "bench.h"

#include <mproc.h>

#include <poll.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define PINGS 10000
#define MSG 64
#define BULK_MSG (1u << 20)
#define BULK_N 256
#define NCONN 1000
#define WAITS 2000

static void must(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "bench_connection: %s failed\n", what);
        exit(1);
    }
}

static void read_exact(int fd, void *buf, size_t n)
{
    char *p = buf;
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        must(r > 0, "read");
        p += r;
        n -= (size_t)r;
    }
}

static void write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t r = write(fd, p, n);
        must(r > 0, "write");
        p += r;
        n -= (size_t)r;
    }
}

/* --- ping-pong --- */

static double pingpong_mproc(void)
{
    mproc_conn *a, *b;
    must(mproc_pipe(&a, &b, true) == 0, "mproc_pipe");
    char buf[MSG] = {0};
    size_t len;
    pid_t pid = fork();
    if (pid == 0) {
        mproc_conn_close(a);
        for (int i = 0; i < PINGS; i++) {
            must(mproc_conn_recv_bytes(b, buf, sizeof buf, &len) == 0, "recv");
            must(mproc_conn_send_bytes(b, buf, len) == 0, "send");
        }
        _exit(0);
    }
    mproc_conn_close(b);
    double t0 = bench_now();
    for (int i = 0; i < PINGS; i++) {
        must(mproc_conn_send_bytes(a, buf, MSG) == 0, "send");
        must(mproc_conn_recv_bytes(a, buf, sizeof buf, &len) == 0, "recv");
    }
    double us = (bench_now() - t0) / PINGS * 1e6;
    waitpid(pid, NULL, 0);
    mproc_conn_close(a);
    return us;
}

static double pingpong_floor(void)
{
    int sv[2];
    must(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    char buf[MSG] = {0};
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        for (int i = 0; i < PINGS; i++) {
            read_exact(sv[1], buf, MSG);
            write_all(sv[1], buf, MSG);
        }
        _exit(0);
    }
    close(sv[1]);
    double t0 = bench_now();
    for (int i = 0; i < PINGS; i++) {
        write_all(sv[0], buf, MSG);
        read_exact(sv[0], buf, MSG);
    }
    double us = (bench_now() - t0) / PINGS * 1e6;
    waitpid(pid, NULL, 0);
    close(sv[0]);
    return us;
}

/* --- bulk --- */

static char *bulk_buf;

static double bulk_mproc(void)
{
    mproc_conn *a, *b;
    must(mproc_pipe(&a, &b, true) == 0, "mproc_pipe");
    size_t len;
    pid_t pid = fork();
    if (pid == 0) {
        mproc_conn_close(a);
        for (int i = 0; i < BULK_N; i++)
            must(mproc_conn_recv_bytes(b, bulk_buf, BULK_MSG, &len) == 0,
                 "recv");
        must(mproc_conn_send_bytes(b, "k", 1) == 0, "ack");
        _exit(0);
    }
    mproc_conn_close(b);
    double t0 = bench_now();
    for (int i = 0; i < BULK_N; i++)
        must(mproc_conn_send_bytes(a, bulk_buf, BULK_MSG) == 0, "send");
    char ack;
    must(mproc_conn_recv_bytes(a, &ack, 1, &len) == 0, "ack");
    double ms = (bench_now() - t0) * 1e3;
    waitpid(pid, NULL, 0);
    mproc_conn_close(a);
    return ms;
}

static double bulk_floor(void)
{
    int sv[2];
    must(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        for (int i = 0; i < BULK_N; i++)
            read_exact(sv[1], bulk_buf, BULK_MSG);
        write_all(sv[1], "k", 1);
        _exit(0);
    }
    close(sv[1]);
    double t0 = bench_now();
    for (int i = 0; i < BULK_N; i++)
        write_all(sv[0], bulk_buf, BULK_MSG);
    char ack;
    read_exact(sv[0], &ack, 1);
    double ms = (bench_now() - t0) * 1e3;
    waitpid(pid, NULL, 0);
    close(sv[0]);
    return ms;
}

/* --- wait --- */

static mproc_conn *wa[NCONN], *wb[NCONN];
static int wfds[NCONN], wready[NCONN];

static double wait_mproc(void)
{
    double t0 = bench_now();
    for (int i = 0; i < WAITS; i++)
        must(mproc_wait(wfds, NCONN, MPROC_FOREVER, wready) == 1, "wait");
    return (bench_now() - t0) / WAITS * 1e6;
}

static double wait_floor(void)
{
    static struct pollfd p[NCONN];
    double t0 = bench_now();
    for (int i = 0; i < WAITS; i++) {
        for (int k = 0; k < NCONN; k++)
            p[k] = (struct pollfd){.fd = wfds[k], .events = POLLIN};
        must(poll(p, NCONN, -1) == 1, "poll");
    }
    return (bench_now() - t0) / WAITS * 1e6;
}

static void figure(const char *name, const char *unit, double (*mine)(void),
                   double (*floor_fn)(void), const char *floor_name)
{
    double m[REPS], f[REPS];
    for (int r = 0; r < REPS; r++) {
        m[r] = mine();
        f[r] = floor_fn();
    }
    bench_report(name, "mproc", bench_median(m, REPS), unit);
    bench_report(name, floor_name, bench_median(f, REPS), unit);
}

int main(void)
{
    figure("pipe ping-pong 64 B", "us", pingpong_mproc, pingpong_floor,
           "socketpair (floor)");

    bulk_buf = malloc(BULK_MSG);
    must(bulk_buf != NULL, "malloc");
    memset(bulk_buf, 'x', BULK_MSG);
    figure("pipe 256 MiB in 1 MiB msgs", "ms", bulk_mproc, bulk_floor,
           "socketpair (floor)");
    free(bulk_buf);

    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 2 * NCONN + 64 && rl.rlim_max >= 2 * NCONN + 64) {
        rl.rlim_cur = 2 * NCONN + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    for (int i = 0; i < NCONN; i++) {
        must(mproc_pipe(&wa[i], &wb[i], true) == 0, "mproc_pipe (1000)");
        wfds[i] = mproc_conn_fileno(wb[i]);
    }
    must(mproc_conn_send_bytes(wa[NCONN / 2], "x", 1) == 0, "send");
    figure("wait over 1000 conns, 1 ready", "us", wait_mproc, wait_floor,
           "poll(2) (floor)");
    for (int i = 0; i < NCONN; i++) {
        mproc_conn_close(wa[i]);
        mproc_conn_close(wb[i]);
    }
    return 0;
}
