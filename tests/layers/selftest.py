#!/usr/bin/env python3
"""Self-test of scripts/check-layers: proof that it can fail.

Usage: tests/layers/selftest.py [SCRIPT [ROOT]]

Copies ROOT's src/ and include/ to a temporary folder, checks that the
script passes on the unplanted copy, then on a fresh copy each time plants
one violation and checks that the script exits 1 and reports exactly that
violation (file, line and rule) and nothing else new. It also plants text
that must not be flagged (calls in comments and strings, member calls,
mproc__ wrappers, includes that are allowed) and checks it stays quiet.
Exits 1 if any case fails.
"""

import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.realpath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))

# (what, file to plant in, text appended, expected rule or None for "clean").
# The expected violation is on the first line of the appended text.
# Files that do not exist in the tree are created: a planted header, or a
# source file in a folder the tree may not have any more.
VIOLATIONS = [
    ("fork() call in an area",
     "src/queue/queue.c",
     "void mproc__planted(void);\n"
     "void mproc__planted(void) { (void)fork(); }\n", "sys-call", 2),
    ("spaced call: close (fd) in the kit",
     "src/kit/check.c",
     "void mproc__planted(int fd);\n"
     "void mproc__planted(int fd) { close (fd); }\n", "sys-call", 2),
    ("posix_spawnp() call in an area",
     "src/process/process.c",
     "#define PLANTED(p) posix_spawnp(p, 0, 0, 0, 0, 0)\n", "sys-call", 1),
    ("<sys/syscall.h> in an area",
     "src/pool/pool.c", "#include <sys/syscall.h>\n", "sys-header", 1),
    ("<unistd.h> in the kit",
     "src/kit/token.c", "#include <unistd.h>\n", "sys-header", 1),
    ("another area's header, relative: \"../queue/queue.h\"",
     "src/pool/pool.c", '#include "../queue/queue.h"\n', "include", 1),
    ("another area's header, from src/: \"sync/sync.h\"",
     "src/pool/pool.c", '#include "sync/sync.h"\n', "include", 1),
    ("the kit from src/sys/: \"../kit/lock.h\"",
     "src/sys/fd.c", '#include "../kit/lock.h"\n', "include", 1),
    ("the kit from src/sys/, from src/: \"kit/lock.h\"",
     "src/sys/clock.c", '#include "kit/lock.h"\n', "include", 1),
    ("another sys header from src/sys/sys.h",
     "src/sys/sys.h", '#include "planted.h"\n', "include", 1),
    ("an area's public header from the kit: \"mproc/queue.h\"",
     "src/kit/check.c", '#include "mproc/queue.h"\n', "include", 1),
    ("an area's public header from the kit: <mproc/queue.h>",
     "src/kit/check.c", "#include <mproc/queue.h>\n", "include", 1),
    ("the umbrella header from src/sys/",
     "src/sys/fd.c", '#include "mproc.h"\n', "include", 1),
    ("an area's header from the kit",
     "src/kit/lock.h", '#include "../sync/sync.h"\n', "include", 1),
    ("a header outside src/ and include/",
     "src/queue/queue.c", '#include "../../bench/planted.h"\n',
     "include", 1),
    ("an include found nowhere",
     "src/queue/queue.c", '#include "planted_missing.h"\n', "include", 1),
    ("a file directly in src/",
     "src/planted.c", "int mproc__planted;\n", "layout", 1),
]

# Helper files some cases need, planted with them (empty unless given).
HELPERS = {
    "src/queue/queue.h": "/* planted: a private header of the queue */\n",
    "src/sys/planted.h": "/* planted: a second header in src/sys/ */\n",
    "bench/planted.h": "/* planted: a header outside src/ and include/ */\n",
}

