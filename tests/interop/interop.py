"""Runs mproc's C end (interop_peer) against each CPython on the machine.

Usage: interop.py PATH/TO/interop_peer

CPythons: python3 on PATH (3.11 here: the legacy HMAC-MD5 handshake) and
each CPython 3.12+ under $(pyenv root)/versions (the negotiated handshake).
A version that is absent is skipped with a printed reason. For each one:
Python Listener <-> C Client and C Listener <-> Python Client, with the
right key (0 B, 1 B, 64 KiB, 3 MiB echoed both ways) and a wrong one
(AuthenticationError in Python, MPROC_EAUTH in C); for 3.12+ also every
digest either side may ask for.
"""
import glob
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PY_PEER = os.path.join(HERE, "py_peer.py")
KEY, WRONG = "secret password", "not the password"
DIGESTS = ["md5", "sha256", "sha384", "sha3_256", "sha3_384"]
TIMEOUT = 120


def version_of(exe):
    try:
        out = subprocess.run([exe, "-c", "import sys; print(*sys.version_info[:2])"],
                             stdout=subprocess.PIPE, universal_newlines=True,
                             timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return tuple(int(x) for x in out.stdout.split())


def pythons():
    found = []
    exe = shutil.which("python3")
    if exe:
        found.append(exe)
    else:
        print("skip python3: not on PATH")
    try:
        root = subprocess.run(["pyenv", "root"], stdout=subprocess.PIPE,
                              universal_newlines=True).stdout.strip()
    except OSError:
        root = ""
        print("skip pyenv CPythons: pyenv not found")
    if root:
        found += sorted(glob.glob(os.path.join(root, "versions", "*", "bin", "python3")))
    seen, out = set(), []
    for exe in found:
        v = version_of(exe)
        if v is None:
            print("skip %s: does not run" % exe)
        elif v < (3, 11) and exe != shutil.which("python3"):
            continue  # only python3 itself below 3.12 (the legacy form)
        elif v in seen:
            continue
        else:
            seen.add(v)
            out.append((exe, v))
    if not any(v >= (3, 12) for _, v in out):
        print("skip the negotiated handshake: no CPython 3.12+ under pyenv")
    return out


def run_pair(listener_cmd, client_cmd_for):
    """Starts the listener, reads its address, runs the client; returns
    (ok, detail)."""
    lst = subprocess.Popen(listener_cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True)
    try:
        address = lst.stdout.readline().strip()
        if not address:
            lst.kill()
            return False, "listener printed no address: " + lst.communicate()[1]
        cli = subprocess.run(client_cmd_for(address), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, universal_newlines=True,
                             timeout=TIMEOUT)
        lout, lerr = lst.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        lst.kill()
        lst.communicate()
        return False, "timed out"
    ok = lst.returncode == 0 and cli.returncode == 0
    return ok, "listener %d %s| client %d %s" % (
        lst.returncode, lerr.strip(), cli.returncode, cli.stderr.strip())


def main():
    peer = sys.argv[1]
    failures = 0
    runs = 0
    for exe, v in pythons():
        name = "CPython %d.%d" % v
        modern = v >= (3, 12)
        cases = []
        for url in ["abstract://mproc-interop-%d" % os.getpid(), "tcp://127.0.0.1:0",
                    "tcp://[::1]:0", "ipc:///tmp/mproc-interop-%d.sock" % os.getpid()]:
            cases.append(("py listen, C client, right key, " + url,
                          [exe, PY_PEER, "listen", url, KEY, "-", "ok"],
                          lambda a: [peer, "client", a, KEY, "-", "ok"]))
            if url.startswith("tcp://["):
                continue  # CPython's Client cannot reach IPv6 (it takes
                # every 2-tuple for AF_INET); its Listener can, above.
            cases.append(("C listen, py client, right key, " + url,
                          [peer, "listen", url, KEY, "-", "ok"],
                          lambda a: [exe, PY_PEER, "client", a, KEY, "ok"]))
        url = "abstract://"
        cases.append(("py listen, C client, wrong key",
                      [exe, PY_PEER, "listen", "abstract://mproc-interop-w%d" % os.getpid(),
                       KEY, "-", "AuthenticationError"],
                      lambda a: [peer, "client", a, WRONG, "-", "MPROC_EAUTH"]))
        cases.append(("C listen, py client, wrong key",
                      [peer, "listen", url, KEY, "-", "MPROC_EAUTH"],
                      lambda a: [exe, PY_PEER, "client", a, WRONG, "AuthenticationError"]))
        cases.append(("C listen, py client, empty key",
                      [peer, "listen", url, "", "-", "ok"],
                      lambda a: [exe, PY_PEER, "client", a, "", "ok"]))
        if v >= (3, 13):  # before 3.13, Listener skips the handshake for
            # an empty key (`if self._authkey:`) while Client does it
            # (`is not None`), so two CPythons fail that way too; mproc
            # does as 3.13 does.
            cases.append(("py listen, C client, empty key",
                          [exe, PY_PEER, "listen",
                           "abstract://mproc-interop-e%d" % os.getpid(),
                           "", "-", "ok"],
                          lambda a: [peer, "client", a, "", "-", "ok"]))
        cases.append(("C listen (legacy challenge), py client",
                      [peer, "listen", url, KEY, "legacy", "ok"],
                      lambda a: [exe, PY_PEER, "client", a, KEY, "ok"]))
        cases.append(("py listen, C client (legacy challenge)",
                      [exe, PY_PEER, "listen", "abstract://mproc-interop-l%d" % os.getpid(),
                       KEY, "-", "ok"],
                      lambda a: [peer, "client", a, KEY, "legacy", "ok"]))
        if modern:
            for d in DIGESTS:
                cases.append(("C listen asking %s, py client" % d,
                              [peer, "listen", url, KEY, d, "ok"],
                              lambda a: [exe, PY_PEER, "client", a, KEY, "ok"]))
                cases.append(("py listen asking %s, C client" % d,
                              [exe, PY_PEER, "listen",
                               "abstract://mproc-interop-%s-%d" % (d, os.getpid()),
                               KEY, d, "ok"],
                              lambda a, d=d: [peer, "client", a, KEY, d, "ok"]))
        for label, lcmd, ccmd in cases:
            ok, detail = run_pair(lcmd, ccmd)
            runs += 1
            print("%s %s: %s" % ("ok  " if ok else "FAIL", name, label))
            if not ok:
                failures += 1
                print("     " + detail)
    print("%d of %d interop runs failed" % (failures, runs))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
