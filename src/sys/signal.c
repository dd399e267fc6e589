/*
 * signal.c - the calling thread's SIGTERM, for pool workers: a worker is
 * forked with SIGTERM blocked and sets its default action before it
 * unblocks it, so terminate's SIGTERM ends it whatever handler the
 * program had installed, and never runs that handler in the worker.
 */
#include "sys.h"

#include <pthread.h>
#include <signal.h>

void mproc__sigterm_block(sigset_t *old)
{
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &term, old);
}

void mproc__sigmask_restore(const sigset_t *old)
{
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

void mproc__sigterm_default(void)
{
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    signal(SIGTERM, SIG_DFL);
    pthread_sigmask(SIG_UNBLOCK, &term, NULL);
}
