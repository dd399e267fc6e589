/*
 * kit/handoff.h - the objects a process hands to the children it starts.
 *
 * Every shared object lives in a memory file (or is a socket): whoever
 * holds its file descriptor can map it. Taking a reference (mproc_ref.h)
 * registers the object's descriptor here; every start passes the whole
 * table to the child (spawn: inherited across exec; forkserver: sent with
 * the request; fork: inherited with the memory), and the child's table
 * then holds the same entries, under its own descriptor numbers. Opening
 * a reference looks its object up in the calling process's table.
 *
 * An entry is (id, kind, fd). The id is the file's inode number, unique
 * on the machine while the file exists, so the same object has the same
 * id in every process, and a reference is 16 bytes: w[0] = id, w[1] =
 * kind. The table borrows the object's descriptor: the object's destroy
 * calls mproc__handoff_drop before closing it. Entries the child was given
 * it owns: they stay open for the life of the process.
 *
 * Safety facts: thread-safe (one process-local mutex, held across every
 * fork by pthread_atfork handlers, so a forked child never inherits it
 * held). Nothing is shared between processes.
 */
#ifndef MPROC_KIT_HANDOFF_H
#define MPROC_KIT_HANDOFF_H

#include "mproc/ref.h"

#include <stddef.h>
#include <stdint.h>

/* What a reference names; stored in the reference, checked at open. */
enum mproc__ref_kind {
    MPROC__REF_QUEUE = 1,
    MPROC__REF_LOCK,
    MPROC__REF_RLOCK,
    MPROC__REF_SEMAPHORE,
    MPROC__REF_CONDITION,
    MPROC__REF_EVENT,
    MPROC__REF_BARRIER,
    MPROC__REF_ARRAY,
    MPROC__REF_CONN,       /* a duplex connection */
    MPROC__REF_CONN_RECV,  /* the reading end of a simplex pipe */
    MPROC__REF_CONN_SEND,  /* the writing end of a simplex pipe */
    MPROC__REF_POOL,       /* a pool's control region (its workers') */
    MPROC__REF_POOL_ARENA, /* a pool's task arena (its workers') */
};

/* One handed object. */
typedef struct mproc__handoff {
    uint64_t id;   /* the file's inode number */
    uint32_t kind; /* enum mproc__ref_kind */
    int fd;        /* its descriptor in this process */
} mproc__handoff;

/*
 * mproc__handoff_take - register fd (an object of the given kind) for the
 * children this process starts from now on, and set *out to its
 * reference. Taking the same object again gives the same reference.
 * Returns 0; MPROC_ENOMEM; or a negative errno value from fstat.
 */
int mproc__handoff_take(int fd, uint32_t kind, mproc_ref *out);

/*
 * mproc__handoff_find - the descriptor of the object ref names, if this
 * process holds it (it took the reference or was given the object).
 * Returns 0 and sets *fd (still owned by the table: dup or map it);
 * MPROC_ENOENT when this process was not given it; MPROC_EINVAL when it
 * is not of the given kind or the reference is malformed.
 */
int mproc__handoff_find(mproc_ref ref, uint32_t kind, int *fd);

/* mproc__handoff_drop - forget fd (its object is being destroyed). */
void mproc__handoff_drop(int fd);

/*
 * mproc__handoff_list - copy up to cap entries of the table into out;
 * returns how many there are (may exceed cap). The starter's view of
 * what goes to the child.
 */
size_t mproc__handoff_list(mproc__handoff *out, size_t cap);

/*
 * mproc__handoff_adopt - add entries a starting child was given (their
 * fds are its own now). Returns 0 or MPROC_ENOMEM.
 */
int mproc__handoff_adopt(const mproc__handoff *entries, size_t n);

#endif /* MPROC_KIT_HANDOFF_H */
