/*
 * mproc/shared.h - shared data: Python's Value, Array, RawValue, RawArray
 * and shared_memory.SharedMemory in C.
 *
 * Two kinds of shared memory live here:
 *
 * - mproc_array (Value and Array, synchronized or raw): an anonymous,
 *   memfd-backed mapping shared with every child forked after it was
 *   created. It has no name anywhere, so nothing can leak when a process
 *   dies. Its lock, when it has one, lives inside the same mapping. A Value
 *   is an array of one element.
 * - mproc_shm (SharedMemory): a named POSIX shared memory block in
 *   /dev/shm under exactly the names Python's
 *   multiprocessing.shared_memory.SharedMemory uses, so a C process and a
 *   Python process (or two unrelated C processes) attach the same block.
 *
 * The data itself is plain memory: mproc adds no barrier to the loads and
 * stores a program makes through mproc_array_data or mproc_shm_buf. Guard
 * it with the array's lock (or your own atomics) as in Python.
 */
#ifndef MPROC_SHARED_H
#define MPROC_SHARED_H

#include "errors.h"
#include "ref.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Safety facts of mproc_array:
 * - Threads: every call is thread-safe except destroy, which must not race
 *   another call on the same handle. The lock is a process-shared Lock or
 *   RLock of mproc/sync.h semantics; an RLock's owner is (process, thread).
 * - Processes: a child forked after create uses the handle as it is: it
 *   sees the same memory and the same lock. A child started under any
 *   method may open the array's reference (mproc_array_ref,
 *   mproc_array_open). Unrelated processes cannot attach (use mproc_shm
 *   for that).
 * - Fork: the mapping is inherited MAP_SHARED; the child's copy of the
 *   handle is its own to destroy. A lock held across fork stays held by the
 *   parent, as in Python.
 * - Crash: a process that dies while holding the lock leaves it to the next
 *   acquirer, who gets MPROC_EOWNERDEAD (the lock is then held) and should
 *   repair the data; nobody waits forever. The memory lives until the last
 *   process holding a handle (or a mapping of it) ends.
 */
typedef struct mproc_array mproc_array;

/*
 * The lock that guards an array, chosen at create: an RLock (Python's
 * default, lock=True), none (RawArray, RawValue, lock=False) or a Lock.
 */
typedef enum {
    MPROC_LOCK_RLOCK = 0,
    MPROC_LOCK_NONE,
    MPROC_LOCK_LOCK
} mproc_lock_kind;

/*
 * mproc_array_create - a zero-filled shared array of count elements of
 * elem_size bytes each (Python's Array / RawArray).
 *
 * The pages are taken on first touch, so an array may be far larger than
 * the memory free now (and larger than swap); touching more than the
 * machine can hold gets the process killed by the OOM killer, as with any
 * memory. count may be 0 (an empty array, as Python allows); the data
 * pointer is then valid but addresses no element. The data starts on a
 * 64-byte boundary.
 *
 * lock: MPROC_LOCK_RLOCK, MPROC_LOCK_LOCK, or MPROC_LOCK_NONE for the Raw
 *       forms.
 *
 * Returns 0 and sets *out; MPROC_EINVAL if out is NULL, elem_size is 0 or
 * lock is not one of the kinds; MPROC_ENOMEM when elem_size * count cannot
 * be represented or mapped, or memory runs out; another negative errno
 * value (-EMFILE) when no memfd could be made. Nothing is left mapped or
 * open on failure, and *out is untouched. Thread-safe.
 */
MPROC_API int mproc_array_create(mproc_array **out, size_t elem_size,
                                 size_t count, mproc_lock_kind lock);

/*
 * mproc_value_create - a shared value of size bytes, zero-filled (Python's
 * Value / RawValue): an array of one element of that size, used through the
 * mproc_array_* calls. Returns as mproc_array_create; MPROC_EINVAL for
 * size 0.
 */
MPROC_API int mproc_value_create(mproc_array **out, size_t size,
                                 mproc_lock_kind lock);

