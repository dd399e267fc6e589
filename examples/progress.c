/*
 * progress.c - a progress bar over a long map_async, the C form of what
 * Python users hand-roll with a shared counter (or read from the private
 * MapResult._number_left):
 *
 *     r = pool.map_async(work, range(N), chunksize=250)
 *     while not r.ready():
 *         draw_bar(N - r._number_left * 250, N)
 *         time.sleep(0.05)
 *
 * mproc_async_progress gives (done, total) for a result, counted a chunk
 * at a time as the chunks come in; it collects finished chunks itself, so
 * the loop needs no other pool call. On a terminal the bar is redrawn in
 * place; when stdout is not a terminal (a pipe, a log, CI) only the final
 * line is printed.
 */
#include <mproc.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define N 40000
#define WIDTH 40

/* Some work per item: ten thousand rounds of a xorshift. */
static int work(const void *in, void *out)
{
    uint64_t x = *(const uint64_t *)in + 1;
    for (int k = 0; k < 10000; k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    *(uint64_t *)out = x;
    return 0;
}

static void draw(size_t done, size_t total)
{
    int fill = total ? (int)(done * WIDTH / total) : WIDTH;
    printf("\r[%.*s%*s] %3d%% %zu/%zu", fill,
           "########################################", WIDTH - fill, "",
           total ? (int)(done * 100 / total) : 100, done, total);
    fflush(stdout);
}

int main(void)
{
    mproc_pool *p;
    int rc = mproc_pool_create(&p, NULL);
    if (rc < 0) {
        fprintf(stderr, "pool: %s\n", mproc_strerror(rc));
        return 1;
    }
    uint64_t *in = malloc(N * sizeof *in), *out = malloc(N * sizeof *out);
    if (!in || !out)
        return 1;
    for (size_t i = 0; i < N; i++)
        in[i] = i;

    /* Progress advances a chunk at a time: small chunks, a smooth bar. */
    mproc_async *r;
    rc = mproc_pool_map_async(p, work, in, sizeof *in, out, sizeof *out, N, 250,
                              &r);
    if (rc < 0) {
        fprintf(stderr, "map_async: %s\n", mproc_strerror(rc));
        return 1;
    }
    bool tty = isatty(STDOUT_FILENO);
    size_t done = 0, total = N;
    while (!mproc_async_ready(r)) {
        mproc_async_progress(r, &done, &total);
        if (tty)
            draw(done, total);
        nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    }
    rc = mproc_async_get(r, NULL, NULL, 0);
    mproc_async_progress(r, &done, &total);
    if (tty) {
        draw(done, total);
        putchar('\n');
    }
    if (rc < 0) {
        fprintf(stderr, "map: %s\n", mproc_strerror(rc));
        return 1;
    }
    printf("done: %zu of %zu items\n", done, total);

    mproc_async_destroy(r);
    mproc_pool_destroy(p);
    free(in);
    free(out);
    return done == total ? 0 : 1;
}
