/*
 * barrier - threading.Barrier's pattern across processes: four workers
 * compute in phases and meet at a Barrier between them; the party whose
 * wait returns 0 does the per-phase work Python's action= would do.
 * Then one worker is killed while the others wait: they do not hang, the
 * barrier breaks (MPROC_EBROKEN) and reset makes it usable again.
 *
 *     b = Barrier(4)
 *     def worker(i):
 *         for phase in range(3):
 *             ...compute...
 *             if b.wait() == 0:
 *                 print('phase', phase, 'done')
 *
 * Build: cc barrier.c $(pkg-config --cflags --libs mproc)
 */
#include <mproc.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PARTIES 4

static mproc_barrier *barrier;

static int worker(void *arg, size_t len)
{
    int id;
    memcpy(&id, arg, len);
    for (int phase = 0; phase < 3; phase++) {
        usleep((useconds_t)(1000 * (id + 1))); /* uneven work */
        int index = mproc_barrier_wait(barrier, 10.0);
        if (index < 0)
            return 1;
        if (index == 0) {
            printf("phase %d done (all %d arrived)\n", phase, PARTIES);
            fflush(stdout);
        }
    }
    return 0;
}

/* Arrives at the barrier and reports how the wait ended. */
static int arrive(void *arg, size_t len)
{
    (void)arg, (void)len;
    return mproc_barrier_wait(barrier, MPROC_FOREVER) == MPROC_EBROKEN ? 0 : 1;
}

static mproc_process *start(mproc_target target, int id)
{
    mproc_process *p = NULL;
    if (mproc_process_create(&p, target, &id, sizeof id, NULL) == 0 &&
        mproc_process_start(p) == 0)
        return p;
    mproc_process_destroy(p);
    return NULL;
}

int main(void)
{
    if (mproc_barrier_create(&barrier, PARTIES) != 0)
        return 1;
    mproc_process *w[PARTIES];
    for (int i = 0; i < PARTIES; i++)
        if (!(w[i] = start(worker, i)))
            return 1;
    int failed = 0;
    for (int i = 0; i < PARTIES; i++) {
        int code = 1;
        mproc_process_join(w[i], MPROC_FOREVER);
        mproc_process_exitcode(w[i], &code);
        failed |= code;
        mproc_process_destroy(w[i]);
    }

    /* A party killed while waiting breaks the barrier for the others. */
    mproc_process *doomed = start(arrive, 0), *other = start(arrive, 1);
    if (!doomed || !other)
        return 1;
    while (mproc_barrier_n_waiting(barrier) < 2)
        usleep(1000);
    mproc_process_kill(doomed);
    int code = 1;
    mproc_process_join(other, MPROC_FOREVER);
    mproc_process_exitcode(other, &code);
    printf("a party was killed: the others got MPROC_EBROKEN (%s), "
           "broken = %d\n",
           code == 0 ? "yes" : "no", mproc_barrier_broken(barrier));
    failed |= code;
    mproc_barrier_reset(barrier);
    printf("after reset: broken = %d\n", mproc_barrier_broken(barrier));
    mproc_process_join(doomed, MPROC_FOREVER);
    mproc_process_destroy(doomed);
    mproc_process_destroy(other);
    mproc_barrier_destroy(barrier);
    return failed;
}
