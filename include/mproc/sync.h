/*
 * mproc/sync.h - Lock, RLock, Semaphore, BoundedSemaphore, Condition, Event
 * and Barrier: Python's multiprocessing synchronization in C.
 *
 * Every object lives in its own memfd-backed shared mapping. Create it
 * before mproc_process_start (or fork) and the child uses it as it is; its
 * handle is process-local memory pointing at the shared page.
 *
 * Timeouts are seconds as in Python: MPROC_FOREVER (any negative value)
 * waits as long as it takes; 0 tries once and fails with MPROC_EAGAIN; a
 * positive timeout fails with MPROC_ETIMEDOUT once it has passed, measured
 * against one CLOCK_MONOTONIC deadline taken at entry. A NaN timeout is
 * MPROC_EINVAL. No call ever fails with EINTR: signals are absorbed.
 *
 * Safety facts shared by every type here:
 * - Threads: every call is thread-safe, except that destroy must not race
 *   with other calls on the same handle.
 * - Processes: every object is process-shared; waiters sleep on
 *   process-shared futexes, never by polling in the uncontended case.
 * - Fork: an object created before a fork is the same object in the child
 *   (a MAP_SHARED mapping); the child has its own copy of the handle and
 *   destroys it independently. A Lock or RLock held at the fork stays held
 *   by the parent: the child does not own it.
 * - Crash: a process that dies inside any call never wedges the object for
 *   the others. A Lock, RLock or Condition lock held by a process that dies
 *   (SIGKILL, _exit, any cause) is taken over by the next acquirer, which
 *   gets MPROC_EOWNERDEAD with the lock held and should repair the state the
 *   lock guards. Waiters notice a dead holder within MPROC_SYNC_CHECK_MS: a
 *   sleeping waiter re-checks the holder every slice, only while contended.
 *   Owners are named by PID plus process start time, so a recycled PID is
 *   never mistaken for the dead holder.
 *
 * Lifetime: mproc_<type>_destroy releases this process's handle and
 * mapping; the object lives on while any process still maps it. Destroying
 * an object other processes are blocked on is safe for them. Using a handle
 * after destroy aborts with file and line when detected.
 *
 * References (mproc/ref.h): mproc_<type>_ref gives the 16 bytes that name
 * an object, for a child's argument bytes; in the child (or any process
 * that was given it) mproc_<type>_open makes a new handle on the same
 * object, under every start method. An opened handle is in every way like
 * the creator's: it maps the object's page again, over a descriptor of its
 * own, and is destroyed on its own (which closes only that descriptor).
 * A handle a child inherited by fork may be used as before; open is what
 * works under spawn and forkserver too.
 */
#ifndef MPROC_SYNC_H
#define MPROC_SYNC_H

#include "errors.h"
#include "ref.h"

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The longest a contended waiter sleeps before re-checking a holder's life
 * or a lost wake-up: the bound on noticing that a process died. */
#define MPROC_SYNC_CHECK_MS 50

typedef struct mproc_lock mproc_lock;
typedef struct mproc_rlock mproc_rlock;
typedef struct mproc_semaphore mproc_semaphore;
typedef struct mproc_condition mproc_condition;
typedef struct mproc_event mproc_event;
typedef struct mproc_barrier mproc_barrier;

/*
 * Lock - multiprocessing.Lock. Not owned by a thread: any thread of any
 * process may release it. Acquiring a Lock one already holds blocks (as in
 * Python) until the timeout.
 */

/*
 * mproc_lock_create - a new, unlocked Lock in its own shared mapping.
 * Returns 0 and sets *out; MPROC_EINVAL if out is NULL; MPROC_ENOMEM, or a
 * negative errno (-EMFILE) when no memfd could be made. *out is untouched on
 * failure.
 */
MPROC_API int mproc_lock_create(mproc_lock **out);

