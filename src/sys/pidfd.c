/*
 * pidfd.c - child processes tracked by pidfd (Linux >= 5.4).
 *
 * A pidfd names one process for as long as the fd is open, so signalling
 * and reaping through it can never hit a recycled PID. It is readable
 * once the process has ended, which makes it a pollable sentinel.
 *
 * Where pidfd_open is refused (ENOSYS under valgrind < 3.20, EPERM under
 * some seccomp profiles) callers pass pidfd -1 and the PID instead. For a
 * child of the caller that is still as safe: its PID cannot be recycled
 * until the caller itself reaps it, and nothing is sent after that.
 */
#include "sys.h"

#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

int mproc__pidfd_open(pid_t pid)
{
    long fd = syscall(SYS_pidfd_open, pid, 0); /* always close-on-exec */
    return fd < 0 ? -errno : (int)fd;
}

int mproc__child_signal(int pidfd, pid_t pid, int sig)
{
    long rc = pidfd >= 0 ? syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0)
                         : kill(pid, sig);
    return rc < 0 ? -errno : 0;
}

int mproc__child_reap(int pidfd, pid_t pid, bool block, int *exitcode)
{
    siginfo_t info;
    int rc;
    do {
        info.si_pid = 0;
        rc = pidfd >= 0 ? waitid((idtype_t)P_PIDFD, (id_t)pidfd, &info,
                                 WEXITED | (block ? 0 : WNOHANG))
                        : waitid(P_PID, (id_t)pid, &info,
                                 WEXITED | (block ? 0 : WNOHANG));
    } while (rc < 0 && errno == EINTR);
    if (rc < 0)
        return -errno;
    if (info.si_pid == 0)
        return 0;
    *exitcode = info.si_code == CLD_EXITED ? info.si_status : -info.si_status;
    return 1;
}
