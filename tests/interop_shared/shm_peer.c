/*
 * shm_peer.c - the C side of the SharedMemory interop test (driven by
 * shm_interop.py, which runs under the CPython being tested).
 *
 *   shm_peer attach NAME SIZE
 *       Attach the block Python made, check its size and the pattern Python
 *       wrote over all but the last 64 bytes, and write the answer "C read
 *       SIZE bytes" there. Close without unlinking.
 *   shm_peer create SIZE
 *       Create a block with a random psm_ name, fill it with the pattern,
 *       print its name on stdout, then wait for a line on stdin: by then a
 *       Python process has attached, written "Python was here" at offset
 *       0, closed and exited. Re-attach by name (the block must still
 *       exist: Python's resource tracker must not have unlinked it), check
 *       both, unlink, print "ok".
 *
 * Exit status 0 when every check passed; otherwise 1 and a line on stderr.
 */
#include <mproc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANSWER 64

static unsigned char pattern(size_t i)
{
    return (unsigned char)((i * 31 + 7) & 0xff);
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "shm_peer: %s: %s\n", what, mproc_err_name(rc));
    return 1;
}

static int attach(const char *name, size_t size)
{
    mproc_shm *m;
    int rc = mproc_shm_open(&m, name);
    if (rc < 0)
        return fail("open", rc);
    unsigned char *buf = mproc_shm_buf(m);
    if (mproc_shm_size(m) != size || strcmp(mproc_shm_name(m), name) != 0)
        return fail("size or name differs", 0);
    for (size_t i = 0; i < size - ANSWER; i++)
        if (buf[i] != pattern(i))
            return fail("Python's pattern differs", 0);
    snprintf((char *)buf + size - ANSWER, ANSWER, "C read %zu bytes", size);
    mproc_shm_close(m);
    return 0;
}

static int create(size_t size)
{
    mproc_shm *m;
    int rc = mproc_shm_create(&m, NULL, size);
    if (rc < 0)
        return fail("create", rc);
    unsigned char *buf = mproc_shm_buf(m);
    for (size_t i = 0; i < size; i++)
        buf[i] = pattern(i);
    printf("%s\n", mproc_shm_name(m));
    fflush(stdout);
    char line[64];
    if (!fgets(line, sizeof line, stdin))
        return fail("no go-ahead from Python", 0);
    mproc_shm *again;
    rc = mproc_shm_open(&again, mproc_shm_name(m));
    if (rc < 0)
        return fail("re-attach after Python exited", rc);
    buf = mproc_shm_buf(again);
    if (strcmp((char *)buf, "Python was here") != 0)
        return fail("Python's answer missing", 0);
    for (size_t i = sizeof "Python was here"; i < size; i++)
        if (buf[i] != pattern(i))
            return fail("pattern damaged", 0);
    rc = mproc_shm_unlink(m);
    if (rc < 0)
        return fail("unlink", rc);
    mproc_shm_close(again);
    mproc_shm_close(m);
    printf("ok\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "attach") == 0)
        return attach(argv[2], strtoul(argv[3], NULL, 10));
    if (argc == 3 && strcmp(argv[1], "create") == 0)
        return create(strtoul(argv[2], NULL, 10));
    fprintf(stderr, "usage: shm_peer attach NAME SIZE | create SIZE\n");
    return 2;
}
