/*
 * kit/handoff.c - the table of handed objects (handoff.h).
 *
 * A growable array of entries under one mutex. Lookups are linear: a
 * process hands a few objects, and opening a reference is not a hot path.
 *
 * Fork: every destroy of a shared object takes the mutex (to withdraw its
 * descriptor), so a child forked while another thread held it would block
 * at its first destroy. Handlers installed with pthread_atfork at the
 * first use take the mutex around every fork and release it on both
 * sides.
 */
#include "handoff.h"

#include "../sys/sys.h"

#include <pthread.h>
#include <stdlib.h>

static struct {
    pthread_mutex_t mu;
    mproc__handoff *v;
    size_t n, cap;
} table = {.mu = PTHREAD_MUTEX_INITIALIZER};

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void fork_prepare(void)
{
    pthread_mutex_lock(&table.mu);
}

static void fork_done(void)
{
    pthread_mutex_unlock(&table.mu);
}

static void install_atfork(void)
{
    pthread_atfork(fork_prepare, fork_done, fork_done);
}

static void lock(void)
{
    pthread_once(&atfork_once, install_atfork);
    pthread_mutex_lock(&table.mu);
}

static void unlock(void)
{
    pthread_mutex_unlock(&table.mu);
}

/* The index of the entry with this id, or -1. Mutex held. */
static ptrdiff_t find_id(uint64_t id)
{
    for (size_t k = 0; k < table.n; k++)
        if (table.v[k].id == id)
            return (ptrdiff_t)k;
    return -1;
}

/* Appends e unless its id is there. Mutex held. */
static int add(mproc__handoff e)
{
    if (find_id(e.id) >= 0)
        return 0;
    if (table.n == table.cap) {
        size_t cap = table.cap ? 2 * table.cap : 16;
        mproc__handoff *v = realloc(table.v, cap * sizeof *v);
        if (!v)
            return MPROC_ENOMEM;
        table.v = v;
        table.cap = cap;
    }
    table.v[table.n++] = e;
    return 0;
}

int mproc__handoff_take(int fd, uint32_t kind, mproc_ref *out)
{
    uint64_t id;
    int rc = mproc__fd_id(fd, &id);
    if (rc != 0)
        return rc;
    lock();
    rc = add((mproc__handoff){.id = id, .kind = kind, .fd = fd});
    unlock();
    if (rc == 0)
        *out = (mproc_ref){{id, kind}};
    return rc;
}

int mproc__handoff_find(mproc_ref ref, uint32_t kind, int *fd)
{
    if (ref.w[1] != kind)
        return MPROC_EINVAL;
    lock();
    ptrdiff_t k = find_id(ref.w[0]);
    int rc = k < 0 ? MPROC_ENOENT : table.v[k].kind != kind ? MPROC_EINVAL : 0;
    if (rc == 0)
        *fd = table.v[k].fd;
    unlock();
    return rc;
}

void mproc__handoff_drop(int fd)
{
    lock();
    for (size_t k = 0; k < table.n; k++)
        if (table.v[k].fd == fd)
            table.v[k--] = table.v[--table.n];
    unlock();
}

size_t mproc__handoff_list(mproc__handoff *out, size_t cap)
{
    lock();
    size_t n = table.n;
    for (size_t k = 0; k < n && k < cap; k++)
        out[k] = table.v[k];
    unlock();
    return n;
}

int mproc__handoff_adopt(const mproc__handoff *entries, size_t n)
{
    int rc = 0;
    lock();
    for (size_t k = 0; k < n && rc == 0; k++)
        rc = add(entries[k]);
    unlock();
    return rc;
}
