/* The Win32 backend's backing TCP streams: real TCP sockets in the game's blocking mode, so
 * every blocking call blocks in the OS as the game's own would; AcceptEx onto the game's
 * socket and overlapped sends through the system's own. */
#if defined(_WIN32)
#include <winsock2.h>
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "platform.h"
#include "win32_originals.h"
#include "win32_unix.h"
#include "hook_table.h"
#include "swift_exports.h"
#include <mswsock.h>
#include "win32_parts.h"

/* ---- virtual TCP's backing streams: real TCP sockets in the game's blocking mode, so
 * every blocking call below blocks in the OS as the game's own would ---- */

static int32_t tcp_open(VL_SOCKET *out) {
    SOCKET s = vl_original.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (s == INVALID_SOCKET) return vl_win32_last_error();
    *out = (VL_SOCKET)s;
    return 0;
}

static int32_t stream_bind(VL_SOCKET s, uint16_t *real_port) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int length = sizeof a;
    if (vl_original.bind((SOCKET)s, (struct sockaddr *)&a, sizeof a) != 0
        || vl_original.getsockname((SOCKET)s, (struct sockaddr *)&a, &length) != 0) return vl_win32_last_error();
    *real_port = ntohs(a.sin_port);
    return 0;
}

static int32_t stream_listen(VL_SOCKET s) { return vl_original.listen((SOCKET)s, SOMAXCONN) == 0 ? 0 : vl_win32_last_error(); }
static int32_t stream_shutdown(VL_SOCKET s, int32_t how) { return vl_original.shutdown((SOCKET)s, how) == 0 ? 0 : vl_win32_last_error(); }
static int32_t stream_listen_silent(VL_SOCKET s) { return vl_original.listen((SOCKET)s, 0) == 0 ? 0 : vl_win32_last_error(); }

static int32_t stream_accept(VL_SOCKET s, VL_SOCKET *accepted, uint16_t *real_peer_port) {
    struct sockaddr_in from;
    int length = sizeof from;
    SOCKET a = vl_original.accept((SOCKET)s, (struct sockaddr *)&from, &length);
    if (a == INVALID_SOCKET) return vl_win32_last_error();
    *accepted = (VL_SOCKET)a;
    *real_peer_port = ntohs(from.sin_port);
    return 0;
}

/* The system's extension function `id` for socket s's provider (the original WSAIoctl),
 * or NULL. Also the hooks' (ConnectEx for a socket that is not virtual). */
void *vl_system_extension(SOCKET s, const GUID *id) {
    void *pointer = NULL;
    DWORD returned = 0;
    if (vl_original.WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, (void *)id, sizeof *id, &pointer, sizeof pointer,
                             &returned, NULL, NULL) == 0)
        return pointer;
    /* `s` is no socket (a program handing INVALID_SOCKET to the pointer it kept): the
     * system's function is asked of a TCP socket of our own, so it gives its own answer. */
    SOCKET probe = vl_original.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (probe == INVALID_SOCKET) return NULL;
    int error = vl_original.WSAGetLastError();
    if (vl_original.WSAIoctl(probe, SIO_GET_EXTENSION_FUNCTION_POINTER, (void *)id, sizeof *id, &pointer, sizeof pointer,
                             &returned, NULL, NULL) != 0)
        pointer = NULL;
    vl_original.closesocket(probe);
    vl_original.WSASetLastError(error);
    return pointer;
}

/* The system's AcceptEx (for the listener's provider: TCP/IP, one function in practice). */
LPFN_ACCEPTEX vl_win32_real_accept_ex(SOCKET listener) {
    static const GUID id = WSAID_ACCEPTEX;
    static LPFN_ACCEPTEX found;
    if (!found) found = (LPFN_ACCEPTEX)vl_system_extension(listener, &id);
    return found;
}

/* Winsock accepts onto a given socket only through AcceptEx: the real one, into the game's
 * socket, waited for here (the listener is readable, so the connection is there). Its
 * event's low bit keeps the end off any completion port the game gave these sockets; the
 * accept context gives the socket its names. */
