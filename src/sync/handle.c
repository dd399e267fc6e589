/*
 * sync/handle.c - the handle and shared page every sync object is made of
 * (sync.h): made new, opened from a reference, freed.
 */
#include "sync.h"

#include <stdlib.h>

int mproc__sync_new(size_t handle_size, size_t shm_size, const char *name,
                    uint32_t magic, mproc__sync_head **handle)
{
    mproc__sync_head *h = calloc(1, handle_size);
    if (!h)
        return MPROC_ENOMEM;
    int rc = mproc__region_map(&h->map, name, shm_size, 0);
    if (rc != 0) {
        free(h);
        return rc;
    }
    mproc__sync_header *hdr = mproc__sync_shm(h);
    hdr->magic = magic;
    hdr->version = MPROC__SYNC_VERSION;
    h->magic = MPROC__SYNC_LIVE;
    *handle = h;
    return 0;
}

int mproc__sync_open(mproc_ref ref, uint32_t kind, uint32_t magic,
                     size_t handle_size, size_t shm_size,
                     mproc__sync_head **handle)
{
    if (!handle)
        return MPROC_EINVAL;
    mproc__sync_head *h = calloc(1, handle_size);
    if (!h)
        return MPROC_ENOMEM;
    mproc__region_layout layout = {kind, magic, MPROC__SYNC_VERSION, shm_size,
                                   NULL};
    int rc = mproc__region_open(&h->map, ref, &layout);
    if (rc != 0) {
        free(h);
        return rc;
    }
    h->magic = MPROC__SYNC_LIVE;
    *handle = h;
    return 0;
}

int mproc__sync_ref(mproc__sync_head *h, uint32_t kind, mproc_ref *out)
{
    if (!out)
        return MPROC_EINVAL;
    return mproc__region_ref(&h->map, kind, out);
}

void mproc__sync_free(mproc__sync_head *h)
{
    mproc__region_unmap(&h->map);
    h->magic = MPROC__SYNC_DEAD;
    free(h);
}
