/*
 * process/start.c - children that begin with an exec: the start record,
 * the spawn start method, and mproc_init.
 *
 * Design. A spawned child is this same program, exec'd afresh with the
 * argv mproc_init saw: mproc_init opens the program's file
 * (/proc/self/exe) and keeps it, and spawn execs /proc/self/fd/N of it,
 * so a program replaced or deleted on disk since it started still runs as
 * itself (and valgrind, which stands in for /proc/self/exe only at open,
 * still runs the program rather than itself), through
 * posix_spawn: no copy of the parent's page tables, so the start does not
 * grow with the parent's memory. The child's record is written to a
 * memory file first; the child inherits that file (its fd number in the
 * environment variable MPROC_START) and the fds of the objects handed to
 * it, under the same numbers. mproc_init, the first statement of main,
 * finds MPROC_START, reads the record, adopts the handed objects,
 * resolves the target by its object's path and runs it; it never returns
 * into main there. The variable is removed first, so the child's own
 * children do not see it.
 *
 * Record layout: struct head, then nhandoffs mproc__handoff entries, the
 * argument bytes, and three NUL-terminated strings: the target's object
 * path, the name and the identity. The head carries the whole length, so
 * a reader can check every part lies inside it.
 *
 * Crash behaviour: a starter that dies after posix_spawn leaves a child
 * that reads its record (the memory file lives while the child holds it)
 * and runs; a daemon child checks its parent at once and dies if it has
 * gone. A child that cannot read its record or load its target says so
 * on stderr and exits with 255.
 */
#include "start.h"

#include "../kit/check.h"
#include "../sys/sys.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define START_ENV "MPROC_START"
#define RECORD_MAGIC 0x5453504du /* "MPST" */
#define RECORD_VERSION 1u

struct head {
    uint32_t magic, version;
    uint64_t len; /* the whole record */
    mproc__fnref target;
    uint64_t arglen;
    uint32_t nhandoffs;
    int32_t parent;
    uint32_t daemon;
    uint32_t pad;
};

_Static_assert(sizeof(struct head) == 56, "the record head is 56 bytes");
_Static_assert(sizeof(mproc__handoff) == 16, "a handoff entry is 16 bytes");

static char **saved_argv;
static char exe_path[32] = "/proc/self/exe"; /* /proc/self/fd/N once open */

char **mproc__start_argv(void)
{
    return saved_argv;
}

int mproc__child_encode(const mproc__child *c, void **rec, size_t *len)
{
    size_t hsize = c->nhandoffs * sizeof(mproc__handoff);
    size_t plen = strlen(c->path) + 1, nlen = strlen(c->name) + 1;
    size_t ilen = strlen(c->identity) + 1;
    size_t total = sizeof(struct head) + hsize + c->arglen + plen + nlen + ilen;
    char *b = malloc(total);
    if (!b)
        return MPROC_ENOMEM;
    struct head h = {.magic = RECORD_MAGIC,
                     .version = RECORD_VERSION,
                     .len = total,
                     .target = c->target,
                     .arglen = c->arglen,
                     .nhandoffs = (uint32_t)c->nhandoffs,
                     .parent = c->parent,
                     .daemon = c->daemon};
    char *at = b;
    memcpy(at, &h, sizeof h);
    at += sizeof h;
    if (hsize)
        memcpy(at, c->handoffs, hsize);
    at += hsize;
    if (c->arglen)
        memcpy(at, c->arg, c->arglen);
    at += c->arglen;
    memcpy(at, c->path, plen);
    memcpy(at + plen, c->name, nlen);
    memcpy(at + plen + nlen, c->identity, ilen);
    *rec = b;
    *len = total;
    return 0;
}

/* The NUL-terminated string at *at, within end; advances *at. */
static const char *take_string(char **at, const char *end)
{
    char *s = *at, *nul = memchr(s, 0, (size_t)(end - s));
    if (!nul)
        return NULL;
    *at = nul + 1;
    return s;
}

int mproc__child_decode(void *rec, size_t len, mproc__child *c)
{
    struct head h;
    if (len < sizeof h)
        return MPROC_EPROTO;
    memcpy(&h, rec, sizeof h);
    size_t hsize = (size_t)h.nhandoffs * sizeof(mproc__handoff);
    if (h.magic != RECORD_MAGIC || h.version != RECORD_VERSION ||
        h.len != len || h.nhandoffs > len / sizeof(mproc__handoff) ||
        h.arglen > len - sizeof h - hsize)
        return MPROC_EPROTO;
    char *at = (char *)rec + sizeof h, *end = (char *)rec + len;
    c->target = h.target;
    c->handoffs = h.nhandoffs ? (mproc__handoff *)(void *)at : NULL;
    c->nhandoffs = h.nhandoffs;
    at += hsize;
    c->arg = h.arglen ? at : NULL;
    c->arglen = h.arglen;
    at += h.arglen;
    c->parent = h.parent;
    c->daemon = h.daemon != 0;
    c->path = take_string(&at, end);
    c->name = c->path ? take_string(&at, end) : NULL;
    c->identity = c->name ? take_string(&at, end) : NULL;
    return c->identity ? 0 : MPROC_EPROTO;
}

