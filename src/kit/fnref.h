/*
 * kit/fnref.h - function references: a function named as (loaded object,
 * offset), so that it can cross into another process.
 *
 * A raw function pointer means something only in the process that took it
 * and in children forked from it. A mproc__fnref names the function as an
 * index into a process-wide table of loaded objects (the main program and
 * each shared object, as dladdr places them: path and base address) and
 * the function's offset from that object's base. It is 16 plain bytes, so
 * it travels in shared memory, in argument bytes or over a wire.
 *
 * Resolving turns a reference back into a pointer. Under fork a child
 * inherits the table, so a reference resolves by its index at once, with
 * no lookup. A process that does not share the table (a spawned child, an
 * MPI rank) resolves by the object's path instead: the table of the
 * process that took the reference names it (mproc__fnref_path there); the
 * object is found among this process's loaded objects or loaded (dlopen).
 *
 * Limits:
 * - The table holds MPROC__FNREF_OBJECTS objects; taking a reference to
 *   a function in one more fails with MPROC_ENOMEM.
 * - A reference to code that is not in a loaded object (heap or stack
 *   memory, code generated at run time) cannot be taken: MPROC_EINVAL.
 * - A reference by index is only as good as the process's table: a child
 *   forked before an object was added to its parent's table does not know
 *   that index (MPROC_ENOENT). mproc__fnref_register_loaded, called before
 *   forking, puts every object loaded at that moment in the table.
 * - By path, the object at that path must be the same file as the one the
 *   reference was taken in (nothing checks it). The main program goes by
 *   the name MPROC__FNREF_MAIN in every process, whatever its argv[0] or
 *   its path (an executable cannot be loaded with dlopen: a reference into
 *   it resolves only in a process running the same program).
 * - An object unloaded (dlclose) after a reference to it was taken leaves
 *   the reference pointing at nothing; objects loaded by resolve are never
 *   unloaded.
 *
 * Errors are mproc codes; "not found" is MPROC_ENOENT.
 *
 * Safety facts: every function is thread-safe. Resolving by index reads
 * the table without a lock. Appending to it takes a process-local mutex:
 * a child forked while another thread of its parent was appending
 * inherits that mutex held, and would block at its own first append (a
 * reference into an object new to the table, or a resolve by path); a
 * resolve by index, all that mproc's pool workers do, never takes it.
 * Nothing is shared between processes; a process dying inside any call
 * leaves nothing behind for others.
 */
#ifndef MPROC_KIT_FNREF_H
#define MPROC_KIT_FNREF_H

#include <stdint.h>

/* The path under which the table names the main program. */
#define MPROC__FNREF_MAIN "(main program)"

/* How many loaded objects the table of a process can hold. */
#define MPROC__FNREF_OBJECTS 1024

/* A function as (loaded object, offset): plain bytes, no pointer. */
typedef struct mproc__fnref {
    uint32_t object; /* index in the table of the process that took it */
    uint32_t zero;   /* always 0 (the bytes are fully defined) */
    uint64_t offset; /* the function's address less the object's base */
} mproc__fnref;

_Static_assert(sizeof(mproc__fnref) == 16, "a mproc__fnref is 16 bytes");

/*
 * mproc__fnref_of - the reference of fn, as the calling process names it.
 *
 * fn: any function of a loaded object; static functions too (dladdr finds
 *     the object that holds an address whether or not a symbol names it).
 *     Cast it to void (*)(void).
 *
 * Costs a dladdr (a lock and a walk of the object's symbols: several
 * microseconds): callers that take the same reference often keep the last
 * one. The first reference into an object appends the object to the
 * table (under the mutex); later ones read the table without a lock.
 *
 * Returns 0 and sets *out; MPROC_EINVAL if fn or out is NULL or fn lies
 * in no loaded object; MPROC_ENOMEM if the table is full (see above) or
 * memory for the object's path runs out.
 */
int mproc__fnref_of(void (*fn)(void), mproc__fnref *out);

/*
 * mproc__fnref_resolve - the function ref names, in the calling process.
 *
 * path: NULL to look ref's object up by its index, in the process that
 *       took ref or in a child forked from it after the object was in the
 *       table: a load and an add, no lock, no system call. Otherwise the
 *       object's path as the taking process knew it (mproc__fnref_path
 *       there); ref's index is then ignored and the object is looked up
 *       by that path: in the table, then among the objects this process
 *       has loaded, then loaded with dlopen. This is what spawned children
 *       and MPI ranks need, which share no table with the caller.
 *
 * Returns 0 and sets *fn; MPROC_EINVAL if ref or fn is NULL; MPROC_ENOENT
 * if the index is not in this process's table (path NULL), or the object
 * at path is neither loaded nor loadable (dlopen failed); MPROC_ENOMEM if
 * it had to be added to a full table.
 */
int mproc__fnref_resolve(const mproc__fnref *ref, const char *path,
                         void (**fn)(void));

/*
 * mproc__fnref_path - the path of object (an index of a reference taken in
 * this process), as dladdr gave it: what a transport sends along with
 * references to processes that do not share the table. The main program
 * appears as MPROC__FNREF_MAIN. Returns NULL for an index not in
 * the table. The string lives as long as the process.
 */
const char *mproc__fnref_path(uint32_t object);

/*
 * mproc__fnref_register_loaded - put every object loaded now in the table
 * (those already there stay as they are). A process about to fork workers
 * calls it first, so that the workers' inherited tables resolve by index
 * every reference the parent takes later into any of these objects.
 *
 * Returns 0; MPROC_ENOMEM if some objects did not fit (the table is full
 * or memory ran out): references into those are then resolvable only in
 * processes forked after they were added.
 */
int mproc__fnref_register_loaded(void);

#endif /* MPROC_KIT_FNREF_H */
