/*
 * mproc/ref.h - references: shared objects carried into any child.
 *
 * A reference is 16 plain bytes naming one shared object (a queue, a lock,
 * an array, a connection...). A parent takes it with mproc_<noun>_ref,
 * copies it into a child's argument bytes, and the child opens it with
 * mproc_<noun>_open to get its own handle on the same object. This works
 * under every start method: under fork the child also inherits the
 * parent's handles, as before; under spawn and forkserver, where nothing
 * of the parent's memory comes along, the reference is the way in.
 *
 * Which objects a child may open: every object whose reference its
 * parent took before the child was started and has not destroyed. Taking
 * a reference registers the object with the process; each start hands
 * the registered objects to the child (their file descriptors, inherited
 * across exec or sent to the forkserver). Opening a reference the process
 * was not given fails with MPROC_ENOENT; opening it as the wrong kind of
 * object (a queue's reference as a lock) fails with MPROC_EINVAL.
 *
 * Safety facts: a reference is bytes: copy it, store it, send it. It names
 * the object, not a handle: opening it twice gives two handles on the
 * same object, each destroyed on its own. Destroying the handle whose
 * reference was taken withdraws the object from later starts (take the
 * reference again from another open handle to keep handing it on).
 */
#ifndef MPROC_REF_H
#define MPROC_REF_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A reference to a shared object: plain bytes, copy it into args. */
typedef struct {
    uint64_t w[2];
} mproc_ref;

#ifdef __cplusplus
}
#endif

#endif /* MPROC_REF_H */
