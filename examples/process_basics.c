/*
 * process_basics - the Python docs' first Process example, in C.
 *
 *     def info(title): print(title); print('parent process:', os.getppid())
 *                      print('process id:', os.getpid())
 *     def f(name): info('function f'); print('hello', name)
 *     p = Process(target=f, args=('bob',)); p.start(); p.join()
 *
 * Build: cc process_basics.c $(pkg-config --cflags --libs mproc)
 */
#include <mproc.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void info(const char *title)
{
    printf("%s\n", title);
    printf("process name: %s\n", mproc_current_process_name());
    printf("parent process: %d\n", (int)getppid());
    printf("process id: %d\n", (int)getpid());
}

static int f(void *arg, size_t len)
{
    info("function f");
    printf("hello %.*s\n", (int)len, (const char *)arg);
    return 0;
}

int main(void)
{
    info("main line");

    mproc_process *p;
    const char *name = "bob";
    int rc = mproc_process_create(&p, f, name, strlen(name), NULL);
    if (rc == 0)
        rc = mproc_process_start(p);
    if (rc == 0)
        rc = mproc_process_join(p, MPROC_FOREVER);
    if (rc != 0) {
        fprintf(stderr, "process_basics: %s\n", mproc_strerror(rc));
        return 1;
    }
    int code;
    mproc_process_exitcode(p, &code);
    printf("%s exited with code %d\n", mproc_process_name(p), code);
    mproc_process_destroy(p);
    return code;
}