static int32_t stream_accept_into(VL_SOCKET s, VL_SOCKET into, uint16_t *real_peer_port) {
    LPFN_ACCEPTEX accept_ex = vl_win32_real_accept_ex((SOCKET)s);
    if (!accept_ex) return VL_WSAEOPNOTSUPP;
    char names[2 * (sizeof(struct sockaddr_in) + 16)];
    DWORD got = 0;
    OVERLAPPED o;
    memset(&o, 0, sizeof o);
    HANDLE event = CreateEventA(NULL, TRUE, FALSE, NULL);
    if (!event) return VL_WSAENOBUFS;
    o.hEvent = (HANDLE)((ULONG_PTR)event | 1);
    int32_t error = 0;
    if (!accept_ex((SOCKET)s, (SOCKET)into, names, 0, sizeof names / 2, sizeof names / 2, &got, &o)) {
        error = vl_win32_last_error();
        if (error == WSA_IO_PENDING) {
            if (WaitForSingleObject(event, 2000) != WAIT_OBJECT_0) {
                CancelIoEx((HANDLE)s, &o);
                WaitForSingleObject(event, INFINITE);
            }
            DWORD flags = 0;
            error = vl_original.WSAGetOverlappedResult((SOCKET)s, &o, &got, FALSE, &flags) ? 0 : vl_win32_last_error();
            if (error == WSA_OPERATION_ABORTED) error = VL_WSAEWOULDBLOCK;
        }
    }
    CloseHandle(event);
    if (error) return error;
    SOCKET listener = (SOCKET)s;
    vl_original.setsockopt((SOCKET)into, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, (const char *)&listener, sizeof listener);
    struct sockaddr_in peer;
    int length = sizeof peer;
    if (vl_original.getpeername((SOCKET)into, (struct sockaddr *)&peer, &length) != 0) return vl_win32_last_error();
    *real_peer_port = ntohs(peer.sin_port);
    return 0;
}

/* Winsock's accept gives the new socket the listener's selection (Wine: server/sock.c
 * accept_socket copies mask, event and window); AcceptEx passes none of it on. So a listener
 * with selected events accepts into a fresh socket of its own kind (overlapped, as socket()
 * makes them), once a connection waits. */
static int32_t stream_accept_unselected(VL_SOCKET s, VL_SOCKET *accepted, uint16_t *real_peer_port) {
    WSAPOLLFD waiting = { (SOCKET)s, POLLRDNORM, 0 };
    int n = vl_original.WSAPoll(&waiting, 1, 0);
    if (n < 0) return vl_win32_last_error();
    if (n == 0 || !(waiting.revents & POLLRDNORM)) return VL_WSAEWOULDBLOCK;
    SOCKET fresh = vl_original.WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
    if (fresh == INVALID_SOCKET) return vl_win32_last_error();
    int32_t error = stream_accept_into(s, (VL_SOCKET)fresh, real_peer_port);
    if (error) {
        vl_original.closesocket(fresh);
        return error;
    }
    *accepted = (VL_SOCKET)fresh;
    return 0;
}

static int32_t stream_connect(VL_SOCKET s, uint32_t address, uint16_t port) {
    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = address;
    return vl_original.connect((SOCKET)s, (struct sockaddr *)&to, sizeof to) == 0 ? 0 : vl_win32_last_error();
}

static int32_t stream_is_connected(VL_SOCKET s) {
    struct sockaddr_in peer;
    int length = sizeof peer;
    return vl_original.getpeername((SOCKET)s, (struct sockaddr *)&peer, &length) == 0;
}

static int32_t stream_send(VL_SOCKET s, const VL_WSABUF *buffers, uint32_t count, int32_t flags, uint32_t *done) {
    DWORD n = 0;
    if (vl_original.WSASend((SOCKET)s, (LPWSABUF)buffers, count, &n, (DWORD)flags, NULL, NULL) != 0) return vl_win32_last_error();
    *done = n;
    return 0;
}

