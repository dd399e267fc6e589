/*
 * talk_to_python - a C program and a Python program in one conversation.
 *
 * The C side listens (abstract socket, name picked by the kernel) with a
 * key, starts `python3 talk_to_python.py ADDRESS` and accepts it. CPython's
 * own multiprocessing.connection.Client connects: the two authenticate
 * each other by CPython's HMAC handshake, then exchange byte messages
 * framed as CPython frames them. Python sums the numbers C sends.
 *
 * Usage: talk_to_python [PATH/TO/talk_to_python.py]
 * Without python3, or without the script, it says why and exits 0.
 *
 * Build: cc talk_to_python.c $(pkg-config --cflags --libs mproc)
 */
#include <mproc.h>

#include <errno.h>
#include <libgen.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char key[] = "shared secret";

static int say(mproc_conn *c, const char *text)
{
    return mproc_conn_send_bytes(c, text, strlen(text));
}

static int hear(mproc_conn *c, char *buf, size_t cap)
{
    size_t len;
    int rc = mproc_conn_recv_bytes(c, buf, cap - 1, &len);
    buf[rc == 0 ? len : 0] = '\0';
    return rc;
}

int main(int argc, char **argv)
{
    char script[4096];
    if (argc > 1) {
        snprintf(script, sizeof script, "%s", argv[1]);
    } else { /* next to this source file */
        char here[4096];
        snprintf(here, sizeof here, "%s", __FILE__);
        snprintf(script, sizeof script, "%s/talk_to_python.py", dirname(here));
    }
    if (access(script, R_OK) != 0) {
        printf("skip: %s not found\n", script);
        return 0;
    }

    mproc_listener *l;
    int rc = mproc_listener_create(&l, "abstract://", key, strlen(key));
    if (rc < 0) {
        fprintf(stderr, "listen: %s\n", mproc_strerror(rc));
        return 1;
    }
    const char *address = mproc_listener_address(l);
    setenv("MPROC_DEMO_KEY", key, 1);
    pid_t pid;
    char python[] = "python3", addr[256];
    snprintf(addr, sizeof addr, "%s", address);
    char *args[] = {python, script, addr, NULL};
    rc = posix_spawnp(&pid, "python3", NULL, NULL, args, environ);
    if (rc == ENOENT) {
        printf("skip: python3 not found\n");
        mproc_listener_close(l);
        return 0;
    }
    if (rc != 0) {
        fprintf(stderr, "spawn python3: %s\n", strerror(rc));
        return 1;
    }

    mproc_conn *c;
    rc = mproc_listener_accept(l, &c, 60.0);
    if (rc < 0) {
        fprintf(stderr, "accept: %s\n", mproc_strerror(rc));
        return 1;
    }
    char buf[256];
    say(c, "hello from C");
    if (hear(c, buf, sizeof buf) == 0)
        printf("C: got \"%s\"\n", buf);
    fflush(stdout);
    static const char *const sums[] = {"1 2 3 4", "40 2", "1000 -1"};
    for (size_t i = 0; i < sizeof sums / sizeof sums[0]; i++) {
        say(c, sums[i]);
        if (hear(c, buf, sizeof buf) == 0)
            printf("C: python says %s = %s\n", sums[i], buf);
    }
    say(c, ""); /* goodbye */
    mproc_conn_close(c);
    mproc_listener_close(l);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
