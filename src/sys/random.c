/*
 * random.c - random bytes from the kernel, for connection challenges and
 * SharedMemory's random names.
 */
#include "sys.h"

#include <errno.h>
#include <sys/random.h>

int mproc__random(void *buf, size_t n)
{
    size_t have = 0;
    while (have < n) {
        ssize_t r = getrandom((char *)buf + have, n - have, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        have += (size_t)r;
    }
    return 0;
}
