/*
 * pipe - the Python docs' Pipe example, in C.
 *
 *     def f(conn):
 *         conn.send([42, None, 'hello'])
 *         conn.close()
 *
 *     parent_conn, child_conn = Pipe()
 *     p = Process(target=f, args=(child_conn,))
 *     p.start()
 *     print(parent_conn.recv())   # prints "[42, None, 'hello']"
 *     p.join()
 *
 * C has no pickle: the message is bytes, here the text Python would print.
 * The child inherits both ends through fork, so the target gets the
 * connection as its argument bytes (the pointer, valid in the child).
 * Once the child has started, the parent closes its own copy of the
 * child's end: a child that died before sending is then end of file
 * (MPROC_EOF) for the parent's receive, which would otherwise wait for
 * ever on an end the parent itself keeps open.
 *
 * Build: cc pipe.c $(pkg-config --cflags --libs mproc)
 */
#include <mproc.h>

#include <stdio.h>
#include <string.h>

static int f(void *arg, size_t len)
{
    mproc_conn *conn;
    (void)len;
    memcpy(&conn, arg, sizeof conn);
    static const char msg[] = "[42, None, 'hello']";
    int rc = mproc_conn_send_bytes(conn, msg, strlen(msg));
    mproc_conn_close(conn);
    return rc == 0 ? 0 : 1;
}

int main(void)
{
    mproc_conn *parent_conn, *child_conn;
    mproc_process *p;
    int rc = mproc_pipe(&parent_conn, &child_conn, true);
    if (rc == 0)
        rc = mproc_process_create(&p, f, &child_conn, sizeof child_conn, NULL);
    if (rc == 0)
        rc = mproc_process_start(p);
    if (rc < 0) {
        fprintf(stderr, "pipe: %s\n", mproc_strerror(rc));
        return 1;
    }
    mproc_conn_close(child_conn); /* the child has its copy */
    char buf[64];
    size_t len;
    rc = mproc_conn_recv_bytes(parent_conn, buf, sizeof buf, &len);
    if (rc < 0) {
        fprintf(stderr, "recv: %s\n", mproc_strerror(rc));
        return 1;
    }
    printf("%.*s\n", (int)len, buf); /* prints "[42, None, 'hello']" */
    mproc_process_join(p, MPROC_FOREVER);
    int code = -1;
    mproc_process_exitcode(p, &code);
    mproc_process_destroy(p);
    mproc_conn_close(parent_conn);
    return code == 0 ? 0 : 1;
}
