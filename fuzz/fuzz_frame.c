/*
 * fuzz_frame.c - libFuzzer target for the frame decoder.
 *
 * The input's first byte picks the receive limit and the receive call;
 * the rest is what a peer wrote before hanging up. The decoder must give
 * messages, MPROC_EMSGSIZE (then keep the message), MPROC_EOF or
 * MPROC_EPROTO - never crash, hang, leak or allocate past the limit.
 */
#include "fuzz_peer.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned mode;
    int peer;
    mproc_conn *c = conn_fed_with(data, size, &mode, &peer);
    if (!c)
        return 0;
    static const size_t limits[4] = {0, 16, 1000, MPROC_CONN_DEFAULT_LIMIT};
    mproc_conn_set_limit(c, limits[mode & 3]);
    size_t cap = (mode >> 2) & 63;
    for (;;) {
        unsigned char buf[64];
        size_t len = 0;
        int rc;
        if (mode & 0x80) {
            void *p = NULL;
            rc = mproc_conn_recv_bytes_alloc(c, &p, &len);
            if (rc == 0) {
                assert(p != NULL && len <= limits[mode & 3]);
                free(p);
            }
        } else {
            rc = mproc_conn_recv_bytes(c, buf, cap, &len);
            if (rc == MPROC_EMSGSIZE) {
                assert(len > cap && mproc_conn_poll(c, 0) == 1);
                void *p = NULL;
                rc = mproc_conn_recv_bytes_alloc(c, &p, &len);
                free(p);
            }
        }
        if (rc != 0) {
            assert(rc == MPROC_EOF || rc == MPROC_EPROTO);
            break;
        }
    }
    mproc_conn_close(c);
    close(peer);
    return 0;
}
