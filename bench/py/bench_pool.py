"""CPython's multiprocessing.Pool (fork) on the figures of bench_pool.c.

Per item / per task, as mproc's: Pool.map of a trivial function over 10^6
ints (automatic chunks); Pool.map(chunksize=1) (over 2*10^4 items: the
figure is per item, and 10^5 would take minutes); apply_async + get one at
a time; apply_async with 10^4 in flight. The pool has os.cpu_count()
workers, as mproc's default. Last, a pool's whole life under each start
method: create, map 1000 one-item tasks, close, join.
"""
import multiprocessing as mp
import statistics
import sys
import time

REPS = 5


def ident(x):
    return x


def per_item(fn, n):
    samples = []
    for _ in range(REPS):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) / n)
    return statistics.median(samples)


def main():
    impl = "CPython %d.%d" % sys.version_info[:2]
    ctx = mp.get_context("fork")
    with ctx.Pool() as pool:
        big = list(range(10**6))
        pool.map(ident, big)
        t = per_item(lambda: pool.map(ident, big), len(big))
        print("pool map 10^6 int64, auto chunks (per item)\t%s\t%.4g\tns"
              % (impl, t * 1e9))

        n1 = 20000
        small = list(range(n1))
        t = per_item(lambda: pool.map(ident, small, chunksize=1), n1)
        print("pool map chunksize=1, 10^5 items (per item)\t%s\t%.4g\tus"
              % (impl, t * 1e6))

        def one_at_a_time(n=2000):
            for i in range(n):
                pool.apply_async(ident, (i,)).get()

        one_at_a_time(200)
        t = per_item(one_at_a_time, 2000)
        print("pool apply_async+get, one at a time (per task)\t%s\t%.4g\tus"
              % (impl, t * 1e6))

        def in_flight(n=10**4):
            rs = [pool.apply_async(ident, (i,)) for i in range(n)]
            for r in rs:
                r.get()

        t = per_item(in_flight, 10**4)
        print("pool apply_async, 10^4 in flight (per task)\t%s\t%.4g\tus"
              % (impl, t * 1e6))
        sys.stdout.flush()
    for method in ("fork", "forkserver", "spawn"):
        lives = []
        for _ in range(REPS):
            t0 = time.perf_counter()
            with mp.get_context(method).Pool() as p:
                p.map(ident, range(1000), chunksize=1)
                p.close()
                p.join()
            lives.append(time.perf_counter() - t0)
        print("pool create+map 1000 tasks+close+join\t%s %s\t%.4g\tms"
              % (impl, method, statistics.median(lives) * 1e3))


if __name__ == "__main__":
    main()