/*
 * mproc_array_data - the first element (Python's .value, indexing and
 * slicing). Valid, in this process and its children forked after create,
 * until this process destroys its handle. Aborts when a is a destroyed
 * handle.
 */
MPROC_API void *mproc_array_data(mproc_array *a);

/* mproc_array_len - the number of elements (1 for a Value), len(). */
MPROC_API size_t mproc_array_len(const mproc_array *a);

/*
 * mproc_array_lock - acquire the array's lock (Python's get_lock().acquire
 * and `with arr:`).
 *
 * timeout: seconds; MPROC_FOREVER (any negative value) waits as long as it
 * takes; 0 tries once. An RLock may be taken again by the thread that holds
 * it; each lock needs its unlock.
 *
 * Returns 0 when acquired; MPROC_EOWNERDEAD when acquired but the previous
 * holder died holding it (the data may be half-updated: repair it, then
 * unlock as usual); MPROC_EAGAIN (timeout 0) or MPROC_ETIMEDOUT when the
 * lock was not acquired (MPROC_EAGAIN also when an RLock's depth would
 * pass 2^32 - 1); MPROC_EINVAL for an array made with
 * MPROC_LOCK_NONE (Python's RawArray has no lock) or a NaN timeout.
 * A signal never interrupts the wait. Thread- and process-safe.
 */
MPROC_API int mproc_array_lock(mproc_array *a, double timeout);

/*
 * mproc_array_unlock - release the array's lock.
 *
 * Returns 0; MPROC_EINVAL for an array made with MPROC_LOCK_NONE or a Lock
 * that is not locked; MPROC_EPERM for an RLock the calling thread does not
 * hold. A Lock may be released by any process, as in Python.
 */
MPROC_API int mproc_array_unlock(mproc_array *a);

/*
 * mproc_array_destroy - release this process's handle: unmap its view and
 * its handle on the lock. Accepts NULL. The memory itself lives on while
 * any other process still holds the array. Using a after destroy aborts
 * with file and line when detected. Do not destroy while holding the lock
 * unless no one else will need it.
 */
MPROC_API void mproc_array_destroy(mproc_array *a);

/*
 * mproc_array_ref - the reference of a's array (a Value's too: it is an
 * array), into *out: 16 bytes to copy into a child's argument bytes
 * (mproc/ref.h). Registers the array with this process, so that every
 * child started from now on may open it, until this handle is destroyed;
 * taking it again gives the same bytes. Returns 0; MPROC_EINVAL if out is
 * NULL; MPROC_ENOMEM. Thread-safe. Aborts when a is a destroyed handle.
 */
MPROC_API int mproc_array_ref(mproc_array *a, mproc_ref *out);

/*
 * mproc_array_open - a new handle, *out, on the array that ref names, in a
 * process that was given it (a child started after its parent took ref,
 * under any start method, or the process that took it): the same memory
 * and the same lock, the element size, count and lock kind the creator
 * chose. mproc_array_data of this handle may be another address than the
 * creator's: hand offsets, not pointers, into the data. Released on its
 * own with mproc_array_destroy.
 *
 * Returns 0; MPROC_ENOENT when this process was not given ref (made up,
 * taken after this process started, or withdrawn by a destroy before the
 * start); MPROC_EINVAL if out is NULL, ref names another kind of object,
 * or the mapping is not an array of this layout version; MPROC_ENOMEM; a
 * negative errno value (-EMFILE) when no descriptor is left. *out is
 * untouched on failure. Thread-safe.
 */
MPROC_API int mproc_array_open(mproc_array **out, mproc_ref ref);

