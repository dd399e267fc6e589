/*
 * interop_peer.c - the C end of the interop tests against real CPython.
 *
 * Usage: interop_peer listen URL KEY DIGEST EXPECT
 *        interop_peer client URL KEY DIGEST EXPECT
 * KEY "-" means no key; DIGEST "-" the default. EXPECT is "ok" or an error
 * name ("MPROC_EAUTH"): the result that connecting must give. A listener
 * prints its bound address on one line of stdout first.
 *
 * After connecting, the conversation is: the peer sends messages of
 * 0 B, 1 B, 64 KiB and 3 MiB and we echo each; then we send the same sizes
 * and check each echo. Exit status 0 means everything went as expected.
 */
#include "mproc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const size_t sizes[] = {0, 1, 64 << 10, 3 << 20};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static int fail(const char *what, int rc)
{
    fprintf(stderr, "interop_peer: %s: %s\n", what, mproc_err_name(rc));
    return 1;
}

static int converse(mproc_conn *c)
{
    for (size_t i = 0; i < NSIZES; i++) {
        void *p;
        size_t len;
        int rc = mproc_conn_recv_bytes_alloc(c, &p, &len);
        if (rc < 0)
            return fail("recv", rc);
        if (len != sizes[i])
            return fail("size of a received message", MPROC_EPROTO);
        rc = mproc_conn_send_bytes(c, p, len);
        free(p);
        if (rc < 0)
            return fail("echo", rc);
    }
    for (size_t i = 0; i < NSIZES; i++) {
        unsigned char *m = malloc(sizes[i] + 1);
        for (size_t k = 0; k < sizes[i]; k++)
            m[k] = (unsigned char)(k * 31 + i);
        int rc = mproc_conn_send_bytes(c, m, sizes[i]);
        if (rc < 0)
            return fail("send", rc);
        void *p;
        size_t len;
        rc = mproc_conn_recv_bytes_alloc(c, &p, &len);
        if (rc < 0)
            return fail("recv echo", rc);
        if (len != sizes[i] || memcmp(p, m, len) != 0)
            return fail("echo differs", MPROC_EPROTO);
        free(p);
        free(m);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: interop_peer listen|client URL KEY DIGEST "
                        "EXPECT\n");
        return 2;
    }
    const char *key = strcmp(argv[3], "-") == 0 ? NULL : argv[3];
    size_t keylen = key ? strlen(key) : 0;
    mproc_conn_opts opts = {.digest = strcmp(argv[4], "-") ? argv[4] : NULL,
                            .handshake_timeout = 30};
    const char *expect = argv[5];
    mproc_conn *c = NULL;
    mproc_listener *l = NULL;
    int rc;
    if (strcmp(argv[1], "listen") == 0) {
        rc = mproc_listener_create_with(&l, argv[2], key, keylen, &opts);
        if (rc < 0)
            return fail("listen", rc);
        printf("%s\n", mproc_listener_address(l));
        fflush(stdout);
        rc = mproc_listener_accept(l, &c, 30);
    } else {
        rc = mproc_client_with(&c, argv[2], key, keylen, &opts);
    }
    const char *got = rc == 0 ? "ok" : mproc_err_name(rc);
    if (strcmp(got, expect) != 0) {
        fprintf(stderr, "interop_peer: connecting gave %s, expected %s\n", got,
                expect);
        return 1;
    }
    int status = rc == 0 ? converse(c) : 0;
    mproc_conn_close(c);
    mproc_listener_close(l);
    return status;
}
