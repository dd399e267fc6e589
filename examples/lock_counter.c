/*
 * lock_counter - the Python docs' Lock example, in C, and what mproc adds:
 * a lock whose holder dies is not lost.
 *
 *     def f(l, i):
 *         l.acquire()
 *         try:
 *             print('hello world', i)
 *         finally:
 *             l.release()
 *
 *     lock = Lock()
 *     for num in range(10):
 *         Process(target=f, args=(lock, num)).start()
 *
 * Each child also adds to a counter in shared memory under the lock. Then
 * one child dies holding the lock - Python would hang the next acquirer;
 * here the next acquire returns MPROC_EOWNERDEAD with the lock held, and
 * the program repairs the counter and goes on.
 *
 * Build: cc lock_counter.c $(pkg-config --cflags --libs mproc)
 */
#include <mproc.h>

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static mproc_lock *lock;
static long *counter; /* in a MAP_SHARED page: children share it */

static int f(void *arg, size_t len)
{
    int i;
    memcpy(&i, arg, len);
    int rc = mproc_lock_acquire(lock, MPROC_FOREVER);
    if (rc != 0 && rc != MPROC_EOWNERDEAD)
        return 1;
    printf("hello world %d\n", i);
    fflush(stdout);
    ++*counter;
    return mproc_lock_release(lock) == 0 ? 0 : 1;
}

/* Takes the lock, half-updates the counter, and dies. */
static int die_holding(void *arg, size_t len)
{
    (void)arg, (void)len;
    mproc_lock_acquire(lock, MPROC_FOREVER);
    *counter = -1; /* inconsistent: to be repaired by the next holder */
    _exit(0);
}

static int run(mproc_target target, int i)
{
    mproc_process *p;
    int rc = mproc_process_create(&p, target, &i, sizeof i, NULL);
    if (rc == 0)
        rc = mproc_process_start(p);
    if (rc == 0)
        rc = mproc_process_join(p, MPROC_FOREVER);
    mproc_process_destroy(p);
    return rc;
}

int main(void)
{
    counter = mmap(NULL, sizeof *counter, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (counter == MAP_FAILED || mproc_lock_create(&lock) != 0)
        return 1;

    mproc_process *procs[10];
    for (int num = 0; num < 10; num++) {
        if (mproc_process_create(&procs[num], f, &num, sizeof num, NULL) ||
            mproc_process_start(procs[num]))
            return 1;
    }
    for (int num = 0; num < 10; num++) {
        mproc_process_join(procs[num], MPROC_FOREVER);
        mproc_process_destroy(procs[num]);
    }
    printf("counter: %ld\n", *counter);

    if (run(die_holding, 0) != 0)
        return 1;
    int rc = mproc_lock_acquire(lock, 5.0);
    printf("after a holder died: %s\n", mproc_err_name(rc));
    if (rc != MPROC_EOWNERDEAD)
        return 1;
    *counter = 10; /* repair what the lock guards */
    mproc_lock_release(lock);
    printf("repaired counter: %ld; next acquire: %s\n", *counter,
           mproc_err_name(mproc_lock_acquire(lock, 0)));
    mproc_lock_release(lock);
    mproc_lock_destroy(lock);
    return 0;
}
