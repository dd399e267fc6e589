/*
 * shared.c - shared data: Value and Array (memfd) and SharedMemory (named).
 *
 * Arrays. Each array (a Value is an array of one element) is one memfd
 * mapping, MAP_SHARED, so every child forked after create sees the same
 * pages through the same addresses. The mapping is laid out as
 *
 *     offset   0  struct layout: magic, version, lock kind, element size,
 *                 count, and the offsets of the lock and the data. Written
 *                 once by the creator before anyone else can see the
 *                 mapping; read-only afterwards.
 *     offset  64  the lock, on its own cache line (contenders write it).
 *     offset 128  the data, 64-byte aligned, elem_size * count bytes.
 *
 * Offsets, not pointers, so the layout means the same in any process that
 * maps the memfd. Large arrays are mapped MAP_NORESERVE: a memfd takes a
 * page only when it is first touched, so an array may promise more than
 * the machine has free.
 *
 * The lock is the kit's embeddable robust lock (kit/lock.h): a
 * mproc__lock word for MPROC_LOCK_LOCK, a mproc__rlock (the word plus the
 * owning thread and a depth) for MPROC_LOCK_RLOCK; zero-filled memory is a
 * free lock. It lives in the array's own mapping, so a child forked after
 * create shares it without any further setup, and uncontended lock+unlock
 * is two atomic instructions. The data carries no synchronization of its
 * own: the lock orders the accesses made under it (acquire on lock,
 * release on unlock), as any mutex does.
 *
 * The handle (struct mproc_array) is private to a process and immutable
 * after create, so every call but destroy is thread-safe without a lock of
 * its own. A forked child inherits both the mapping and a copy of the
 * handle. The handle keeps the memfd open: a reference to the array
 * (mproc_array_ref) hands it to a child started later, whose
 * mproc_array_open maps it again (at an address of its own: the layout
 * holds offsets) after checking the layout, and builds its own handle.
 *
 * SharedMemory. A block is the file /dev/shm/<name>, created with
 * O_CREAT|O_EXCL and mode 0600, exactly as CPython's SharedMemory does
 * through shm_open("/<name>"); random names are "psm_" plus 8 hex digits,
 * as Python makes them. The fd is closed once the block is mapped. The
 * name belongs to whoever created it: close never unlinks, and there is no
 * resource tracker, so a process that attaches and then exits or dies
 * never removes a block others still use (CPython before 3.13 does: see
 * docs/api/shared.md).
 *
 * Crash behaviour. A process that dies holding an array's lock: the next
 * acquirer gets MPROC_EOWNERDEAD from the lock and owns it. A process that
 * dies inside any other array call leaves nothing shared half-done: create
 * publishes nothing until it returns, and an unfinished memfd vanishes
 * with its process. A process killed inside mproc_shm_create, between
 * shm_open and the end of sizing, may leave its new name behind, perhaps
 * still of size 0 (which mproc_shm_open reports as MPROC_EINVAL): the same
 * window Python's SharedMemory has. Every error that create survives
 * removes the name again.
 */
#include "../kit/check.h"
#include "../kit/handoff.h"
#include "../kit/lock.h"
#include "../kit/region.h"
#include "mproc/shared.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_MAGIC 0x41525259u  /* "ARRY": a live handle */
#define SHM_MAGIC 0x53484d42u    /* "SHMB": a live handle */
#define LAYOUT_MAGIC 0x6d707261u /* "mpra": the shared layout */
#define LAYOUT_VERSION 1u
#define CACHE_LINE 64
#define LOCK_OFF CACHE_LINE
#define DATA_OFF (2 * CACHE_LINE)
#define SPARSE_FROM ((size_t)1 << 20) /* map larger arrays MAP_NORESERVE */

/* The head of every array mapping (offset 0). */
struct layout {
    uint32_t magic;
    uint32_t version;
    uint32_t lock_kind;
    uint32_t reserved;
    uint64_t elem_size;
    uint64_t count;
    uint64_t lock_off; /* 0 when there is no lock */
    uint64_t data_off;
};
_Static_assert(sizeof(struct layout) <= LOCK_OFF, "layout fits its line");

struct mproc_array {
    uint32_t magic;
    mproc_lock_kind kind;
    mproc__region map; /* the mapping, and the memfd a reference hands on */
    size_t count;
    void *data;
};

/* The lock of an array, at LOCK_OFF of its mapping. */
union array_lock {
    mproc__lock lock;   /* MPROC_LOCK_LOCK */
    mproc__rlock rlock; /* MPROC_LOCK_RLOCK */
};
_Static_assert(sizeof(union array_lock) <= DATA_OFF - LOCK_OFF,
               "the lock fits its line");