/* A receive answers what the OS answers, except one the layer waited for. Wine (like the
 * Windows it follows here) fails a receive that waits while the connection is reset with
 * WSAECONNRESET; its server takes the kernel's error as it sees the reset (SO_ERROR, read
 * once) and keeps only a "reset" mark (server/sock.c: sock->reset), so a receive made later
 * reads 0 bytes, as plain Wine's own does (sock.c's test_tcp_reset: todo_wine). The layer
 * waits for readiness and then receives, so for a receive it waited for (`waited`), an end
 * with room in the buffers asks SO_ERROR, then WSAPoll, whose POLLERR beside POLLHUP is that
 * mark (a graceful end is POLLHUP alone): the reset the receive waited into is its answer. */
static int32_t stream_receive(VL_SOCKET s, const VL_WSABUF *buffers, uint32_t count, int32_t flags, int32_t waited,
                              uint32_t *done) {
    DWORD n = 0, f = (DWORD)flags;
    if (vl_original.WSARecv((SOCKET)s, (LPWSABUF)buffers, count, &n, &f, NULL, NULL) != 0) return vl_win32_last_error();
    if (waited && n == 0 && count > 0 && buffers[0].len > 0) {
        int error = 0, length = sizeof error;
        if (vl_original.getsockopt((SOCKET)s, SOL_SOCKET, SO_ERROR, (char *)&error, &length) == 0 && error != 0) return error;
        WSAPOLLFD state = { (SOCKET)s, POLLRDNORM, 0 };
        if (vl_original.WSAPoll(&state, 1, 0) == 1 && (state.revents & POLLERR)) return WSAECONNRESET;
    }
    *done = n;
    return 0;
}

/* Overlapped stream sends: the system's own overlapped WSASend on the backing socket (it
 * keeps their order and waits for room), its end found by a thread-pool wait on a private
 * event whose low bit keeps it off any completion port. Each waiting send is listed, so a
 * close can abort its socket's sends and wait for their ends: the game's OVERLAPPED is
 * written before its closesocket returns, never later (it may be on a stack that is gone
 * by then: a late write there once took a status for a return address). */
static vl_send_handler send_handler;
static void set_send_handler(vl_send_handler handler) { send_handler = handler; }

typedef struct overlapped_send {
    OVERLAPPED o;
    HANDLE event, wait;
    void *context;
    SOCKET socket;
    HANDLE gone;  /* set once the end reached the layer; made by a close that waits for it */
    struct overlapped_send *next;
} overlapped_send;

static CRITICAL_SECTION sends_lock;
static overlapped_send *sends;

static void unlist_send(overlapped_send *w) {
    EnterCriticalSection(&sends_lock);
    for (overlapped_send **link = &sends; *link; link = &(*link)->next)
        if (*link == w) { *link = w->next; break; }
    if (w->gone) SetEvent(w->gone);
    LeaveCriticalSection(&sends_lock);
}

/* A finished send's error, from its OVERLAPPED's NTSTATUS (the socket may be closed by now). */
static int32_t send_error(const OVERLAPPED *o) {
    DWORD status = (DWORD)o->Internal;
    return status == 0 ? 0 : status == 0xC0000120u /* STATUS_CANCELLED */ ? VL_WSA_OPERATION_ABORTED : VL_WSAECONNRESET;
}

static VOID CALLBACK send_ended(PVOID argument, BOOLEAN timed_out) {
    (void)timed_out;
    overlapped_send *w = argument;
    UnregisterWaitEx(w->wait, NULL);  /* not waiting for this callback: it is this one */
    CloseHandle(w->event);
    if (send_handler) send_handler(w->context, send_error(&w->o), (uint32_t)w->o.InternalHigh);
    unlist_send(w);
    free(w);
}

