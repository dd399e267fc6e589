/*
 * fuzz_handshake.c - libFuzzer target for the authentication handshake.
 *
 * The input's first byte picks our role (server: accept's order, client:
 * mproc_client's), the digest our challenge asks for, and the key; the
 * rest is everything the peer sends before hanging up. The handshake must
 * end with a code - never crash, hang, or read a frame over 256 bytes.
 * It can never succeed: our challenge is random, the peer's bytes fixed.
 */
#include "fuzz_peer.h"

#include <assert.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *digests[8] = {"md5",      "sha256", "sha384", "sha3_256",
                                     "sha3_384", "legacy", "sha256", "sha256"};
    unsigned mode;
    int peer;
    mproc_conn *c = conn_fed_with(data, size, &mode, &peer);
    if (!c)
        return 0;
    const char *digest = mproc__digest_known(digests[(mode >> 1) & 7]);
    size_t keylen = (mode >> 4) & 15;
    int64_t deadline = mproc__now() + 2000000000;
    int rc = mode & 1 ? mproc__auth_server(c, "0123456789abcdef", keylen,
                                           digest, deadline)
                      : mproc__auth_client(c, "0123456789abcdef", keylen,
                                           digest, deadline);
    assert(rc == MPROC_EAUTH || rc == MPROC_EPROTO || rc == MPROC_EOF ||
           rc == MPROC_EBADF);
    mproc_conn_close(c);
    close(peer);
    return 0;
}
