// clang-format off
/*
 * listener_client - the Python docs' Listener and Client example, in C.
 *
 *     address = ('localhost', 6000)
 *     with Listener(address, authkey=b'secret password') as listener:
 *         with listener.accept() as conn:
 *             conn.send_bytes(b'hello')
 *             conn.send_bytes(array('i', [42, 1729]))
 *
 *     with Client(address, authkey=b'secret password') as conn:
 *         print(conn.recv_bytes())            # => 'hello'
 *         arr = array('i', [0, 0, 0, 0, 0])
 *         print(conn.recv_bytes_into(arr))    # => 8
 *         print(arr)                          # => array('i', [42, 1729, 0, 0, 0])
 *
 * Here the listener takes port 0 (the kernel picks a free one) and the
 * client runs in a child process. Both sides authenticate each other with
 * the key, exactly as CPython does; a CPython Client could connect too.
 *
 * Build: cc listener_client.c $(pkg-config --cflags --libs mproc)
 */
// clang-format on
#include <mproc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char authkey[] = "secret password";

static int client(void *arg, size_t len)
{
    const char *address = arg;
    (void)len;
    mproc_conn *conn;
    int rc = mproc_client(&conn, address, authkey, strlen(authkey));
    if (rc < 0) {
        fprintf(stderr, "client: %s\n", mproc_strerror(rc));
        return 1;
    }
    void *hello;
    size_t n;
    if (mproc_conn_recv_bytes_alloc(conn, &hello, &n) < 0)
        return 1;
    printf("%.*s\n", (int)n, (char *)hello); /* => hello */
    free(hello);
    int arr[5] = {0, 0, 0, 0, 0};
    if (mproc_conn_recv_bytes(conn, arr, sizeof arr, &n) < 0)
        return 1;
    printf("%zu\n", n); /* => 8 */
    printf("[%d, %d, %d, %d, %d]\n", arr[0], arr[1], arr[2], arr[3], arr[4]);
    mproc_conn_close(conn);
    return 0;
}

int main(void)
{
    mproc_listener *listener;
    int rc = mproc_listener_create(&listener, "tcp://127.0.0.1:0", authkey,
                                   strlen(authkey));
    if (rc < 0) {
        fprintf(stderr, "listen: %s\n", mproc_strerror(rc));
        return 1;
    }
    const char *address = mproc_listener_address(listener);
    printf("listening on %s\n", address);
    fflush(stdout);
    mproc_process *p;
    rc = mproc_process_create(&p, client, address, strlen(address) + 1, NULL);
    if (rc == 0)
        rc = mproc_process_start(p);
    mproc_conn *conn;
    if (rc == 0)
        rc = mproc_listener_accept(listener, &conn, 30.0);
    if (rc < 0) {
        fprintf(stderr, "accept: %s\n", mproc_strerror(rc));
        return 1;
    }
    printf("connection accepted\n");
    fflush(stdout);
    static const int numbers[2] = {42, 1729};
    mproc_conn_send_bytes(conn, "hello", 5);
    mproc_conn_send_bytes(conn, numbers, sizeof numbers);
    mproc_process_join(p, MPROC_FOREVER);
    int code = -1;
    mproc_process_exitcode(p, &code);
    mproc_process_destroy(p);
    mproc_conn_close(conn);
    mproc_listener_close(listener);
    return code == 0 ? 0 : 1;
}