# Text that breaks no rule: the script must stay quiet on it.
CLEAN = (
    "src/queue/planted_ok.c",
    '#include "../kit/lock.h"\n'
    '#include "kit/check.h"\n'
    '#include "../sys/sys.h"\n'
    '#include "sys/sys.h"\n'
    '#include "mproc/queue.h"\n'
    '#include "mproc.h"\n'
    "#include <mproc/errors.h>\n"
    "#include <sys/socket.h>\n"
    "#include <sys/un.h>\n"
    "#include <netinet/in.h>\n"
    "#include <arpa/inet.h>\n"
    "#include <signal.h>\n"
    "#include <sys/types.h>\n"
    "#include <sys/uio.h>\n"
    "#include <stdio.h>\n"
    "/* fork(); close(fd); #include <unistd.h> */\n"
    "// read(fd, buf, n); #include \"../sync/sync.h\"\n"
    "/*\n * a comment over lines: waitpid(pid, &st, 0);\n */\n"
    "struct ops { int (*read)(void *); int (*send)(void *); };\n"
    "static int planted(struct ops *o, struct ops x, int fd) {\n"
    "    const char *s = \"fork() and close(fd) in a string\";\n"
    "    const char *t = \"a \\\" quote, then kill(0, 9)\";\n"
    "    char c = '(', q = '\\'';\n"
    "    (void)s; (void)t; (void)c; (void)q;\n"
    "    mproc__close(fd);\n"
    "    mproc_conn_close(0);\n"
    "    mproc__sock_connect(0);\n"
    "    mproc_pool_shutdown(0);\n"
    "    pthread_cond_wait(0, 0);\n"
    "    x.send(0);\n"
    "    o->read(0);\n"
    "    o -> read (0);\n"
    "    return o\n        ->send(0);\n"
    "}\n",
)
# The sys layer's own calls and system headers: also clean.
CLEAN_SYS = (
    "src/sys/planted_ok.c",
    '#include "sys.h"\n'
    '#include "mproc/errors.h"\n'
    "#include <sys/syscall.h>\n"
    "#include <unistd.h>\n"
    "#include <sys/mman.h>\n"
    "static int planted(void) { return (int)syscall(0) + fork() +"
    " close(0) + getpid(); }\n",
)


def run(script, root):
    p = subprocess.run([script, root], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True)
    return p.returncode, p.stdout


def violations(output):
    """The 'path:line: rule: detail' lines of the script's output."""
    out = set()
    for ln in output.splitlines():
        parts = ln.split(": ", 2)
        if len(parts) == 3 and ":" in parts[0] and \
                not ln.startswith("check-layers:"):
            out.add(ln)
    return out


def plant(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    old = ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
        if old and not old.endswith("\n"):
            old += "\n"
    with open(path, "w") as f:
        f.write(old + text)
    return old.count("\n")  # lines before the planted text


def fresh_copy(src_root, tmp, name):
    root = os.path.join(tmp, name)
    os.makedirs(root)
    for d in ("src", "include"):
        shutil.copytree(os.path.join(src_root, d), os.path.join(root, d))
    return root


def main(argv):
    script = argv[1] if len(argv) > 1 else os.path.join(
        REPO, "scripts", "check-layers")
    src_root = argv[2] if len(argv) > 2 else REPO
    failed = 0

    with tempfile.TemporaryDirectory(prefix="mproc-layers-") as tmp:
        root = fresh_copy(src_root, tmp, "unplanted")
        rc, out = run(script, root)
        baseline = violations(out)
        if rc == 0 and not baseline:
            print("ok   unplanted copy passes: " + out.strip())
        else:
            failed += 1
            print("FAIL unplanted copy: exit %d, expected 0 (the tree itself "
                  "breaks a rule; see the 'layers' test)\n%s" % (rc, out))

        n = 0
        for what, rel, text, rule, at in VIOLATIONS:
            n += 1
            root = fresh_copy(src_root, tmp, "planted-%d" % n)
            for hrel, htext in HELPERS.items():
                if not os.path.exists(os.path.join(root, hrel)):
                    plant(root, hrel, htext)
            before = plant(root, rel, text)
            want = "%s:%d: %s: " % (rel, before + at, rule)
            rc, out = run(script, root)
            new = violations(out) - baseline
            hits = [v for v in new if v.startswith(want)]
            if rc == 1 and len(hits) == 1 and len(new) == 1:
                print("ok   %s\n       %s" % (what, hits[0]))
            else:
                failed += 1
                print("FAIL %s: exit %d, expected 1 and one new line "
                      "starting %r\n%s" % (what, rc, want, out))

        for rel, text in (CLEAN, CLEAN_SYS):
            n += 1
            root = fresh_copy(src_root, tmp, "clean-%d" % n)
            plant(root, rel, text)
            rc, out = run(script, root)
            new = violations(out) - baseline
            what = "allowed text in %s is not flagged" % rel
            if not new and rc == (1 if baseline else 0):
                print("ok   " + what)
            else:
                failed += 1
                print("FAIL %s: exit %d\n%s" % (what, rc, out))

    total = 1 + len(VIOLATIONS) + 2
    print("selftest: %d of %d cases passed" % (total - failed, total))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
