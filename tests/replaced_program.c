/*
 * replaced_program.c - a program whose file is replaced on disk while it
 * runs (as an upgrade would) still spawns children running itself: spawn
 * execs the file mproc_init opened, not the path. Run it on a copy of
 * itself: it replaces that copy with a script that exits 99, then spawns a
 * child that must return 3. Exits 0 when it does.
 */
#include "mproc.h"

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static int returns_three(void *arg, size_t len)
{
    (void)arg;
    (void)len;
    return 3;
}

int main(int argc, char **argv)
{
    if (mproc_init(&argc, &argv) != 0)
        return 1;
    FILE *f;
    if (unlink(argv[0]) != 0 || !(f = fopen(argv[0], "w")))
        return 1;
    fputs("#!/bin/sh\nexit 99\n", f);
    fclose(f);
    chmod(argv[0], 0755);
    mproc_process_opts opts = {.start_method = MPROC_START_SPAWN};
    mproc_process *p;
    int code = -1;
    if (mproc_process_create(&p, returns_three, NULL, 0, &opts) != 0 ||
        mproc_process_start(p) != 0 ||
        mproc_process_join(p, MPROC_FOREVER) != 0 ||
        mproc_process_exitcode(p, &code) != 0)
        return 1;
    printf("spawned child of a replaced program exited with %d\n", code);
    return code == 3 ? 0 : 1;
}
