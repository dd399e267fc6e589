/*
 * kit/spin.h - spinning waits: the pause, and the one spin budget.
 *
 * A waiter that expects the other side to act within a microsecond or so
 * polls before it sleeps. Between two looks it pauses (mproc__cpu_relax:
 * tells the CPU, and a hypervisor, that this is a spin), and the pauses
 * between looks grow, 1, 2, 4, ... up to a cap, so that a waiter does not
 * pull across, again and again, the cache line the other side is writing.
 * The budget is the pauses spent in all. Each waiter picks its budget and
 * cap for what it waits on; the loop is written once, here.
 */
#ifndef MPROC_KIT_SPIN_H
#define MPROC_KIT_SPIN_H

#include <stdatomic.h>
#include <stdbool.h>

/* The cache line size two writers are kept apart by. */
#define MPROC__CACHE_LINE 64

/* mproc__cpu_relax - a pause for a spinning wait. */
static inline void mproc__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    atomic_signal_fence(memory_order_seq_cst);
#endif
}

/* A spin in progress: start it with mproc__spin_start. */
typedef struct mproc__spin {
    int left; /* pauses left in the budget */
    int step; /* pauses before the next look */
    int cap;  /* most pauses between two looks */
} mproc__spin;

/* mproc__spin_start - a spin of budget pauses in all, at most cap pauses
 * between two looks (cap 1: a pause per look). */
static inline mproc__spin mproc__spin_start(int budget, int cap)
{
    mproc__spin sp = {budget, 1, cap};
    return sp;
}

/*
 * mproc__spin_more - pause before the next look: true when the caller may
 * look again, false once this pause spent the budget. Then the caller
 * stops spinning without another look here: the path it takes next (to
 * sleep, or to a slower way of looking) looks first thing.
 */
static inline bool mproc__spin_more(mproc__spin *sp)
{
    if (sp->left <= 0)
        return false;
    for (int k = 0; k < sp->step; k++)
        mproc__cpu_relax();
    sp->left -= sp->step;
    if (sp->step < sp->cap)
        sp->step *= 2;
    return sp->left > 0;
}

#endif /* MPROC_KIT_SPIN_H */
