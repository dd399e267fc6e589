"""CPython's multiprocessing Lock, Event, Condition and Barrier (fork
context): the same figures as bench/bench_sync.c."""
import multiprocessing as mp
import statistics
import sys
import time

REPS = 5
UNCONTENDED = 200000
COUNTS = 20000
TRIPS = 2000

ctx = mp.get_context("fork")


def median_of(fn):
    return statistics.median(fn() for _ in range(REPS))


def uncontended(lock):
    acquire, release = lock.acquire, lock.release
    t0 = time.perf_counter()
    for _ in range(UNCONTENDED):
        acquire()
        release()
    return (time.perf_counter() - t0) / UNCONTENDED * 1e9


def count(lock, counter):
    for _ in range(COUNTS):
        with lock:
            counter.value += 1


def counter_run(lock):
    counter = ctx.RawValue("l", 0)
    t0 = time.perf_counter()
    p = ctx.Process(target=count, args=(lock, counter))
    p.start()
    count(lock, counter)
    p.join()
    assert counter.value == 2 * COUNTS
    return (time.perf_counter() - t0) / (2 * COUNTS) * 1e9


def event_pong(a, b):
    for _ in range(TRIPS):
        a.wait()
        a.clear()
        b.set()


def event_run():
    a, b = ctx.Event(), ctx.Event()
    t0 = time.perf_counter()
    p = ctx.Process(target=event_pong, args=(a, b))
    p.start()
    for _ in range(TRIPS):
        a.set()
        b.wait()
        b.clear()
    p.join()
    return (time.perf_counter() - t0) / TRIPS * 1e6


def cond_pong(cond, turn):
    with cond:
        for _ in range(TRIPS):
            while turn.value == 0:
                cond.wait()
            turn.value = 0
            cond.notify()


def cond_run():
    cond = ctx.Condition()
    turn = ctx.RawValue("i", 0)
    t0 = time.perf_counter()
    p = ctx.Process(target=cond_pong, args=(cond, turn))
    p.start()
    with cond:
        for _ in range(TRIPS):
            turn.value = 1
            cond.notify()
            while turn.value == 1:
                cond.wait()
    p.join()
    return (time.perf_counter() - t0) / TRIPS * 1e6


def barrier_rounds(barrier):
    for _ in range(TRIPS):
        barrier.wait()


def barrier_run():
    barrier = ctx.Barrier(2)
    t0 = time.perf_counter()
    p = ctx.Process(target=barrier_rounds, args=(barrier,))
    p.start()
    barrier_rounds(barrier)
    p.join()
    return (time.perf_counter() - t0) / TRIPS * 1e6


def main():
    impl = "CPython %d.%d" % sys.version_info[:2]
    lock = ctx.Lock()
    rows = [
        ("lock acquire+release, uncontended", median_of(lambda: uncontended(lock)), "ns"),
        ("lock: 2 processes increment a counter", median_of(lambda: counter_run(lock)), "ns"),
        ("event set -> wake, round trip", median_of(event_run), "us"),
        ("condition notify -> wake, round trip", median_of(cond_run), "us"),
        ("barrier: 2 processes meet, per round", median_of(barrier_run), "us"),
    ]
    for figure, value, unit in rows:
        print("%s\t%s\t%.4g\t%s" % (figure, impl, value, unit))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