/*
 * mproc_lock_acquire - take the lock, waiting at most timeout seconds.
 *
 * Returns 0 once acquired; MPROC_EOWNERDEAD when acquired from a holder
 * that died holding it (the caller holds the lock: repair what it guards,
 * then release as usual); MPROC_EAGAIN (timeout 0) or MPROC_ETIMEDOUT when a
 * live process held it throughout; MPROC_EINVAL for a NaN timeout.
 * Uncontended: one atomic compare-and-swap, no system call. A try with
 * timeout 0 that finds the lock held looks once whether its holder lives.
 */
MPROC_API int mproc_lock_acquire(mproc_lock *l, double timeout);

/*
 * mproc_lock_release - release the lock, whoever acquired it, and wake one
 * waiter. Returns 0, or MPROC_EINVAL if it was not locked (Python's
 * ValueError). One atomic exchange; a futex wake only if someone waits.
 */
MPROC_API int mproc_lock_release(mproc_lock *l);

/* mproc_lock_locked - whether the lock is held (by anyone, alive or dead
 * and not yet taken over). A snapshot. */
MPROC_API bool mproc_lock_locked(mproc_lock *l);

/* mproc_lock_destroy - release this process's handle; accepts NULL. */
MPROC_API void mproc_lock_destroy(mproc_lock *l);

/*
 * mproc_lock_ref - the reference of l's Lock, into *out: registers it with
 * this process, so that every child started from now on may open it, until
 * this handle is destroyed. Taking it again gives the same bytes.
 * Returns 0; MPROC_EINVAL if out is NULL; MPROC_ENOMEM. Thread-safe.
 * Aborts when l is a destroyed handle.
 */
MPROC_API int mproc_lock_ref(mproc_lock *l, mproc_ref *out);

/*
 * mproc_lock_open - a new handle, *out, on the Lock that ref names. Opens
 * what this process was given: a reference its parent took before starting
 * it, or one this process took itself. The Lock's state is shared, held or
 * not; the handle is this process's own, released with mproc_lock_destroy.
 * Returns 0; MPROC_ENOENT when this process was not given ref (made up,
 * taken after this process started, or withdrawn by a destroy before the
 * start); MPROC_EINVAL if out is NULL or ref names another kind of object
 * (or a page of another layout version); MPROC_ENOMEM; a negative errno
 * value (-EMFILE) when no descriptor is left. *out is untouched on
 * failure. Thread-safe.
 */
MPROC_API int mproc_lock_open(mproc_lock **out, mproc_ref ref);

/*
 * RLock - multiprocessing.RLock: owned by one thread of one process, which
 * may acquire it again (each acquire needs its release). The owner is
 * (process token, pthread_self()). A thread that exits holding it in a live
 * process leaves it held, as in Python; a process that dies frees it for
 * takeover with MPROC_EOWNERDEAD.
 */

/* mproc_rlock_create - a new, unlocked RLock. Returns as mproc_lock_create. */
MPROC_API int mproc_rlock_create(mproc_rlock **out);

/*
 * mproc_rlock_acquire - take the RLock, or one more level if the calling
 * thread holds it already (returns 0 at once then). Returns as
 * mproc_lock_acquire; after MPROC_EOWNERDEAD the caller holds one level (the
 * dead owner's levels are gone). MPROC_EAGAIN also when the depth would
 * pass 2^32 - 1.
 */
MPROC_API int mproc_rlock_acquire(mproc_rlock *r, double timeout);

/*
 * mproc_rlock_release - drop one level; the last one frees the RLock and
 * wakes a waiter. Returns 0, or MPROC_EPERM if the calling thread does not
 * hold it (Python's RuntimeError / AssertionError).
 */
MPROC_API int mproc_rlock_release(mproc_rlock *r);

/* mproc_rlock_locked - whether anyone holds the RLock (Python 3.14). */
MPROC_API bool mproc_rlock_locked(mproc_rlock *r);

/* mproc_rlock_destroy - release this process's handle; accepts NULL. A
 * Condition made on this RLock must be destroyed first. */
