/*
 * process/start.h - starting a child by exec: the spawn and forkserver
 * start methods, and mproc_init where such a child begins (private to the
 * process area).
 *
 * A child that begins with an exec shares no memory with its starter, so
 * everything it needs travels as a record: its target as a function
 * reference (kit/fnref.h) with the path of the target's object, its
 * argument bytes, name, identity, daemon flag, the starter's PID, and the
 * objects handed to it (kit/handoff.h). start.c writes and reads records
 * and runs spawn; forkserver.c runs the forkserver and asks it for
 * children; process.c owns the registry and runs the target.
 */
#ifndef MPROC_PROCESS_START_H
#define MPROC_PROCESS_START_H

#include "../kit/fnref.h"
#include "../kit/handoff.h"
#include "mproc/process.h"

#include <stdbool.h>
#include <stddef.h>

/* A child that begins with an exec, as its starter describes it. In a
 * decoded record the pointers point into the record's bytes. */
typedef struct mproc__child {
    mproc__fnref target;
    const char *path; /* the target's object (mproc__fnref_path) */
    const char *name;
    const char *identity;
    const void *arg;
    size_t arglen;
    bool daemon;
    pid_t parent; /* the starter */
    mproc__handoff *handoffs;
    size_t nhandoffs;
} mproc__child;

/*
 * mproc__child_encode - c as one malloc'ed record (*rec, *len: free it).
 * Returns 0 or MPROC_ENOMEM.
 */
int mproc__child_encode(const mproc__child *c, void **rec, size_t *len);

/*
 * mproc__child_decode - read a record back: c's pointers point into rec,
 * which must outlive c. Returns 0, or MPROC_EPROTO for a malformed record.
 */
int mproc__child_decode(void *rec, size_t len, mproc__child *c);

/* mproc__child_target - the target c names, resolved in this process by
 * its object's path; 0, MPROC_ENOENT or MPROC_ENOMEM. */
int mproc__child_target(const mproc__child *c, mproc_target *fn);

/* mproc__start_argv - the argv this process was started with, as
 * mproc_init saw it; NULL when mproc_init was not called. */
char **mproc__start_argv(void);

/*
 * mproc__spawn_self - exec this program afresh (/proc/self/exe, the argv
 * mproc_init saw) with this environment plus entry ("NAME=value"); the
 * fds in keep stay open in it. Returns 0 and sets *pid, or a negative
 * code.
 */
int mproc__spawn_self(char *entry, const int *keep, size_t nkeep, pid_t *pid);

/*
 * mproc__spawn_child - exec this program for the child rec describes;
 * the handed objects' fds stay open in it. Returns 0 and sets *pid, or a
 * negative code (nothing is left running or open).
 */
int mproc__spawn_child(const void *rec, size_t len, const mproc__handoff *h,
                       size_t nh, pid_t *pid);

/*
 * mproc__forkserver_child - have the forkserver (started first when there
 * is none, or it died) fork the child rec describes. Sets *pid, *pidfd
 * (for signals) and *statusfd (readable once the child has ended; read
 * it with mproc__forkserver_status). Returns 0; MPROC_EAGAIN when the
 * forkserver died during the request (the next start restarts it);
 * MPROC_ENOENT when the forkserver could not load the target; another
 * negative code. Nothing is left open on failure.
 */
int mproc__forkserver_child(const void *rec, size_t len,
                            const mproc__handoff *h, size_t nh, pid_t *pid,
                            int *pidfd, int *statusfd);

/*
 * mproc__forkserver_status - the exit code of a forkserver's child, from
 * its statusfd. block: wait for it. Returns 1 with *code set (255 when the
 * forkserver died before telling), 0 while it runs (block false only).
 */
int mproc__forkserver_status(int statusfd, bool block, int *code);

/* The variable that makes mproc_init serve as a forkserver: "FD:KEY",
 * the listening socket and the key (MPROC__FORKSERVER_KEY characters). */
#define MPROC__FORKSERVER_ENV "MPROC_FORKSERVER"
#define MPROC__FORKSERVER_KEY 32

/* mproc__forkserver_serve - the forkserver's life, in mproc_init: serve
 * the listening socket lfd, admitting only connections that show key. */
_Noreturn void mproc__forkserver_serve(int lfd, const char *key);

/*
 * mproc__run_child - in a child that began with an exec (spawned, or
 * forked by the forkserver): become the process c describes, run fn and
 * exit with its code. real_parent is the process whose death kills a
 * daemon child (the starter under spawn, the forkserver under forkserver).
 */
_Noreturn void mproc__run_child(const mproc__child *c, mproc_target fn,
                                pid_t real_parent);

#endif /* MPROC_PROCESS_START_H */
