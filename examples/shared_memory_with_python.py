"""Python's side of shared_memory_with_python.c: shm_b of the Python docs'
SharedMemory example, attaching the block a C process created.

Usage: python3 shared_memory_with_python.py NAME

The C process owns the block's name. Python before 3.13 registers even a
block it only attaches with its resource tracker, which unlinks it when
this process exits -- under the C process's feet. So attach with
track=False on 3.13+, and unregister by hand before that.
"""
import array
import sys
from multiprocessing import resource_tracker, shared_memory


def attach(name):
    if sys.version_info >= (3, 13):
        return shared_memory.SharedMemory(name, track=False)
    shm = shared_memory.SharedMemory(name)
    resource_tracker.unregister(shm._name, "shared_memory")
    return shm


def main():
    shm_b = attach(sys.argv[1])
    print("Python sees:", array.array("b", shm_b.buf[:5]))
    shm_b.buf[:5] = b"howdy"
    shm_b.close()


if __name__ == "__main__":
    main()
