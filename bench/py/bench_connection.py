"""CPython's multiprocessing Pipe and connection.wait, the figures of
bench/bench_connection.c: 64 B ping-pong with send_bytes/recv_bytes,
256 MiB in 1 MiB messages, and wait over 1000 connections with one ready."""
import multiprocessing as mp
import resource
import statistics
import sys
import time
from multiprocessing.connection import wait

REPS = 5
PINGS = 10000
BULK_MSG = 1 << 20
BULK_N = 256
NCONN = 1000
WAITS = 200


def echo(conn, n):
    for _ in range(n):
        conn.send_bytes(conn.recv_bytes())


def sink(conn, n):
    for _ in range(n):
        conn.recv_bytes()
    conn.send_bytes(b"k")


def pingpong(ctx):
    a, b = ctx.Pipe()
    p = ctx.Process(target=echo, args=(b, PINGS))
    p.start()
    b.close()
    msg = b"x" * 64
    t0 = time.perf_counter()
    for _ in range(PINGS):
        a.send_bytes(msg)
        a.recv_bytes()
    us = (time.perf_counter() - t0) / PINGS * 1e6
    p.join()
    a.close()
    return us


def bulk(ctx):
    a, b = ctx.Pipe()
    p = ctx.Process(target=sink, args=(b, BULK_N))
    p.start()
    b.close()
    msg = b"x" * BULK_MSG
    t0 = time.perf_counter()
    for _ in range(BULK_N):
        a.send_bytes(msg)
    a.recv_bytes()
    ms = (time.perf_counter() - t0) * 1e3
    p.join()
    a.close()
    return ms


def waits(ctx):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2 * NCONN + 64 <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (2 * NCONN + 64, hard))
    pairs = [ctx.Pipe() for _ in range(NCONN)]
    pairs[NCONN // 2][0].send_bytes(b"x")
    readers = [b for _, b in pairs]
    samples = []
    for _ in range(REPS):
        t0 = time.perf_counter()
        for _ in range(WAITS):
            assert len(wait(readers)) == 1
        samples.append((time.perf_counter() - t0) / WAITS * 1e6)
    for a, b in pairs:
        a.close()
        b.close()
    return statistics.median(samples)


def main():
    ctx = mp.get_context("fork")
    impl = "CPython %d.%d" % sys.version_info[:2]
    us = statistics.median(pingpong(ctx) for _ in range(REPS))
    print("pipe ping-pong 64 B\t%s\t%.4g\tus" % (impl, us), flush=True)
    ms = statistics.median(bulk(ctx) for _ in range(REPS))
    print("pipe 256 MiB in 1 MiB msgs\t%s\t%.4g\tms" % (impl, ms), flush=True)
    print("wait over 1000 conns, 1 ready\t%s\t%.4g\tus" % (impl, waits(ctx)),
          flush=True)


if __name__ == "__main__":
    main()
