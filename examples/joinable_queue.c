// clang-format off
/*
 * joinable_queue - the task_done/join pattern of Python's queue docs, with
 * a JoinableQueue and worker processes.
 *
 *     def worker(q):
 *         while True:
 *             item = q.get()
 *             print(f'Working on {item}')
 *             print(f'Finished {item}')
 *             q.task_done()
 *
 *     q = JoinableQueue()
 *     for i in range(WORKERS):
 *         Process(target=worker, args=(q,), daemon=True).start()
 *     for item in range(30):
 *         q.put(item)
 *     q.join()
 *     print('All work completed')
 *
 * Here the workers end cleanly: after join the queue is shut down, each
 * worker's get fails with MPROC_ESHUTDOWN and it returns.
 *
 * Build: cc joinable_queue.c $(pkg-config --cflags --libs mproc)
 */
// clang-format on
#include <mproc.h>

#include <stdio.h>
#include <unistd.h>

#define WORKERS 3
#define ITEMS 30

static int worker(void *arg, size_t len)
{
    (void)len;
    mproc_queue *q = *(mproc_queue **)arg;
    for (;;) {
        int item;
        size_t n;
        int rc = mproc_queue_get(q, &item, sizeof item, &n, MPROC_FOREVER);
        if (rc == MPROC_ESHUTDOWN)
            return 0;
        if (rc != 0)
            return 1;
        printf("%s: working on %d\n", mproc_current_process_name(), item);
        usleep(2000);
        printf("%s: finished %d\n", mproc_current_process_name(), item);
        fflush(stdout);
        if (mproc_queue_task_done(q) != 0)
            return 1;
    }
}

int main(void)
{
    mproc_queue_opts opts = {.joinable = true};
    mproc_queue *q;
    int rc = mproc_queue_create(&q, &opts);
    if (rc != 0) {
        fprintf(stderr, "joinable_queue: %s\n", mproc_strerror(rc));
        return 1;
    }
    mproc_process *workers[WORKERS] = {0};
    for (int i = 0; i < WORKERS; i++) {
        if (mproc_process_create(&workers[i], worker, &q, sizeof q, NULL) ||
            mproc_process_start(workers[i])) {
            fprintf(stderr, "joinable_queue: cannot start a worker\n");
            return 1;
        }
    }
    for (int item = 0; item < ITEMS; item++)
        mproc_queue_put(q, &item, sizeof item, MPROC_FOREVER);

    rc = mproc_queue_join(q, MPROC_FOREVER); /* every task_done came */
    printf("All work completed\n");

    mproc_queue_shutdown(q, false);
    int failed = rc != 0;
    for (int i = 0; i < WORKERS; i++) {
        int code = 1;
        mproc_process_join(workers[i], MPROC_FOREVER);
        mproc_process_exitcode(workers[i], &code);
        failed |= code != 0;
        mproc_process_destroy(workers[i]);
    }
    mproc_queue_destroy(q);
    return failed;
}
