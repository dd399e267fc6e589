/*
 * sync/handle.c - the handle and shared page every sync object is made of
 * (sync.h).
 */
#include "sync.h"

#include <stdlib.h>

int mproc__sync_map(const char *name, size_t size, uint32_t magic, void **addr)
{
    void *p;
    int rc = mproc__shared_map(name, size, 0, &p, NULL);
    if (rc != 0)
        return rc;
    mproc__sync_header *h = p;
    h->magic = magic;
    h->version = MPROC__SYNC_VERSION;
    *addr = p;
    return 0;
}

int mproc__sync_new(size_t handle_size, size_t shm_size, const char *name,
                    uint32_t magic, void **handle, void **shm)
{
    uint32_t *h = malloc(handle_size);
    if (!h)
        return MPROC_ENOMEM;
    int rc = mproc__sync_map(name, shm_size, magic, shm);
    if (rc != 0) {
        free(h);
        return rc;
    }
    *h = MPROC__SYNC_LIVE;
    *handle = h;
    return 0;
}

void mproc__sync_free(void *handle, void *shm, size_t shm_size)
{
    mproc__shared_unmap(shm, shm_size);
    *(uint32_t *)handle = MPROC__SYNC_DEAD;
    free(handle);
}
