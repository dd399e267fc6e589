/*
 * signal.c - the calling thread's signal mask. Pool workers: a worker is
 * forked with SIGTERM blocked and sets its default action before it
 * unblocks it, so terminate's SIGTERM ends it whatever handler the
 * program had installed, and never runs that handler in the worker. The
 * forkserver: it starts with no signal blocked, whatever mask its starter
 * had at that moment, since every child it forks inherits its mask.
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

void mproc__signals_unblock_all(void)
{
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
}
