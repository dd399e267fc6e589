/*
 * robust.c - the kernel's robust-futex list, through glibc's robust
 * process-shared mutexes: a word in shared memory that the kernel marks
 * when the thread holding it dies.
 *
 * The list is per thread and owned by glibc (it registers each thread's
 * list head with set_robust_list; a second registration would replace
 * it), so mproc uses the list only through pthread_mutex_t: a mutex
 * taken by pthread_mutex_trylock is linked into the calling thread's
 * list, and when that thread exits - the process killed by SIGKILL
 * included, or a thread taken by exec - the kernel sets FUTEX_OWNER_DIED
 * in each word still held. Another process then sees the death with a
 * trylock (one compare-and-swap; no system call on either side, as long
 * as nobody sleeps on the mutex, and nobody here ever does).
 *
 * The words glibc keeps in the mutex besides its lock word are the
 * holder's list links: pointers into the holder's own address space, read
 * only by the holder and the kernel.
 */
#include "sys.h"

#include <errno.h>

int mproc__robust_init(mproc__robust *r)
{
    pthread_mutexattr_t a;
    int rc = pthread_mutexattr_init(&a);
    if (rc != 0)
        return -rc;
    rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (rc == 0)
        rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (rc == 0)
        rc = pthread_mutex_init(&r->mutex, &a);
    pthread_mutexattr_destroy(&a);
    return -rc;
}

int mproc__robust_try(mproc__robust *r)
{
    int rc = pthread_mutex_trylock(&r->mutex);
    if (rc == EOWNERDEAD) {
        /* Held now; consistent again, so that its release frees it for
         * good rather than making it unrecoverable. */
        pthread_mutex_consistent(&r->mutex);
        return MPROC_EOWNERDEAD;
    }
    return rc == EBUSY ? MPROC_EBUSY : -rc;
}

void mproc__robust_release(mproc__robust *r)
{
    pthread_mutex_unlock(&r->mutex);
}