MPROC_API void mproc_rlock_destroy(mproc_rlock *r);

/* mproc_rlock_ref, mproc_rlock_open - an RLock's reference, and a handle
 * on the RLock a reference names: as mproc_lock_ref and mproc_lock_open.
 * Ownership is (process, thread): a child that opens an RLock its parent
 * holds finds it held by the parent. */
MPROC_API int mproc_rlock_ref(mproc_rlock *r, mproc_ref *out);
MPROC_API int mproc_rlock_open(mproc_rlock **out, mproc_ref ref);

/*
 * Semaphore and BoundedSemaphore - a counter that acquire decrements,
 * waiting while it is 0, and release increments. A semaphore has no owner:
 * a process that dies holding units never gives them back (as in Python),
 * and a process killed while sleeping in acquire leaves only a slightly
 * pessimistic waiter count behind (releases then make a futex wake call
 * that finds nobody). Values are limited to 0..INT_MAX.
 */

/*
 * mproc_semaphore_create - a semaphore holding value units; bounded: a
 * BoundedSemaphore, whose release refuses to go above value.
 * Returns 0 and sets *out; MPROC_EINVAL if out is NULL or value > INT_MAX;
 * MPROC_ENOMEM or a negative errno as mproc_lock_create.
 */
MPROC_API int mproc_semaphore_create(mproc_semaphore **out, unsigned value,
                                     bool bounded);

/*
 * mproc_semaphore_acquire - take one unit, waiting at most timeout seconds
 * for one. Returns 0; MPROC_EAGAIN (timeout 0) or MPROC_ETIMEDOUT;
 * MPROC_EINVAL for a NaN timeout. Uncontended: one compare-and-swap.
 */
MPROC_API int mproc_semaphore_acquire(mproc_semaphore *s, double timeout);

/*
 * mproc_semaphore_release - give back one unit and wake one waiter.
 * Returns 0; MPROC_EINVAL when a bounded semaphore is already at its
 * initial value (Python's ValueError), or any semaphore at INT_MAX.
 */
MPROC_API int mproc_semaphore_release(mproc_semaphore *s);

/* mproc_semaphore_get_value - the units available now (>= 0), a snapshot. */
MPROC_API int mproc_semaphore_get_value(mproc_semaphore *s);

/* mproc_semaphore_locked - true when acquire would block (value 0). */
MPROC_API bool mproc_semaphore_locked(mproc_semaphore *s);

/* mproc_semaphore_destroy - release this process's handle; accepts NULL. */
MPROC_API void mproc_semaphore_destroy(mproc_semaphore *s);

/* mproc_semaphore_ref, mproc_semaphore_open - a Semaphore's reference, and
 * a handle on the Semaphore (bounded or not, as created) a reference
 * names: as mproc_lock_ref and mproc_lock_open. */
MPROC_API int mproc_semaphore_ref(mproc_semaphore *s, mproc_ref *out);
MPROC_API int mproc_semaphore_open(mproc_semaphore **out, mproc_ref ref);

/*
 * Condition - multiprocessing.Condition over an RLock (its own, or one the
 * caller gives). wait releases the lock entirely (whatever its depth),
 * sleeps until notified or the timeout, and re-takes the lock at the same
 * depth before returning, in every case. notify(n) wakes n waiters that
 * are waiting at the time; it does not wait for them (Python's
 * multiprocessing notify does, and hangs if one died).
 *
 * Crash: a process that dies holding the Condition's lock is handled as an
 * RLock's owner death: the next acquire, or a waiter re-taking the lock,
 * gets MPROC_EOWNERDEAD. A waiter that dies while waiting never absorbs a
 * wake-up a live waiter needed: wake-ups are tokens any waiter may take, so
 * a live sleeper is always woken; the dead waiter's place may later give
 * one spurious wake-up to a future waiter (check your predicate in a loop,
 * as Python's docs advise). Which waiter a notify wakes is not FIFO.
 */

