/*
 * start_methods - one program under fork, forkserver and spawn: objects
 * reach the children as references.
 *
 *     def worker(q, lock, counter, n):
 *         with lock:
 *             counter.value += n
 *         q.put(f"{current_process().name} added {n}")
 *
 *     if __name__ == "__main__":
 *         for method in ("fork", "forkserver", "spawn"):
 *             ctx = get_context(method)
 *             q, lock = ctx.Queue(), ctx.Lock()
 *             counter = ctx.Value("q", 0, lock=False)
 *             ps = [ctx.Process(target=worker, args=(q, lock, counter, n))
 *                   for n in range(1, 5)]
 *             ...
 *
 * Python pickles q, lock and counter into each child. In C the parent takes
 * a reference of each (16 bytes) and copies them into the child's arg
 * bytes; the child opens them. Under fork the parent's pointers would do,
 * but references work under every method, so the program is the same for
 * all three. mproc_init, first in main, is where a spawned child runs its
 * target (and where the forkserver serves).
 *
 * Build: cc start_methods.c $(pkg-config --cflags --libs mproc)
 */
#include <mproc.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* What each child is given: plain bytes, no pointers. */
struct job {
    mproc_ref queue, lock, counter;
    int64_t n;
};

static int worker(void *arg, size_t len)
{
    struct job j;
    if (len != sizeof j)
        return 1;
    memcpy(&j, arg, sizeof j);
    mproc_queue *q;
    mproc_lock *lock;
    mproc_array *counter;
    if (mproc_queue_open(&q, j.queue) != 0)
        return 2;
    if (mproc_lock_open(&lock, j.lock) != 0)
        return 3;
    if (mproc_array_open(&counter, j.counter) != 0)
        return 4;
    mproc_lock_acquire(lock, MPROC_FOREVER);
    *(int64_t *)mproc_array_data(counter) += j.n;
    mproc_lock_release(lock);
    char msg[96];
    int n = snprintf(msg, sizeof msg, "%s added %lld",
                     mproc_current_process_name(), (long long)j.n);
    int rc = mproc_queue_put(q, msg, (size_t)n, MPROC_FOREVER);
    mproc_array_destroy(counter);
    mproc_lock_destroy(lock);
    mproc_queue_destroy(q);
    return rc == 0 ? 0 : 5;
}

/* Runs four workers under method m; 0 when they added up right. */
static int run(mproc_start_method m, const char *name)
{
    mproc_queue *q;
    mproc_lock *lock;
    mproc_array *counter;
    struct job j = {0};
    if (mproc_queue_create(&q, NULL) != 0 || mproc_lock_create(&lock) != 0 ||
        mproc_value_create(&counter, sizeof(int64_t), MPROC_LOCK_NONE) != 0 ||
        mproc_queue_ref(q, &j.queue) != 0 ||
        mproc_lock_ref(lock, &j.lock) != 0 ||
        mproc_array_ref(counter, &j.counter) != 0)
        return 1;
    mproc_process_opts opts = {.start_method = m};
    mproc_process *ps[4];
    for (int k = 0; k < 4; k++) {
        j.n = k + 1;
        if (mproc_process_create(&ps[k], worker, &j, sizeof j, &opts) != 0 ||
            mproc_process_start(ps[k]) != 0)
            return 1;
    }
    int failed = 0;
    for (int k = 0; k < 4; k++) {
        char msg[96];
        size_t len;
        if (mproc_queue_get(q, msg, sizeof msg - 1, &len, 10.0) == 0) {
            msg[len] = 0;
            printf("  %s: %s\n", name, msg);
        }
        int code = -1;
        mproc_process_join(ps[k], MPROC_FOREVER);
        mproc_process_exitcode(ps[k], &code);
        failed |= code != 0;
        mproc_process_destroy(ps[k]);
    }
    int64_t total = *(int64_t *)mproc_array_data(counter);
    printf("%s: counter = %lld (expected 10)\n", name, (long long)total);
    mproc_array_destroy(counter);
    mproc_lock_destroy(lock);
    mproc_queue_destroy(q);
    return failed || total != 10;
}

int main(int argc, char **argv)
{
    if (mproc_init(&argc, &argv) != 0)
        return 1;
    int failed = run(MPROC_START_FORK, "fork");
    failed |= run(MPROC_START_FORKSERVER, "forkserver");
    failed |= run(MPROC_START_SPAWN, "spawn");
    return failed;
}
