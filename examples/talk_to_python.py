"""talk_to_python.py - the Python half of a C <-> Python conversation.

The C half (talk_to_python.c) listens, starts this script with its address,
and the two talk over CPython's own multiprocessing.connection protocol:
authenticated with the shared key, then byte messages both ways.

    python3 talk_to_python.py ADDRESS      # ADDRESS as mproc prints it

The key comes in the environment (MPROC_DEMO_KEY), not on the command
line, where any user could read it.
"""
import os
import sys
from multiprocessing.connection import Client


def to_address(url):
    """mproc's URL -> the address Python's Client takes."""
    if url.startswith("tcp://"):
        host, port = url[6:].rsplit(":", 1)
        return (host, int(port))
    if url.startswith("abstract://"):
        return "\0" + url[len("abstract://"):]
    if url.startswith("ipc://"):
        return url[len("ipc://"):]
    raise ValueError("not an mproc address: %r" % url)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    key = os.environ["MPROC_DEMO_KEY"].encode()
    with Client(to_address(sys.argv[1]), authkey=key) as conn:
        print("python: got %r" % conn.recv_bytes(), flush=True)
        conn.send_bytes(b"hello from CPython %d.%d" % sys.version_info[:2])
        while True:
            msg = conn.recv_bytes()
            if not msg:  # the empty message says goodbye
                break
            numbers = [int(x) for x in msg.split()]
            conn.send_bytes(str(sum(numbers)).encode())


if __name__ == "__main__":
    main()