int mproc__child_target(const mproc__child *c, mproc_target *fn)
{
    void (*f)(void);
    int rc = mproc__fnref_resolve(&c->target, c->path, &f);
    if (rc == 0)
        *fn = (mproc_target)f;
    return rc;
}

/* envp: this process's environment and one more entry, extra. */
static char **environment_with(char *extra)
{
    extern char **environ;
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = malloc((n + 2) * sizeof *env);
    if (!env)
        return NULL;
    memcpy(env, environ, n * sizeof *env);
    env[n] = extra;
    env[n + 1] = NULL;
    return env;
}

int mproc__spawn_self(char *entry, const int *keep, size_t nkeep, pid_t *pid)
{
    char **env = environment_with(entry);
    if (!env)
        return MPROC_ENOMEM;
    int rc = mproc__spawn(exe_path, saved_argv, env, keep, nkeep, pid);
    free(env);
    return rc;
}

int mproc__spawn_child(const void *rec, size_t len, const mproc__handoff *h,
                       size_t nh, pid_t *pid)
{
    int fd = mproc__memfd("mproc-start");
    if (fd < 0)
        return fd;
    int rc = mproc__pwrite_all(fd, rec, len, 0);
    int *keep = malloc((nh + 1) * sizeof *keep);
    if (rc == 0 && !keep)
        rc = MPROC_ENOMEM;
    if (rc == 0) {
        char entry[32];
        snprintf(entry, sizeof entry, START_ENV "=%d", fd);
        for (size_t k = 0; k < nh; k++)
            keep[k] = h[k].fd;
        keep[nh] = fd;
        rc = mproc__spawn_self(entry, keep, nh + 1, pid);
    }
    free(keep);
    mproc__close(fd);
    return rc;
}

/* The fd a variable of ours names ("12"), or -1. */
static int env_fd(const char *v)
{
    char *end;
    long fd = strtol(v, &end, 10);
    return end != v && fd >= 0 && fd <= INT32_MAX ? (int)fd : -1;
}

/* Reads the record at fd into *c (its bytes in *rec); 0 or a code. */
static int read_record(int fd, void **rec, mproc__child *c)
{
    struct head h;
    int rc = mproc__pread_all(fd, &h, sizeof h, 0);
    if (rc != 0)
        return rc;
    if (h.magic != RECORD_MAGIC || h.len < sizeof h || h.len > SIZE_MAX)
        return MPROC_EPROTO;
    void *b = malloc((size_t)h.len);
    if (!b)
        return MPROC_ENOMEM;
    rc = mproc__pread_all(fd, b, (size_t)h.len, 0);
    if (rc == 0)
        rc = mproc__child_decode(b, (size_t)h.len, c);
    if (rc == 0)
        rc = mproc__handoff_adopt(c->handoffs, c->nhandoffs);
    if (rc != 0)
        free(b);
    else
        *rec = b;
    return rc;
}

/* A spawned child's life: its record, then its target. Never returns. */
_Noreturn static void run_spawned(int fd)
{
    void *rec = NULL;
    mproc__child c = {0};
    mproc_target fn = NULL;
    int rc = fd < 0 ? MPROC_EPROTO : read_record(fd, &rec, &c);
    if (fd >= 0)
        mproc__close(fd);
    if (rc == 0)
        rc = mproc__child_target(&c, &fn);
    if (rc != 0) {
        fprintf(stderr,
                "mproc: a spawned child could not start: %s (target in %s)\n",
                mproc_strerror(rc), c.path ? c.path : "?");
        mproc__exit(255);
    }
    mproc__run_child(&c, fn, c.parent);
}

/* A copy of argv that later changes to it (getopt) leave alone. */
static char **copy_argv(int argc, char **argv)
{
    char **v = calloc((size_t)argc + 1, sizeof *v);
    for (int k = 0; v && k < argc; k++)
        if (!(v[k] = strdup(argv[k])))
            return NULL; /* a process out of memory at its start */
    return v;
}

int mproc_init(int *argc, char ***argv)
{
    if (!argc || !argv || !*argv || *argc < 1)
        return MPROC_EINVAL;
    if (saved_argv) /* called again: nothing more to do */
        return 0;
    if (!(saved_argv = copy_argv(*argc, *argv)))
        return MPROC_ENOMEM;
    int exe = mproc__open_self_exe();
    if (exe >= 0)
        snprintf(exe_path, sizeof exe_path, "/proc/self/fd/%d", exe);
    const char *v = getenv(MPROC__FORKSERVER_ENV);
    if (v || getenv(START_ENV)) { /* named as the program, not "exe" */
        const char *slash = strrchr(saved_argv[0], '/');
        mproc__set_name(slash ? slash + 1 : saved_argv[0]);
    }
    if (v) {
        char key[MPROC__FORKSERVER_KEY + 1];
        int fd = env_fd(v);
        const char *colon = strchr(v, ':');
        snprintf(key, sizeof key, "%s", colon ? colon + 1 : "");
        unsetenv(MPROC__FORKSERVER_ENV);
        mproc__forkserver_serve(fd, key);
    }
    if ((v = getenv(START_ENV))) {
        int fd = env_fd(v);
        unsetenv(START_ENV);
        run_spawned(fd);
    }
    return 0;
}