/*
 * mproc_condition_create - a Condition over lock, or over an RLock of its
 * own when lock is NULL (Python's default). A given lock must outlive the
 * Condition; several Conditions may share one lock.
 * Returns as mproc_lock_create.
 */
MPROC_API int mproc_condition_create(mproc_condition **out, mproc_rlock *lock);

/* mproc_condition_acquire, _release - acquire or release the underlying
 * RLock: the same results as mproc_rlock_acquire and _release. */
MPROC_API int mproc_condition_acquire(mproc_condition *c, double timeout);
MPROC_API int mproc_condition_release(mproc_condition *c);

/*
 * mproc_condition_wait - wait for a notify, with the lock held on entry.
 *
 * Returns 0 when notified (Python's True); MPROC_EAGAIN (timeout 0) or
 * MPROC_ETIMEDOUT when the timeout passed first (Python's False);
 * MPROC_EOWNERDEAD when the lock, re-taken on the way out, had been held by
 * a process that died (notified or not: re-check the predicate and repair);
 * MPROC_EPERM if the calling thread does not hold the lock; MPROC_EINVAL
 * for a NaN timeout (the last two without waiting or releasing anything).
 * In all but the last two the lock is held again, at the depth it had, on
 * return. Re-taking the lock after the timeout may take longer than the
 * timeout, as in Python, while a live process holds it.
 */
MPROC_API int mproc_condition_wait(mproc_condition *c, double timeout);

/*
 * mproc_condition_notify - wake up to n of the threads waiting now.
 * mproc_condition_notify_all - wake all of them.
 * Returns 0, or MPROC_EPERM if the calling thread does not hold the lock.
 * Never blocks.
 */
MPROC_API int mproc_condition_notify(mproc_condition *c, unsigned n);
MPROC_API int mproc_condition_notify_all(mproc_condition *c);

/* mproc_condition_destroy - release this process's handle; accepts NULL. */
MPROC_API void mproc_condition_destroy(mproc_condition *c);

/*
 * mproc_condition_ref - the Condition's reference, as mproc_lock_ref. A
 * Condition made on a given RLock carries it: this takes that RLock's
 * reference too, so whoever may open the Condition may open its lock.
 * Returns 0; MPROC_EINVAL if out is NULL; MPROC_ENOMEM.
 */
MPROC_API int mproc_condition_ref(mproc_condition *c, mproc_ref *out);

/*
 * mproc_condition_open - a handle on the Condition ref names, as
 * mproc_lock_open. Over a given RLock, it opens that RLock too (a handle
 * the Condition owns and destroys with itself): waits and notifies in this
 * process and the creator's meet, and acquiring the Condition acquires the
 * same RLock that mproc_rlock_open of the RLock's reference gives. Returns
 * as mproc_lock_open; MPROC_ENOENT also when the RLock's reference was
 * withdrawn (its handle destroyed in the parent before the start).
 */
MPROC_API int mproc_condition_open(mproc_condition **out, mproc_ref ref);

/*
 * Event - multiprocessing.Event: a flag that wait waits for. A waiter
 * returns 0 if the flag was set at any time while it waited, even if it
 * was cleared again before the waiter ran (threading.Event's semantics).
 * Crash: the Event is one word; a process killed in any call leaves it set
 * or not, and sleepers re-check it every slice.
 */

/* mproc_event_create - a new, clear Event. Returns as mproc_lock_create. */
MPROC_API int mproc_event_create(mproc_event **out);

/* mproc_event_set - set the flag and wake every waiter. Returns 0. */
MPROC_API int mproc_event_set(mproc_event *e);

/* mproc_event_clear - clear the flag. Returns 0. */
MPROC_API int mproc_event_clear(mproc_event *e);

/* mproc_event_is_set - the flag, a snapshot. */
MPROC_API bool mproc_event_is_set(mproc_event *e);

