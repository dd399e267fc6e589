/*
 * kit/fnref.c - function references (fnref.h).
 *
 * The table: a fixed array of (path, base) entries and a count. Entries
 * below the count never change, so readers load the count (acquire) and
 * read what is below it without a lock. Appenders serialise on one mutex:
 * each fills the entry at the count, then stores count + 1 (release), so
 * a reader that sees the new count sees the whole entry. Paths are copied
 * (strdup) and never freed: a reference may be resolved, or its path
 * asked for, at any time while the process lives.
 *
 * An entry is keyed by both base and path: an object unloaded and another
 * loaded at the same address later get entries of their own. The same
 * object may appear twice under two paths (dladdr's name for it, and the
 * path a reference from another process gave); both resolve alike.
 *
 * A reference's base is dladdr's dli_fbase, the lowest address the object
 * is mapped at, and every way of finding an object here (dladdr on a
 * function, on an address of each object dl_iterate_phdr lists, on the
 * dynamic section of an object dlopen returned) asks dladdr for it, so
 * the three agree.
 *
 * Fork: the table (private memory) is copied into a child as it stands.
 * The mutex too: if another thread of the parent was appending, the child
 * finds it held for good, and its own first append would block. Resolving
 * by index never takes it; mproc's pool workers do nothing else.
 */
#include "fnref.h"

#include "mproc/errors.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct object {
    const char *path; /* as dladdr, or the resolving caller, named it */
    uintptr_t base;   /* dli_fbase: where the object is mapped */
};

static struct object objects[MPROC__FNREF_OBJECTS];
static _Atomic uint32_t count; /* entries published; release on append */
static pthread_mutex_t append_mu = PTHREAD_MUTEX_INITIALIZER;

static uint32_t published(void)
{
    return atomic_load_explicit(&count, memory_order_acquire);
}

/* The index of (path, base) among entries [from, to), or -1. */
static int64_t find(const char *path, uintptr_t base, uint32_t from,
                    uint32_t to)
{
    for (uint32_t k = from; k < to; k++)
        if (objects[k].base == base && strcmp(objects[k].path, path) == 0)
            return k;
    return -1;
}

/* The index of the first entry named path among [0, to), or -1. */
static int64_t find_path(const char *path, uint32_t to)
{
    for (uint32_t k = 0; k < to; k++)
        if (strcmp(objects[k].path, path) == 0)
            return k;
    return -1;
}

/* The index of (path, base), appended if new; or MPROC_ENOMEM. */
static int64_t intern(const char *path, uintptr_t base)
{
    uint32_t seen = published();
    int64_t k = find(path, base, 0, seen);
    if (k >= 0)
        return k;
    pthread_mutex_lock(&append_mu);
    uint32_t n = atomic_load_explicit(&count, memory_order_relaxed);
    k = find(path, base, seen, n);
    if (k < 0) {
        char *copy = n < MPROC__FNREF_OBJECTS ? strdup(path) : NULL;
        if (copy) {
            objects[n] = (struct object){copy, base};
            atomic_store_explicit(&count, n + 1, memory_order_release);
            k = n;
        } else {
            k = MPROC_ENOMEM;
        }
    }
    pthread_mutex_unlock(&append_mu);
    return k;
}

/* The main program's base (dladdr's dli_fbase of its dynamic section). */
static uintptr_t main_base;
static pthread_once_t main_once = PTHREAD_ONCE_INIT;

static void find_main(void)
{
    void *h = dlopen(NULL, RTLD_NOW);
    struct link_map *lm = NULL;
    Dl_info info;
    if (h && dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_ld &&
        dladdr(lm->l_ld, &info) && info.dli_fbase)
        main_base = (uintptr_t)info.dli_fbase;
}

/* dladdr's object for addr: its path (MPROC__FNREF_MAIN for the main
 * program) and base. */
static bool place(const void *addr, const char **path, uintptr_t *base)
{
    Dl_info info;
    if (!dladdr(addr, &info) || !info.dli_fbase)
        return false;
    pthread_once(&main_once, find_main);
    *base = (uintptr_t)info.dli_fbase;
    *path = *base == main_base ? MPROC__FNREF_MAIN
            : info.dli_fname   ? info.dli_fname
                               : "";
    return true;
}

int mproc__fnref_of(void (*fn)(void), mproc__fnref *out)
{
    uintptr_t addr = (uintptr_t)fn;
    const char *path;
    uintptr_t base;
    if (!fn || !out || !place((const void *)addr, &path, &base))
        return MPROC_EINVAL;
    int64_t k = intern(path, base);
    if (k < 0)
        return (int)k;
    *out = (mproc__fnref){.object = (uint32_t)k, .offset = addr - base};
    return 0;
}

const char *mproc__fnref_path(uint32_t object)
{
    return object < published() ? objects[object].path : NULL;
}

/* ---- every loaded object -------------------------------------------- */

struct loaded {
    const void *addr[MPROC__FNREF_OBJECTS]; /* one address in each */
    unsigned n;
};

/* dl_iterate_phdr's callback: notes the start of each object's first
 * loadable segment. dladdr is not called here, under the loader's lock. */
static int note(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct loaded *l = arg;
    (void)size;
    for (ElfW(Half) k = 0; k < info->dlpi_phnum; k++) {
        if (info->dlpi_phdr[k].p_type != PT_LOAD)
            continue;
        if (l->n == MPROC__FNREF_OBJECTS)
            return 1;
        l->addr[l->n++] =
            (const void *)(info->dlpi_addr + info->dlpi_phdr[k].p_vaddr);
        break;
    }
    return 0;
}

int mproc__fnref_register_loaded(void)
{
    struct loaded *l = malloc(sizeof *l);
    if (!l)
        return MPROC_ENOMEM;
    l->n = 0;
    int rc = dl_iterate_phdr(note, l) ? MPROC_ENOMEM : 0;
    for (unsigned k = 0; k < l->n; k++) {
        const char *path;
        uintptr_t base;
        if (place(l->addr[k], &path, &base) && intern(path, base) < 0)
            rc = MPROC_ENOMEM;
    }
    free(l);
    return rc;
}

/* ---- resolving ----------------------------------------------------- */

/* The index of the object at path: in the table, among the objects
 * loaded now, or loaded here (and never unloaded). */
static int64_t by_path(const char *path)
{
    int64_t k = find_path(path, published());
    if (k >= 0)
        return k;
    mproc__fnref_register_loaded(); /* loaded, but not yet in the table? */
    if ((k = find_path(path, published())) >= 0)
        return k;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return MPROC_ENOENT;
    struct link_map *lm = NULL;
    const char *name;
    uintptr_t base;
    if (dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0 || !lm || !lm->l_ld ||
        !place(lm->l_ld, &name, &base)) {
        dlclose(h);
        return MPROC_ENOENT;
    }
    return intern(path, base);
}

int mproc__fnref_resolve(const mproc__fnref *ref, const char *path,
                         void (**fn)(void))
{
    if (!ref || !fn)
        return MPROC_EINVAL;
    int64_t k;
    if (!path)
        k = ref->object < published() ? (int64_t)ref->object : MPROC_ENOENT;
    else
        k = by_path(path);
    if (k < 0)
        return (int)k;
    *fn = (void (*)(void))(objects[k].base + (uintptr_t)ref->offset);
    return 0;
}
