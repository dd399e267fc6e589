/*
 * fuzz_peer.h - what the fuzz targets share: a connection whose peer has
 * already written the fuzzer's bytes.
 */
#ifndef MPROC_FUZZ_PEER_H
#define MPROC_FUZZ_PEER_H

#include "connection/conn.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * A connection reading what a peer sent, from a fuzzer input: its first
 * byte, the target's mode, goes to *mode; the peer writes as much of the
 * rest as fits in the socket, then ends its stream. The peer's fd is
 * returned in *peer, still open for reading (so our replies do not fail) -
 * close it. NULL for an empty input.
 */
static inline mproc_conn *conn_fed_with(const uint8_t *data, size_t size,
                                        unsigned *mode, int *peer)
{
    if (size < 1)
        return NULL;
    *mode = data[0];
    data++;
    size--;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    ssize_t n = send(sv[1], data, size, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)n;
    shutdown(sv[1], SHUT_WR);
    mproc_conn *c;
    if (mproc__conn_new(sv[0], true, true, &c) != 0)
        abort();
    *peer = sv[1];
    return c;
}

#endif /* MPROC_FUZZ_PEER_H */