static union array_lock *lock_of(const mproc_array *a)
{
    return (union array_lock *)(void *)(a->map.base + LOCK_OFF);
}

/* Sets up the process-local handle of the array whose layout a's mapping
 * holds (made here, or opened from a reference). */
static mproc_array *setup(mproc_array *a)
{
    const struct layout *l = (const struct layout *)(void *)a->map.base;
    a->kind = (mproc_lock_kind)l->lock_kind;
    a->count = (size_t)l->count;
    a->data = a->map.base + l->data_off;
    a->magic = ARRAY_MAGIC;
    return a;
}

int mproc_array_create(mproc_array **out, size_t elem_size, size_t count,
                       mproc_lock_kind lock)
{
    if (!out || elem_size == 0 ||
        (lock != MPROC_LOCK_RLOCK && lock != MPROC_LOCK_NONE &&
         lock != MPROC_LOCK_LOCK))
        return MPROC_EINVAL;
    if (count > (SIZE_MAX - DATA_OFF) / elem_size)
        return MPROC_ENOMEM;
    size_t size = DATA_OFF + elem_size * count;
    mproc_array *a = calloc(1, sizeof *a);
    if (!a)
        return MPROC_ENOMEM;
    int rc = mproc__region_map(&a->map, "mproc-array", size,
                               size >= SPARSE_FROM ? MPROC__MAP_SPARSE : 0);
    if (rc < 0) {
        free(a);
        return rc;
    }
    struct layout *l = (struct layout *)(void *)a->map.base;
    *l = (struct layout){
        .magic = LAYOUT_MAGIC,
        .version = LAYOUT_VERSION,
        .lock_kind = (uint32_t)lock,
        .elem_size = elem_size,
        .count = count,
        .lock_off = lock == MPROC_LOCK_NONE ? 0 : LOCK_OFF,
        .data_off = DATA_OFF,
    };
    if (lock == MPROC_LOCK_RLOCK)
        mproc__rlock_init(&lock_of(a)->rlock);
    else if (lock == MPROC_LOCK_LOCK)
        mproc__lock_init(&lock_of(a)->lock);
    *out = setup(a);
    return 0;
}

/* Whether r's mapping holds an array laid out as create lays it out: what
 * a reference opened from another process must show before this process
 * trusts its offsets. */
static bool layout_sound(const mproc__region *r)
{
    const struct layout *l = (const struct layout *)(void *)r->base;
    bool locked =
        l->lock_kind == MPROC_LOCK_RLOCK || l->lock_kind == MPROC_LOCK_LOCK;
    return (locked || l->lock_kind == MPROC_LOCK_NONE) &&
           l->lock_off == (locked ? LOCK_OFF : 0) && l->data_off == DATA_OFF &&
           l->elem_size != 0 && l->count <= (r->len - DATA_OFF) / l->elem_size;
}

int mproc_array_open(mproc_array **out, mproc_ref ref)
{
    if (!out)
        return MPROC_EINVAL;
    static const mproc__region_layout layout = {
        MPROC__REF_ARRAY, LAYOUT_MAGIC, LAYOUT_VERSION, DATA_OFF, layout_sound};
    mproc_array *a = calloc(1, sizeof *a);
    if (!a)
        return MPROC_ENOMEM;
    int rc = mproc__region_open(&a->map, ref, &layout);
    if (rc < 0) {
        free(a);
        return rc;
    }
    *out = setup(a);
    return 0;
}

int mproc_value_create(mproc_array **out, size_t size, mproc_lock_kind lock)
{
    return mproc_array_create(out, size, 1, lock);
}

static void check_array(const mproc_array *a)
{
    MPROC__CHECK(a && a->magic == ARRAY_MAGIC,
                 "mproc_array used after destroy");
    MPROC__CHECK(((const struct layout *)(void *)a->map.base)->magic ==
                     LAYOUT_MAGIC,
                 "mproc_array layout overwritten");
}

int mproc_array_ref(mproc_array *a, mproc_ref *out)
{
    check_array(a);
    if (!out)
        return MPROC_EINVAL;
    return mproc__region_ref(&a->map, MPROC__REF_ARRAY, out);
}

void *mproc_array_data(mproc_array *a)
{
    check_array(a);
    return a->data;
}

size_t mproc_array_len(const mproc_array *a)
{
    check_array(a);
    return a->count;
}

