/*
 * clock.c - deadlines on CLOCK_MONOTONIC and a deadline-bounded poll.
 *
 * A timeout becomes one absolute deadline at the entry of a blocking call;
 * every retry (EINTR, spurious wakeup, lost race) waits only for what is
 * left of it, so no retry ever extends the total wait.
 */
#include "sys.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <time.h>

int64_t mproc__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int mproc__deadline(double timeout, int64_t *deadline)
{
    if (isnan(timeout))
        return MPROC_EINVAL;
    int64_t now = mproc__now();
    if (timeout < 0 || timeout * 1e9 >= (double)(INT64_MAX - now))
        *deadline = MPROC__NO_DEADLINE;
    else
        *deadline = now + (int64_t)(timeout * 1e9);
    return 0;
}

int mproc__expired(double timeout)
{
    return timeout == 0 ? MPROC_EAGAIN : MPROC_ETIMEDOUT;
}

int mproc__poll_in(int fd, int64_t deadline)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    for (;;) {
        struct timespec left, *tsp = NULL;
        if (deadline != MPROC__NO_DEADLINE) {
            int64_t ns = deadline - mproc__now();
            if (ns < 0)
                ns = 0;
            left.tv_sec = ns / 1000000000;
            left.tv_nsec = ns % 1000000000;
            tsp = &left;
        }
        int n = ppoll(&pfd, 1, tsp, NULL);
        if (n > 0)
            return 1;
        if (n == 0) {
            if (tsp == NULL || mproc__now() >= deadline)
                return 0;
            continue; /* woke a hair early: wait out the rest */
        }
        if (errno != EINTR)
            return -errno;
    }
}

int mproc__nap(int64_t deadline, int64_t *nap)
{
    int64_t now = mproc__now();
    if (now >= deadline)
        return 0;
    *nap = *nap <= 0 ? 1000000 : *nap * 2 > 64000000 ? 64000000 : *nap * 2;
    int64_t ns = deadline - now < *nap ? deadline - now : *nap;
    struct timespec ts = {ns / 1000000000, ns % 1000000000};
    nanosleep(&ts, NULL); /* woken early by a signal: the caller re-checks */
    return 1;
}
