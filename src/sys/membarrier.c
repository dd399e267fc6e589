/*
 * membarrier.c - a memory barrier run on every CPU at once (membarrier(2),
 * Linux 4.16 for the expedited global form).
 *
 * A process registered with MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED (the
 * registration belongs to its address space, so its threads share it and
 * a forked child inherits it; exec drops it) may leave out the fence of a
 * store-then-load pattern another process pairs with
 * MEMBARRIER_CMD_GLOBAL_EXPEDITED: that call runs a full barrier on every
 * CPU currently running a registered process (an interrupt each), and a
 * CPU that switches to one runs a barrier anyway. So the fast side of a
 * handshake keeps a compiler barrier and the rare side pays a system call.
 */
#include "sys.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The system call's result (a set of commands for a query, else 0), or a
 * negative errno value. */
static int membarrier(int cmd)
{
    long r = syscall(SYS_membarrier, cmd, 0u, 0);
    return r < 0 ? -errno : (int)r;
}

int mproc__membarrier_register(void)
{
    int cmds = membarrier(MEMBARRIER_CMD_QUERY);
    if (cmds < 0)
        return cmds;
    if (!(cmds & MEMBARRIER_CMD_GLOBAL_EXPEDITED))
        return -ENOSYS;
    return membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED);
}

int mproc__membarrier(void)
{
    return membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED);
}
