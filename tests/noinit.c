/*
 * noinit.c - a program that never calls mproc_init: its spawn and
 * forkserver starts (of a process or of a pool's workers) fail with
 * MPROC_ENOINIT and start no child, while fork still works. Exits 0 when
 * all of that holds.
 */
#include "mproc.h"

#include <stdio.h>

static int returns_three(void *arg, size_t len)
{
    (void)arg;
    (void)len;
    return 3;
}

/* Starts a process by method m; its start's result (joined if 0). */
static int start_by(mproc_start_method m)
{
    mproc_process_opts opts = {.start_method = m};
    mproc_process *p;
    if (mproc_process_create(&p, returns_three, NULL, 0, &opts) != 0)
        return 1;
    int rc = mproc_process_start(p);
    int code = -1;
    if (rc == 0 && (mproc_process_join(p, MPROC_FOREVER) != 0 ||
                    mproc_process_exitcode(p, &code) != 0 || code != 3))
        rc = 1;
    if (rc != 0 && mproc_active_children(NULL, 0) != 0)
        rc = 2; /* a half-started child */
    mproc_process_destroy(p);
    return rc;
}

/* Creates a pool whose workers start by method m; the create's result. */
static int pool_by(mproc_start_method m)
{
    mproc_pool_opts opts = {.processes = 1, .start_method = m};
    mproc_pool *p = NULL;
    int rc = mproc_pool_create(&p, &opts);
    if (rc == 0)
        mproc_pool_destroy(p);
    else if (p || mproc_active_children(NULL, 0) != 0)
        rc = 2; /* a pool or a worker left behind */
    return rc;
}

int main(void)
{
    if (pool_by(MPROC_START_SPAWN) != MPROC_ENOINIT ||
        pool_by(MPROC_START_FORKSERVER) != MPROC_ENOINIT ||
        pool_by(MPROC_START_FORK) != 0) {
        printf("a pool's workers did not start as they should\n");
        return 1;
    }
    int spawn = start_by(MPROC_START_SPAWN);
    int forkserver = start_by(MPROC_START_FORKSERVER);
    int fork = start_by(MPROC_START_FORK);
    printf("spawn: %s, forkserver: %s, fork: %s\n", mproc_err_name(spawn),
           mproc_err_name(forkserver), mproc_err_name(fork));
    return spawn == MPROC_ENOINIT && forkserver == MPROC_ENOINIT && fork == 0
               ? 0
               : 1;
}
