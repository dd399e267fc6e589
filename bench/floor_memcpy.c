/*
 * floor_memcpy.c - the floor under 64 MiB messages: memcpy bandwidth of a
 * 64 MiB buffer into another, both already faulted in.
 */
#include "bench.h"

#include <string.h>

#define BIG ((size_t)64 << 20)

int main(void)
{
    unsigned char *a = malloc(BIG), *b = malloc(BIG);
    if (!a || !b)
        return 1;
    memset(a, 1, BIG);
    memset(b, 2, BIG);
    double v[REPS];
    for (int i = 0; i < REPS; i++) {
        double t0 = bench_now();
        memcpy(b, a, BIG);
        v[i] = (double)BIG / (bench_now() - t0) / 1e6;
        a[i] = b[BIG - 1 - (size_t)i]; /* keep the copy observable */
    }
    bench_report("queue 64 MiB message", "memcpy (floor)",
                 bench_median(v, REPS), "MB/s");
    return a[0] == 9;
}