int mproc_array_lock(mproc_array *a, double timeout)
{
    check_array(a);
    switch (a->kind) {
    case MPROC_LOCK_RLOCK:
        return mproc__rlock_acquire(&lock_of(a)->rlock, timeout);
    case MPROC_LOCK_LOCK:
        return mproc__lock_acquire(&lock_of(a)->lock, timeout);
    default:
        return MPROC_EINVAL;
    }
}

int mproc_array_unlock(mproc_array *a)
{
    check_array(a);
    switch (a->kind) {
    case MPROC_LOCK_RLOCK:
        return mproc__rlock_release(&lock_of(a)->rlock);
    case MPROC_LOCK_LOCK:
        return mproc__lock_release(&lock_of(a)->lock);
    default:
        return MPROC_EINVAL;
    }
}

void mproc_array_destroy(mproc_array *a)
{
    if (!a)
        return;
    check_array(a);
    a->magic = 0;
    mproc__region_unmap(&a->map);
    free(a);
}

/* SharedMemory. */

#define SHM_PREFIX "psm_"
#define SHM_RANDOM_BYTES 4 /* Python's (14 - len("/psm_")) // 2 */

struct mproc_shm {
    uint32_t magic;
    void *buf;
    size_t size;
    char path[MPROC_SHM_NAME_MAX + 2]; /* "/" + name + NUL */
};

/* Checks a user's name and makes the shm_open path "/name" of it. */
static int make_path(char *path, const char *name)
{
    if (!name)
        return MPROC_EINVAL;
    size_t len = strlen(name);
    if (len == 0 || strchr(name, '/') || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0)
        return MPROC_EINVAL;
    if (len > MPROC_SHM_NAME_MAX)
        return -ENAMETOOLONG;
    path[0] = '/';
    memcpy(path + 1, name, len + 1);
    return 0;
}

/* A fresh random name, as Python's _make_filename: "/psm_" + 8 hex. */
static int random_path(char *path)
{
    unsigned char bytes[SHM_RANDOM_BYTES];
    int rc = mproc__random(bytes, sizeof bytes);
    if (rc < 0)
        return rc;
    int n = snprintf(path, MPROC_SHM_NAME_MAX + 2, "/" SHM_PREFIX);
    for (size_t i = 0; i < sizeof bytes; i++)
        n += snprintf(path + n, 3, "%02x", bytes[i]);
    return 0;
}

/* Hands m out through *out, or frees it when rc reports a failure. */
static int shm_done(mproc_shm *m, int rc, mproc_shm **out)
{
    if (rc < 0) {
        free(m);
        return rc;
    }
    m->magic = SHM_MAGIC;
    *out = m;
    return 0;
}

int mproc_shm_create(mproc_shm **out, const char *name, size_t size)
{
    if (!out || size == 0)
        return MPROC_EINVAL;
    mproc_shm *m = calloc(1, sizeof *m);
    if (!m)
        return MPROC_ENOMEM;
    int rc;
    if (name) {
        rc = make_path(m->path, name);
        if (rc == 0)
            rc = mproc__shm_create(m->path, size, &m->buf);
    } else {
        do {
            rc = random_path(m->path);
            if (rc == 0)
                rc = mproc__shm_create(m->path, size, &m->buf);
        } while (rc == -EEXIST);
    }
    m->size = size;
    return shm_done(m, rc, out);
}

int mproc_shm_open(mproc_shm **out, const char *name)
{
    if (!out)
        return MPROC_EINVAL;
    mproc_shm *m = calloc(1, sizeof *m);
    if (!m)
        return MPROC_ENOMEM;
    int rc = make_path(m->path, name);
    if (rc == 0)
        rc = mproc__shm_open(m->path, &m->size, &m->buf);
    return shm_done(m, rc, out);
}

static void check_shm(const mproc_shm *m)
{
    MPROC__CHECK(m && m->magic == SHM_MAGIC, "mproc_shm used after close");
}

void *mproc_shm_buf(mproc_shm *m)
{
    check_shm(m);
    return m->buf;
}

size_t mproc_shm_size(const mproc_shm *m)
{
    check_shm(m);
    return m->size;
}

const char *mproc_shm_name(const mproc_shm *m)
{
    check_shm(m);
    return m->path + 1;
}

int mproc_shm_unlink(mproc_shm *m)
{
    check_shm(m);
    return mproc__shm_unlink(m->path);
}

void mproc_shm_close(mproc_shm *m)
{
    if (!m)
        return;
    check_shm(m);
    m->magic = 0;
    mproc__shared_unmap(m->buf, m->size);
    free(m);
}
