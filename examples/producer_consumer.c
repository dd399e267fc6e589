/*
 * producer_consumer - the seed's Processor: 3 producers and 2 consumers on
 * one Queue, in C.
 *
 *     def producer(q):                      def consumer(q):
 *         for i in range(5):                    while True:
 *             q.put((os.getpid(), i))               pid, i = q.get()
 *             print('Producer: ...')                print('Consumer: ...')
 *             time.sleep(random.random() / 2)       time.sleep(...)
 *
 * Unlike the Python original, whose consumers loop forever, it ends: once
 * the producers are joined the queue is shut down, the consumers drain it
 * and return, and every process is joined. Sleeps are up to 0.2 s so that
 * it finishes in about a second.
 *
 * Build: cc producer_consumer.c $(pkg-config --cflags --libs mproc)
 */
#include <mproc.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define PRODUCERS 3
#define CONSUMERS 2
#define ITEMS 5

struct item {
    int pid; /* the producer's */
    int i;
};

/* Sleeps a random time of up to 0.2 s. */
static void nap(void)
{
    struct timespec ts = {0, (long)(rand() % 200) * 1000000L};
    nanosleep(&ts, NULL);
}

static int producer(void *arg, size_t len)
{
    (void)len;
    mproc_queue *q = *(mproc_queue **)arg;
    srand((unsigned)getpid());
    for (int i = 0; i < ITEMS; i++) {
        struct item it = {(int)getpid(), i};
        int rc = mproc_queue_put(q, &it, sizeof it, MPROC_FOREVER);
        if (rc != 0) {
            fprintf(stderr, "producer: %s\n", mproc_strerror(rc));
            return 1;
        }
        printf("Producer: %d produce %d\n", it.pid, i);
        fflush(stdout);
        nap();
    }
    return 0;
}

static int consumer(void *arg, size_t len)
{
    (void)len;
    mproc_queue *q = *(mproc_queue **)arg;
    srand((unsigned)getpid());
    for (;;) {
        struct item it;
        size_t n;
        int rc = mproc_queue_get(q, &it, sizeof it, &n, MPROC_FOREVER);
        if (rc == MPROC_ESHUTDOWN)
            return 0; /* shut down and drained */
        if (rc != 0) {
            fprintf(stderr, "consumer: %s\n", mproc_strerror(rc));
            return 1;
        }
        printf("Consumer: %d consume %d - %d\n", (int)getpid(), it.pid, it.i);
        fflush(stdout);
        nap();
    }
}

/* Creates and starts a process running target(&q); NULL on failure. */
static mproc_process *start(mproc_target target, mproc_queue **q)
{
    mproc_process *p;
    if (mproc_process_create(&p, target, q, sizeof *q, NULL) != 0)
        return NULL;
    if (mproc_process_start(p) != 0) {
        mproc_process_destroy(p);
        return NULL;
    }
    return p;
}

/* Joins p and returns its exit code (1 if it could not be joined). */
static int finish(mproc_process *p)
{
    int code = 1;
    if (p && mproc_process_join(p, MPROC_FOREVER) == 0)
        mproc_process_exitcode(p, &code);
    mproc_process_destroy(p);
    return code;
}

int main(void)
{
    mproc_queue *q;
    int rc = mproc_queue_create(&q, NULL);
    if (rc != 0) {
        fprintf(stderr, "producer_consumer: %s\n", mproc_strerror(rc));
        return 1;
    }
    mproc_process *producers[PRODUCERS], *consumers[CONSUMERS];
    for (int i = 0; i < PRODUCERS; i++)
        producers[i] = start(producer, &q);
    for (int i = 0; i < CONSUMERS; i++)
        consumers[i] = start(consumer, &q);

    int failed = 0;
    for (int i = 0; i < PRODUCERS; i++)
        failed |= finish(producers[i]);
    mproc_queue_shutdown(q, false); /* the consumers drain it and return */
    for (int i = 0; i < CONSUMERS; i++)
        failed |= finish(consumers[i]);
    mproc_queue_destroy(q);
    printf("all %d producers and %d consumers joined\n", PRODUCERS, CONSUMERS);
    return failed ? 1 : 0;
}
