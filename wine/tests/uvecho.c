/* uvecho.exe: a TCP echo server and client on libuv (Debian's libuv1 source, cross-built
 * unchanged: wine/thirdparty/build), driven by wine/thirdparty_test.py. libuv's Windows
 * TCP is an IOCP program none of us wrote: AcceptEx posted in advance onto sockets it made,
 * SO_UPDATE_ACCEPT_CONTEXT, ConnectEx after binding to 0.0.0.0:0, zero-byte overlapped
 * WSARecv then non-blocking reads, overlapped WSASend, SetFileCompletionNotificationModes,
 * one completion port.
 *
 *   uvecho.exe server PORT     READY <own address>; echoes every connection's bytes back;
 *                              after each connection ends: SERVED <peer address> <bytes>;
 *                              ends after the first (bounded: 30 s)
 *   uvecho.exe client IP PORT  sends 256 KB, reads them back, checks them, says
 *                              RESULT ok|fail bytes=<n> peer=<address> (bounded: 30 s) */
#include <uv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOTAL (256 * 1024)
static uv_loop_t *loop;
static uv_tcp_t server, client;
static uv_timer_t give_up;
static char peer_text[64] = "?";
static long echoed, received;
static unsigned char *expected, *got;
static int failed = 1;

static void say(const char *format, const char *a, long n) {
    printf(format, a, n);
    printf("\n");
    fflush(stdout);
}

static void allocate(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
    (void)handle;
    buf->base = malloc(suggested);
    buf->len = (ULONG)suggested;
}

static void peer_of(uv_tcp_t *tcp) {
    struct sockaddr_storage name;
    int length = sizeof name;
    if (uv_tcp_getpeername(tcp, (struct sockaddr *)&name, &length) == 0)
        uv_ip4_name((struct sockaddr_in *)&name, peer_text, sizeof peer_text);
}

static void free_write(uv_write_t *request, int status) {
    (void)status;
    free(request->data);
    free(request);
}

static void closed_server_side(uv_handle_t *handle) {
    free(handle);
    say("SERVED %s %ld", peer_text, echoed);
    uv_close((uv_handle_t *)&server, NULL);
    uv_close((uv_handle_t *)&give_up, NULL);
}

static void echo(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf) {
    if (n > 0) {
        uv_write_t *request = malloc(sizeof *request);
        uv_buf_t back = uv_buf_init(buf->base, (unsigned)n);
        request->data = buf->base;
        echoed += n;
        uv_write(request, stream, &back, 1, free_write);
        return;
    }
    free(buf->base);
    if (n < 0) uv_close((uv_handle_t *)stream, closed_server_side);
}

static void connection(uv_stream_t *listener, int status) {
    if (status < 0) return;
    uv_tcp_t *c = malloc(sizeof *c);
    uv_tcp_init(loop, c);
    if (uv_accept(listener, (uv_stream_t *)c) == 0) {
        peer_of(c);
        uv_read_start((uv_stream_t *)c, allocate, echo);
    }
}

static void read_back(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf) {
    if (n > 0 && received + n <= TOTAL) memcpy(got + received, buf->base, (size_t)n);
    if (n > 0) received += n;
    free(buf->base);
    if (received >= TOTAL || n < 0) {
        failed = received != TOTAL || memcmp(got, expected, TOTAL) != 0;
        uv_close((uv_handle_t *)stream, NULL);
        uv_close((uv_handle_t *)&give_up, NULL);
    }
}

static void sent(uv_write_t *request, int status) {
    if (status < 0) say("ERROR write %s %ld", uv_strerror(status), 0);
    free(request);
}

static void connected(uv_connect_t *request, int status) {
    if (status < 0) {
        say("RESULT fail connect=%s %ld", uv_strerror(status), 0);
        uv_close((uv_handle_t *)&client, NULL);
        uv_close((uv_handle_t *)&give_up, NULL);
        return;
    }
    peer_of(&client);
    uv_write_t *write = malloc(sizeof *write);
    uv_buf_t all = uv_buf_init((char *)expected, TOTAL);
    uv_write(write, request->handle, &all, 1, sent);
    uv_read_start(request->handle, allocate, read_back);
}

static void timed_out(uv_timer_t *timer) {
    (void)timer;
    say("TIMEOUT after 30 s%s", "", 0);
    uv_stop(loop);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    loop = uv_default_loop();
    uv_timer_init(loop, &give_up);
    uv_timer_start(&give_up, timed_out, 30000, 0);
    struct sockaddr_in at;
    if (argc == 3 && strcmp(argv[1], "server") == 0) {
        uv_ip4_addr("0.0.0.0", atoi(argv[2]), &at);
        uv_tcp_init(loop, &server);
        int r = uv_tcp_bind(&server, (const struct sockaddr *)&at, 0);
        if (!r) r = uv_listen((uv_stream_t *)&server, 16, connection);
        if (r) { say("RESULT bind=%s %ld", uv_err_name(r), 0); return 3; }
        char name[256] = "?";
        uv_interface_address_t *interfaces;
        int count;
        if (uv_interface_addresses(&interfaces, &count) == 0) {
            for (int i = 0; i < count; i++)
                if (!interfaces[i].is_internal && interfaces[i].address.address4.sin_family == AF_INET)
                    uv_ip4_name(&interfaces[i].address.address4, name, sizeof name);
            uv_free_interface_addresses(interfaces, count);
        }
        say("READY %s %ld", name, 0);
        uv_run(loop, UV_RUN_DEFAULT);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "client") == 0) {
        expected = malloc(TOTAL);
        got = malloc(TOTAL);
        for (int i = 0; i < TOTAL; i++) expected[i] = (unsigned char)(i * 7 + (i >> 9));
        uv_ip4_addr(argv[2], atoi(argv[3]), &at);
        uv_tcp_init(loop, &client);
        uv_connect_t request;
        uv_tcp_connect(&request, &client, (const struct sockaddr *)&at, connected);
        uv_run(loop, UV_RUN_DEFAULT);
        printf("RESULT %s bytes=%ld peer=%s\n", failed ? "fail" : "ok", received, peer_text);
        return failed;
    }
    fprintf(stderr, "usage: uvecho server PORT | uvecho client IP PORT\n");
    return 2;
}