/*
 * mproc_event_wait - wait until the flag is set. Returns 0 at once if it is
 * set, or once it is; MPROC_EAGAIN (timeout 0) or MPROC_ETIMEDOUT (Python's
 * False); MPROC_EINVAL for a NaN timeout.
 */
MPROC_API int mproc_event_wait(mproc_event *e, double timeout);

/* mproc_event_destroy - release this process's handle; accepts NULL. */
MPROC_API void mproc_event_destroy(mproc_event *e);

/* mproc_event_ref, mproc_event_open - an Event's reference, and a handle on
 * the Event a reference names: as mproc_lock_ref and mproc_lock_open. */
MPROC_API int mproc_event_ref(mproc_event *e, mproc_ref *out);
MPROC_API int mproc_event_open(mproc_event **out, mproc_ref ref);

/*
 * Barrier - threading.Barrier across processes: parties waiters meet, then
 * all go on. There is no action callback: have the party whose wait
 * returned 0 run it after the wait.
 *
 * Broken: a wait that times out, an abort, or a party that dies while
 * waiting (noticed within MPROC_SYNC_CHECK_MS by the others) breaks the
 * barrier: every waiter, and every later wait until mproc_barrier_reset,
 * gets MPROC_EBROKEN. A party that dies before it arrives cannot be told
 * from a slow one - nor can one that dies after its arrival completed a
 * generation, when the next generation waits for it: give waits a
 * timeout. A process killed inside a call
 * while it holds the barrier's internal lock breaks the barrier.
 */

/*
 * mproc_barrier_create - a barrier for parties (>= 1) processes or threads.
 * Returns 0 and sets *out; MPROC_EINVAL if out is NULL or parties is 0 or
 * larger than 1 << 20; MPROC_ENOMEM, or a negative errno as
 * mproc_lock_create.
 */
MPROC_API int mproc_barrier_create(mproc_barrier **out, unsigned parties);

/*
 * mproc_barrier_wait - arrive and wait for the other parties.
 *
 * Returns the arrival index (0 for the first to arrive, parties - 1 for
 * the last, which releases the others) once all have arrived;
 * MPROC_EBROKEN if the barrier is or becomes broken, including when this
 * wait's own timeout passes (it breaks the barrier, as in Python: a
 * timeout of 0 breaks it unless this party is the last); MPROC_EINVAL for
 * a NaN timeout.
 */
MPROC_API int mproc_barrier_wait(mproc_barrier *b, double timeout);

/* mproc_barrier_abort - break the barrier: waiters and later waits get
 * MPROC_EBROKEN until reset. Returns 0. */
MPROC_API int mproc_barrier_abort(mproc_barrier *b);

/* mproc_barrier_reset - return the barrier to empty and not broken; parties
 * waiting now get MPROC_EBROKEN. Returns 0. */
MPROC_API int mproc_barrier_reset(mproc_barrier *b);

/* mproc_barrier_parties - the number of parties it was created for. */
MPROC_API unsigned mproc_barrier_parties(mproc_barrier *b);

/* mproc_barrier_n_waiting - parties waiting now (0 when broken). */
MPROC_API unsigned mproc_barrier_n_waiting(mproc_barrier *b);

/* mproc_barrier_broken - whether the barrier is broken. */
MPROC_API bool mproc_barrier_broken(mproc_barrier *b);

/* mproc_barrier_destroy - release this process's handle; accepts NULL. */
MPROC_API void mproc_barrier_destroy(mproc_barrier *b);

/* mproc_barrier_ref, mproc_barrier_open - a Barrier's reference, and a
 * handle on the Barrier a reference names: as mproc_lock_ref and
 * mproc_lock_open. The parties are the creator's; a party's identity is
 * its process, however it got its handle. */
MPROC_API int mproc_barrier_ref(mproc_barrier *b, mproc_ref *out);
MPROC_API int mproc_barrier_open(mproc_barrier **out, mproc_ref ref);

#ifdef __cplusplus
}
#endif

#endif /* MPROC_SYNC_H */
