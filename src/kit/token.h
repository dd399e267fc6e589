/*
 * kit/token.h - process tokens: names of processes that survive PID reuse.
 *
 * A token names one process for the life of the machine: its PID in the
 * low 32 bits and its start time (clock ticks since boot, from
 * /proc/PID/stat) in the high 32, so a recycled PID gets a new token.
 * 0 names no process. Tokens are what shared structures record as owners.
 */
#ifndef MPROC_KIT_TOKEN_H
#define MPROC_KIT_TOKEN_H

#include <stdbool.h>
#include <stdint.h>

/* mproc__self_token - the calling process's token (cached per process in a
 * wipe-on-fork page: no system call after the first in each process). */
uint64_t mproc__self_token(void);

/*
 * mproc__token_alive - whether the process named by token still runs.
 * False once it has exited (a zombie counts as dead) or its PID has been
 * reused. Errs towards true: when /proc cannot be read (not mounted, out
 * of descriptors) a PID that exists counts as alive. Costs a kill(pid, 0)
 * and an open and read of /proc: for slow paths only.
 */
bool mproc__token_alive(uint64_t token);

#endif /* MPROC_KIT_TOKEN_H */
