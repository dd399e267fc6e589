"""CPython's multiprocessing.Process start+join of a child that returns,
under each start method."""
import multiprocessing as mp
import statistics
import sys
import time

REPS = 5
ROUNDS = {"fork": 200, "forkserver": 100, "spawn": 20}


def nothing():
    pass


def measure(method):
    ctx = mp.get_context(method)
    n = ROUNDS[method]
    samples = []
    for _ in range(REPS):
        t0 = time.perf_counter()
        for _ in range(n):
            p = ctx.Process(target=nothing)
            p.start()
            p.join()
        samples.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(samples)


def main():
    impl = "CPython %d.%d" % sys.version_info[:2]
    for method in ("fork", "forkserver", "spawn"):
        print("process start+join\t%s %s\t%.4g\tus" % (impl, method, measure(method)))


if __name__ == "__main__":
    main()
