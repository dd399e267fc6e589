/*
 * kit/region.h - sparse shared regions: large memfd mappings whose pages
 * are taken on touch and given back when drained.
 */
#ifndef MPROC_KIT_REGION_H
#define MPROC_KIT_REGION_H

#include "../sys/sys.h"

#include <stdbool.h>

/*
 * Memcheck annotations for sparse shared mappings. Memcheck's leak scan at
 * a process's exit (also at a fatal signal it delivers, and at a raise of
 * SIGKILL, which valgrind turns into such an exit) reads every accessible
 * byte of every writable mapping, and reading a never-written page of a
 * sparse memfd mapping allocates it: a gigabyte-sized reservation would
 * take minutes and all the memory. MPROC__MEM_HIDE makes a range
 * inaccessible (the scan skips it), MPROC__MEM_SHOW accessible and
 * defined, MPROC__MEM_UNDEF accessible and undefined (writable, not yet
 * readable). Natively each is a few instructions that do nothing (and a
 * compiler barrier); hot paths test MPROC__ON_VALGRIND() once and keep it.
 */
#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define MPROC__MEM_SHOW(p, n) VALGRIND_MAKE_MEM_DEFINED(p, n)
#define MPROC__MEM_UNDEF(p, n) VALGRIND_MAKE_MEM_UNDEFINED(p, n)
#define MPROC__MEM_HIDE(p, n) VALGRIND_MAKE_MEM_NOACCESS(p, n)
#define MPROC__ON_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef MPROC__MEM_SHOW
#define MPROC__ON_VALGRIND() false
#define MPROC__MEM_SHOW(p, n) ((void)(p), (void)(n))
#define MPROC__MEM_UNDEF(p, n) ((void)(p), (void)(n))
#define MPROC__MEM_HIDE(p, n) ((void)(p), (void)(n))
#endif

#endif /* MPROC_KIT_REGION_H */
