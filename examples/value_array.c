/*
 * value_array.c - the Python docs' shared-memory example (Value and Array),
 * in C.
 *
 * Python's version ("Sharing state between processes"):
 *
 *     from multiprocessing import Process, Value, Array
 *
 *     def f(n, a):
 *         n.value = 3.1415927
 *         for i in range(len(a)):
 *             a[i] = -a[i]
 *
 *     if __name__ == '__main__':
 *         num = Value('d', 0.0)
 *         arr = Array('i', range(10))
 *         p = Process(target=f, args=(num, arr))
 *         p.start()
 *         p.join()
 *         print(num.value)
 *         print(arr[:])
 *
 * prints 3.1415927 and [0, -1, -2, -3, -4, -5, -6, -7, -8, -9]. As in
 * Python, num and arr are made before the child starts, so the child uses
 * them as they are; the child takes each one's lock while it writes.
 */
#include <mproc.h>

#include <stdio.h>

static mproc_array *num, *arr;

static int f(void *args, size_t len)
{
    (void)args;
    (void)len;
    if (mproc_array_lock(num, MPROC_FOREVER) < 0)
        return 1;
    *(double *)mproc_array_data(num) = 3.1415927;
    mproc_array_unlock(num);

    if (mproc_array_lock(arr, MPROC_FOREVER) < 0)
        return 1;
    int *a = mproc_array_data(arr);
    for (size_t i = 0; i < mproc_array_len(arr); i++)
        a[i] = -a[i];
    mproc_array_unlock(arr);
    return 0;
}

int main(void)
{
    /* num = Value('d', 0.0); arr = Array('i', range(10)) */
    int rc = mproc_value_create(&num, sizeof(double), MPROC_LOCK_RLOCK);
    if (rc == 0)
        rc = mproc_array_create(&arr, sizeof(int), 10, MPROC_LOCK_RLOCK);
    if (rc < 0) {
        fprintf(stderr, "create: %s\n", mproc_strerror(rc));
        return 1;
    }
    int *a = mproc_array_data(arr);
    for (int i = 0; i < 10; i++)
        a[i] = i;

    mproc_process *p;
    rc = mproc_process_create(&p, f, NULL, 0, NULL);
    if (rc == 0)
        rc = mproc_process_start(p);
    if (rc == 0)
        rc = mproc_process_join(p, MPROC_FOREVER);
    int code = -1;
    if (rc == 0)
        rc = mproc_process_exitcode(p, &code);
    mproc_process_destroy(p);
    if (rc < 0 || code != 0) {
        fprintf(stderr, "child: %s, exit code %d\n", mproc_strerror(rc), code);
        return 1;
    }

    printf("%.7f\n", *(double *)mproc_array_data(num));
    printf("[");
    for (size_t i = 0; i < mproc_array_len(arr); i++)
        printf("%s%d", i ? ", " : "", a[i]);
    printf("]\n");

    mproc_array_destroy(arr);
    mproc_array_destroy(num);
    return 0;
}
