/*
 * floor_ring.c - the floor under queue throughput (ring.h): the bare
 * single-producer single-consumer ring of 64-byte messages, and two
 * variants of it.
 *
 * A second row runs the same ring with each side taking and releasing an
 * uncontended lock word of its own around every message (a compare-and-
 * swap, then an exchange), as any queue with several producers or
 * consumers must: the floor for a queue that locks once per message.
 *
 * A third row runs the same ring with 128-byte slots, each holding a
 * 16-byte header and the message: the floor for a queue whose messages
 * have any length, so carry a header, in records on whole cache lines.
 * A 64-byte message then spans two lines, where the bare ring's spans one.
 */
#include "ring.h"

int main(void)
{
    const struct {
        struct ring_variant v;
        const char *name;
    } rows[] = {
        {ring_bare, "shared-memory SPSC ring (floor)"},
        {{RING_MSG, RING_MSG, true},
         "same ring, a lock per message each side (floor)"},
        {{RING_MAX_SLOT, RING_HEADER + RING_MSG, false},
         "same ring, a 16-byte header with each message, on whole lines "
         "(floor)"},
    };
    enum { NV = sizeof rows / sizeof rows[0] };
    double t[NV][REPS];
    for (int i = 0; i < REPS; i++) /* alternating: noise hits all */
        for (int k = 0; k < NV; k++)
            t[k][i] = ring_once(rows[k].v);
    for (int k = 0; k < NV; k++)
        bench_report("queue 1->1 64 B", rows[k].name, bench_median(t[k], REPS),
                     "msg/s");
    return 0;
}
