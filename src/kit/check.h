/*
 * kit/check.h - stopping on misuse that would corrupt state.
 *
 * MPROC__CHECK guards what a caller can break at run time (a handle used
 * after destroy, a shared layout with a wrong magic): it is always on and
 * aborts with the file and line. assert() states what the library's own
 * code must keep (a lock held, a state reached); it is on in debug builds
 * and the sanitizer build, off (NDEBUG) in release builds.
 */
#ifndef MPROC_KIT_CHECK_H
#define MPROC_KIT_CHECK_H

#include <assert.h>
#include <pthread.h>
#include <stdbool.h>

/*
 * mproc__die - report misuse that would corrupt state (a handle used after
 * destroy, a shared layout with a wrong magic) and abort. Never returns.
 */
_Noreturn void mproc__die(const char *file, int line, const char *what);

/* Aborts with file and line when a handle fails its validity check. */
#define MPROC__CHECK(cond, what)                                               \
    do {                                                                       \
        if (!(cond))                                                           \
            mproc__die(__FILE__, __LINE__, what);                              \
    } while (0)

/*
 * mproc__held - whether some thread holds the mutex m, for assert() of a
 * "mutex held" precondition (a default mutex refuses its holder's trylock
 * too, so the holder sees true).
 */
static inline bool mproc__held(pthread_mutex_t *m)
{
    if (pthread_mutex_trylock(m) != 0)
        return true;
    pthread_mutex_unlock(m);
    return false;
}

#endif /* MPROC_KIT_CHECK_H */
