"""The CPython end of the interop tests (see interop_peer.c for the C end).

Usage: py_peer.py listen URL KEY DIGEST EXPECT
       py_peer.py client URL KEY EXPECT
KEY "-" means no key. DIGEST "-" means Listener's own handshake; another
value runs CPython 3.12+'s deliver_challenge with that digest_name by hand.
EXPECT is "ok" or "AuthenticationError". A listener prints its address as
a URL on one line first. The conversation mirrors interop_peer.c: we send
0 B, 1 B, 64 KiB and 3 MiB and check each echo, then echo the peer's.
"""
import os
import sys
from multiprocessing import connection
from multiprocessing import AuthenticationError

SIZES = [0, 1, 64 << 10, 3 << 20]


def to_address(url):
    if url.startswith("tcp://"):
        host, port = url[6:].rsplit(":", 1)
        return (host.strip("[]"), int(port))
    if url.startswith("abstract://"):
        return "\0" + url[11:]
    if url.startswith("ipc://"):
        return url[6:]
    raise ValueError(url)


def to_url(address):
    if isinstance(address, tuple):
        host, port = address[:2]
        return "tcp://[%s]:%d" % (host, port) if ":" in host else \
            "tcp://%s:%d" % (host, port)
    if isinstance(address, bytes):
        address = address.decode()
    if address.startswith("\0"):
        return "abstract://" + address[1:]
    return "ipc://" + address


def converse(c):
    for n in SIZES:
        m = os.urandom(n)
        c.send_bytes(m)
        if c.recv_bytes() != m:
            sys.exit("echo of %d bytes differs" % n)
    for n in SIZES:
        m = c.recv_bytes()
        if len(m) != n:
            sys.exit("got %d bytes, expected %d" % (len(m), n))
        c.send_bytes(m)


def main():
    role, url, key = sys.argv[1:4]
    key = None if key == "-" else key.encode()
    expect = sys.argv[-1]
    try:
        if role == "listen":
            digest = sys.argv[4]
            family = "AF_INET6" if url.startswith("tcp://[") else None
            if digest == "-":
                l = connection.Listener(to_address(url), family=family,
                                        authkey=key)
                print(to_url(l.address), flush=True)
                c = l.accept()
            else:
                l = connection.Listener(to_address(url), family=family)
                print(to_url(l.address), flush=True)
                c = l.accept()
                connection.deliver_challenge(c, key, digest_name=digest)
                connection.answer_challenge(c, key)
        else:
            family = "AF_INET6" if url.startswith("tcp://[") else None
            c = connection.Client(to_address(url), family=family, authkey=key)
    except AuthenticationError as e:
        if expect == "AuthenticationError":
            return 0
        sys.exit("AuthenticationError: %s" % e)
    if expect != "ok":
        sys.exit("connected, but expected %s" % expect)
    converse(c)
    c.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
