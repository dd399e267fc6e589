"""CPython's multiprocessing.Value with its lock: two processes each add 1
N times under the lock (`with v.get_lock(): v.value += 1`); wall time per
increment. The same figure as bench/bench_shared.c."""
import multiprocessing as mp
import statistics
import sys
import time

N = 100000  # per process
REPS = 5


def increment(v, n):
    for _ in range(n):
        with v.get_lock():
            v.value += 1


def main():
    ctx = mp.get_context("fork")
    samples = []
    for _ in range(REPS):
        v = ctx.Value("q", 0)
        procs = [ctx.Process(target=increment, args=(v, N)) for _ in range(2)]
        t0 = time.perf_counter()
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        samples.append((time.perf_counter() - t0) / (2 * N) * 1e9)
        assert v.value == 2 * N, v.value
    impl = "CPython %d.%d" % sys.version_info[:2]
    print("Value += 1 under its lock, 2 processes\t%s\t%.4g\tns"
          % (impl, statistics.median(samples)))


if __name__ == "__main__":
    main()
