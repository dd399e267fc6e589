"""CPython's multiprocessing.Queue (fork): the figures of bench_queue.c.

1->1, 2->2, 4->4 processes moving 64-byte bytes objects through
Queue(1024); ping-pong over two queues; one 64 MiB bytes object.
"""
import multiprocessing as mp
import statistics
import sys
import time

REPS = 5
MSG = b"x" * 64
N_THROUGHPUT = 200000
N_PINGPONG = 10000
BIG = 64 << 20


def consumer(q):
    while q.get() != b"":
        pass


def producer(q, n):
    for _ in range(n):
        q.put(MSG)


def throughput(ctx, producers, consumers, n):
    q = ctx.Queue(1024)
    t0 = time.perf_counter()
    cons = [ctx.Process(target=consumer, args=(q,)) for _ in range(consumers)]
    prods = [ctx.Process(target=producer, args=(q, n // producers))
             for _ in range(producers)]
    for p in cons + prods:
        p.start()
    for p in prods:
        p.join()
    for _ in cons:
        q.put(b"")
    for p in cons:
        p.join()
    return n // producers * producers / (time.perf_counter() - t0)


def echo(req, rep, n):
    for _ in range(n):
        rep.put(req.get())


def pingpong(ctx, n):
    req, rep = ctx.Queue(1024), ctx.Queue(1024)
    p = ctx.Process(target=echo, args=(req, rep, n))
    p.start()
    t0 = time.perf_counter()
    for _ in range(n):
        req.put(MSG)
        rep.get()
    dt = time.perf_counter() - t0
    p.join()
    return dt / n * 1e6


def big_consumer(q, ctl):
    ctl.put(b"r")
    data = q.get()
    ctl.put(b"d" if len(data) == BIG else b"?")


def big(ctx):
    q, ctl = ctx.Queue(), ctx.Queue()
    data = b"\x07" * BIG
    p = ctx.Process(target=big_consumer, args=(q, ctl))
    p.start()
    ctl.get()
    t0 = time.perf_counter()
    q.put(data)
    ctl.get()
    dt = time.perf_counter() - t0
    p.join()
    return BIG / dt / 1e6


def median(fn, *args):
    return statistics.median(fn(*args) for _ in range(REPS))


def main():
    ctx = mp.get_context("fork")
    impl = "CPython %d.%d" % sys.version_info[:2]
    rows = [
        ("queue 1->1 64 B", median(throughput, ctx, 1, 1, N_THROUGHPUT), "msg/s"),
        ("queue 2->2 64 B", median(throughput, ctx, 2, 2, N_THROUGHPUT), "msg/s"),
        ("queue 4->4 64 B", median(throughput, ctx, 4, 4, N_THROUGHPUT), "msg/s"),
        ("queue ping-pong round trip", median(pingpong, ctx, N_PINGPONG), "us"),
        ("queue 64 MiB message", median(big, ctx), "MB/s"),
    ]
    for figure, value, unit in rows:
        print("%s\t%s\t%.4g\t%s" % (figure, impl, value, unit), flush=True)


if __name__ == "__main__":
    main()
