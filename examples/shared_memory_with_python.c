/*
 * shared_memory_with_python.c - the Python docs' SharedMemory example, with
 * a C process on one side and a Python process on the other.
 *
 * Python's version (multiprocessing.shared_memory docs):
 *
 *     shm_a = shared_memory.SharedMemory(create=True, size=10)
 *     buffer = shm_a.buf
 *     buffer[:4] = bytearray([22, 33, 44, 55])
 *     buffer[4] = 100
 *     shm_b = shared_memory.SharedMemory(shm_a.name)
 *     array.array('b', shm_b.buf[:5])   # array('b', [22, 33, 44, 55, 100])
 *     shm_b.buf[:5] = b'howdy'
 *     bytes(shm_a.buf[:5])              # b'howdy'
 *     shm_b.close(); shm_a.close(); shm_a.unlink()
 *
 * Here C is shm_a and shared_memory_with_python.py (run with python3) is
 * shm_b: it attaches by name, prints what C wrote, writes b'howdy' and
 * exits. C owns the name and unlinks it at the end.
 *
 * Usage: shared_memory_with_python [path/to/shared_memory_with_python.py]
 * (default: the script next to this source file). If python3 cannot be
 * run at all, the example says so and exits 0.
 */
#include <mproc.h>

#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

/* The script next to this source file. */
static void default_script(char *path, size_t cap)
{
    const char *slash = strrchr(__FILE__, '/');
    int dirlen = slash ? (int)(slash - __FILE__) : 1;
    snprintf(path, cap, "%.*s/shared_memory_with_python.py", dirlen,
             slash ? __FILE__ : ".");
}

/* Runs python3 script name; returns its exit status, 127 if not found. */
static int run_python(const char *script, const char *name)
{
    char prog[] = "python3", arg1[4096], arg2[MPROC_SHM_NAME_MAX + 1];
    snprintf(arg1, sizeof arg1, "%s", script);
    snprintf(arg2, sizeof arg2, "%s", name);
    char *argv[] = {prog, arg1, arg2, NULL};
    pid_t pid;
    if (posix_spawnp(&pid, "python3", NULL, NULL, argv, environ) != 0)
        return 127;
    int status;
    if (waitpid(pid, &status, 0) != pid)
        return 1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int main(int argc, char **argv)
{
    char script[4096];
    if (argc > 1)
        snprintf(script, sizeof script, "%s", argv[1]);
    else
        default_script(script, sizeof script);

    mproc_shm *shm_a;
    int rc = mproc_shm_create(&shm_a, NULL, 10);
    if (rc < 0) {
        fprintf(stderr, "create: %s\n", mproc_strerror(rc));
        return 1;
    }
    signed char *buffer = mproc_shm_buf(shm_a);
    memcpy(buffer, (signed char[]){22, 33, 44, 55}, 4);
    buffer[4] = 100;
    printf("C created %s (%zu bytes)\n", mproc_shm_name(shm_a),
           mproc_shm_size(shm_a));
    fflush(stdout);

    int status = run_python(script, mproc_shm_name(shm_a));
    if (status == 0)
        printf("C reads back: b'%.5s'\n", (char *)buffer);
    else if (status == 127)
        printf("python3 could not be run; skipping its side\n");
    else
        fprintf(stderr, "python3 failed with status %d\n", status);

    /* The creator owns the name: unlink it once, then close. */
    rc = mproc_shm_unlink(shm_a);
    mproc_shm_close(shm_a);
    if (rc < 0) {
        fprintf(stderr, "unlink: %s\n", mproc_strerror(rc));
        return 1;
    }
    return status == 0 || status == 127 ? 0 : 1;
}
