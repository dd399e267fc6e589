"""CPython's multiprocessing.Process (fork) start+join of a child that returns."""
import multiprocessing as mp
import statistics
import sys
import time

N = 200
REPS = 5


def nothing():
    pass


def main():
    ctx = mp.get_context("fork")
    samples = []
    for _ in range(REPS):
        t0 = time.perf_counter()
        for _ in range(N):
            p = ctx.Process(target=nothing)
            p.start()
            p.join()
        samples.append((time.perf_counter() - t0) / N * 1e6)
    impl = "CPython %d.%d" % sys.version_info[:2]
    print("process start+join\t%s\t%.4g\tus" % (impl, statistics.median(samples)))


if __name__ == "__main__":
    main()
