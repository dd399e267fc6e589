"""SharedMemory interop between this CPython and a C process using mproc.

Usage: python3 shm_interop.py PATH/TO/shm_peer

1. Python creates a block, writes a pattern; C attaches by name, checks it
   and writes an answer; Python checks the answer, and that C's close left
   the name in place; Python unlinks.
2. C creates a block (a random psm_ name); a separate Python process
   attaches it without letting its resource tracker take ownership, checks
   the pattern, writes an answer and exits; C re-attaches (the block must
   have survived that Python's exit), checks, and unlinks.

Why the care in 2: before 3.13 SharedMemory(name) registers the block with
the resource tracker even when it only attaches, and the tracker unlinks
every registered block when the attaching process ends -- removing a block
its creator still uses. 3.13 added track=False; older versions must
unregister by hand.
"""
import os
import subprocess
import sys
from multiprocessing import resource_tracker, shared_memory

SIZE = 3 * 4096 + 123  # not a multiple of the page size
ANSWER = 64

ATTACH = r"""
import sys
from multiprocessing import resource_tracker, shared_memory
name, size = sys.argv[1], int(sys.argv[2])
if sys.version_info >= (3, 13):
    shm = shared_memory.SharedMemory(name=name, track=False)
else:
    shm = shared_memory.SharedMemory(name=name)
    resource_tracker.unregister(shm._name, "shared_memory")
assert shm.size == size, (shm.size, size)
buf = shm.buf
want = bytes(((i * 31 + 7) & 0xFF) for i in range(size))
assert bytes(buf) == want, "C's pattern differs"
msg = b"Python was here\0"
buf[: len(msg)] = msg
del buf
shm.close()
# Stop the tracker now, so anything it would unlink is gone before C looks.
resource_tracker._resource_tracker._stop()
"""


def pattern(n):
    return bytes(((i * 31 + 7) & 0xFF) for i in range(n))


def python_creates(peer):
    shm = shared_memory.SharedMemory(create=True, size=SIZE)
    try:
        shm.buf[: SIZE - ANSWER] = pattern(SIZE - ANSWER)
        subprocess.run([peer, "attach", shm.name, str(SIZE)], check=True)
        answer = bytes(shm.buf[SIZE - ANSWER:]).split(b"\0")[0]
        assert answer == b"C read %d bytes" % SIZE, answer
        assert os.path.exists("/dev/shm/" + shm.name), "C's close unlinked"
    finally:
        shm.close()
        shm.unlink()


def c_creates(peer):
    c = subprocess.Popen([peer, "create", str(SIZE)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    try:
        name = c.stdout.readline().strip()
        assert name.startswith("psm_") and len(name) == 12, name
        subprocess.run([sys.executable, "-c", ATTACH, name, str(SIZE)],
                       check=True)
        c.stdin.write("go\n")
        c.stdin.flush()
        assert c.stdout.readline().strip() == "ok"
        assert c.wait(timeout=30) == 0
        assert not os.path.exists("/dev/shm/" + name), "C did not unlink"
    finally:
        if c.poll() is None:
            c.kill()
            c.wait()


def main():
    peer = sys.argv[1]
    python_creates(peer)
    c_creates(peer)
    print("CPython %d.%d: SharedMemory interop ok both ways"
          % sys.version_info[:2])


if __name__ == "__main__":
    main()