static int32_t stream_send_overlapped(VL_SOCKET s, const VL_WSABUF *buffers, uint32_t count, int32_t flags, uint32_t *done,
                                      void *context) {
    overlapped_send *w = calloc(1, sizeof *w);
    if (!w || !(w->event = CreateEventA(NULL, TRUE, FALSE, NULL))) { free(w); return VL_WSAENOBUFS; }
    w->o.hEvent = (HANDLE)((ULONG_PTR)w->event | 1);
    w->context = context;
    w->socket = (SOCKET)s;
    EnterCriticalSection(&sends_lock);  /* listed before its end can come */
    w->next = sends;
    sends = w;
    LeaveCriticalSection(&sends_lock);
    DWORD n = 0;
    int32_t error = 0;
    if (vl_original.WSASend((SOCKET)s, (LPWSABUF)buffers, count, &n, (DWORD)flags, &w->o, NULL) != 0) {
        error = vl_win32_last_error();
        if (error == WSA_IO_PENDING && RegisterWaitForSingleObject(&w->wait, w->event, send_ended, w, INFINITE, WT_EXECUTEONLYONCE))
            return VL_WSA_IO_PENDING;
        if (error == WSA_IO_PENDING) {  /* no wait to end it: wait here, as a blocking send would */
            WaitForSingleObject(w->event, INFINITE);
            error = send_error(&w->o);
            n = (DWORD)w->o.InternalHigh;
        }
    }
    unlist_send(w);
    CloseHandle(w->event);
    free(w);
    if (error) return error;
    *done = n;
    return 0;
}

/* Closes a backing socket, its waiting sends first: they are cancelled (Wine 8 would leave
 * them pending past the close, and write their OVERLAPPEDs whenever the peer goes), and
 * the close waits for their ends (WSA_OPERATION_ABORTED, as Microsoft documents for
 * closesocket). The wait is the kind in which Wine runs the cancellation's completion in
 * this thread, and it is bounded: an end that never comes is logged, not waited for. */
void vl_win32_close_after_sends(SOCKET s) {
    enum { MOST = MAXIMUM_WAIT_OBJECTS };
    HANDLE gone[MOST];
    DWORD n = 0;
    EnterCriticalSection(&sends_lock);
    for (overlapped_send *w = sends; w && n < MOST; w = w->next)
        if (w->socket == s && !w->gone && (w->gone = CreateEventA(NULL, TRUE, FALSE, NULL))) gone[n++] = w->gone;
    LeaveCriticalSection(&sends_lock);
    if (n > 0) {
        CancelIoEx((HANDLE)s, NULL);
        /* Waiting for all: any answer from WAIT_OBJECT_0 to WAIT_OBJECT_0 + n - 1 means all ended. */
        if (WaitForMultipleObjects(n, gone, TRUE, 10000) >= WAIT_OBJECT_0 + n) {
            static const char said[] = "closesocket: a cancelled overlapped send of the backing socket did not end within 10 s";
            vl_log_write(VL_LOG_WARNING, said, sizeof said - 1);
        }
        EnterCriticalSection(&sends_lock);  /* an end still to come sets no closed handle */
        for (overlapped_send *w = sends; w; w = w->next)
            if (w->socket == s) w->gone = NULL;
        LeaveCriticalSection(&sends_lock);
        for (DWORD i = 0; i < n; i++) CloseHandle(gone[i]);
    }
    vl_original.closesocket(s);
}

static int32_t stream_set_nonblocking(VL_SOCKET s, int32_t on) {
    u_long value = on ? 1 : 0;
    return vl_original.ioctlsocket((SOCKET)s, FIONBIO, &value) == 0 ? 0 : vl_win32_last_error();
}

static int32_t stream_bytes_readable(VL_SOCKET s, uint32_t *bytes) {
    u_long n = 0;
    if (vl_original.ioctlsocket((SOCKET)s, FIONREAD, &n) != 0) return vl_win32_last_error();
    *bytes = (uint32_t)n;
    return 0;
}

/* This file's entries of the table. */
void vl_win32_fill_streams(vl_platform *p) {
    InitializeCriticalSection(&sends_lock);
    p->tcp_open = tcp_open; p->stream_bind = stream_bind; p->stream_listen = stream_listen; p->stream_shutdown = stream_shutdown;
    p->stream_listen_silent = stream_listen_silent; p->stream_accept = stream_accept; p->stream_accept_into = stream_accept_into;
    p->stream_accept_unselected = stream_accept_unselected;
    p->stream_connect = stream_connect; p->stream_is_connected = stream_is_connected; p->stream_send = stream_send;
    p->stream_receive = stream_receive; p->stream_send_overlapped = stream_send_overlapped; p->set_send_handler = set_send_handler;
    p->stream_set_nonblocking = stream_set_nonblocking; p->stream_bytes_readable = stream_bytes_readable;
}
#endif