/*
 * Safety facts of mproc_shm:
 * - Threads: every call is thread-safe except close, which must not race
 *   another call on the same handle.
 * - Processes: any process of the same user attaches a block by name with
 *   mproc_shm_open, as Python's SharedMemory(name) does; a forked child
 *   also uses its copy of the handle as it is.
 * - Fork: the mapping is inherited MAP_SHARED; the child's copy of the
 *   handle is its own to close.
 * - Crash: the block is a file in /dev/shm. It outlives every process
 *   until someone calls mproc_shm_unlink (or shm_unlink, or Python's
 *   unlink()): the creator owns the name. Nothing unlinks it behind
 *   anyone's back: mproc has no resource tracker, and close never unlinks.
 */
typedef struct mproc_shm mproc_shm;

/* The longest name mproc_shm accepts, in bytes (NAME_MAX of /dev/shm). */
#define MPROC_SHM_NAME_MAX 255

/*
 * mproc_shm_create - create a new named shared memory block of size bytes,
 * zero-filled, mode 0600 (Python's SharedMemory(name, create=True,
 * size=size)).
 *
 * name: the block's name without a leading slash, as Python's .name gives
 *       it (the file is /dev/shm/<name>); 1 to MPROC_SHM_NAME_MAX bytes, no
 *       '/', not "." or "..". NULL picks a fresh random name "psm_" plus 8
 *       hex digits, as Python does (retrying on a collision).
 *
 * The caller owns the name: unlink it when no one needs it any more.
 * Touching pages beyond what /dev/shm can hold raises SIGBUS, as in Python.
 *
 * Returns 0 and sets *out; MPROC_EINVAL if out is NULL, size is 0 or the
 * name is empty, contains '/' or is "." or ".."; -ENAMETOOLONG for a name
 * over MPROC_SHM_NAME_MAX bytes; -EEXIST when the name is taken; -EACCES;
 * MPROC_ENOMEM when the size cannot be mapped; another negative errno
 * value (-EMFILE). On failure no name is left behind, nothing stays mapped
 * or open, and *out is untouched. Thread-safe.
 */
MPROC_API int mproc_shm_create(mproc_shm **out, const char *name, size_t size);

/*
 * mproc_shm_open - attach an existing block by name (Python's
 * SharedMemory(name)). Its size is the block's size now.
 *
 * Returns 0 and sets *out; MPROC_EINVAL if out or name is NULL (Python:
 * "'name' can only be None if create=True"), the name is malformed as for
 * create, or the block has size 0 (its creator has not sized it yet);
 * -ENAMETOOLONG; MPROC_ENOENT when no block has that name; -EACCES;
 * MPROC_ENOMEM; another negative errno value. Attaching never takes ownership
 * of the name: closing or dying never unlinks it. Thread-safe.
 */
MPROC_API int mproc_shm_open(mproc_shm **out, const char *name);

/*
 * mproc_shm_buf - the block's memory (Python's .buf), size bytes, page
 * aligned. Valid until this handle is closed, even after the name is
 * unlinked.
 */
MPROC_API void *mproc_shm_buf(mproc_shm *m);

/* mproc_shm_size - the block's size in bytes (Python's .size). */
MPROC_API size_t mproc_shm_size(const mproc_shm *m);

/*
 * mproc_shm_name - the block's name without a leading slash (Python's
 * .name). Owned by m, valid until close.
 */
MPROC_API const char *mproc_shm_name(const mproc_shm *m);

/*
 * mproc_shm_unlink - remove the block's name (Python's unlink()), so no
 * new process can attach it. Every mapping, here and elsewhere, stays valid
 * until closed; the memory is freed when the last is gone. Call it once,
 * from the owner of the name.
 *
 * Returns 0; MPROC_ENOENT when the name is already gone; -EACCES; another
 * negative errno value.
 */
MPROC_API int mproc_shm_unlink(mproc_shm *m);

/*
 * mproc_shm_close - unmap the block and free the handle (Python's close()).
 * Accepts NULL. Never unlinks the name. Using m after close aborts with file
 * and line when detected.
 */
MPROC_API void mproc_shm_close(mproc_shm *m);

#ifdef __cplusplus
}
#endif

#endif /* MPROC_SHARED_H */
