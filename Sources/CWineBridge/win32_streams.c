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

/* The layer's condition function for the OS's WSAAccept: the caller's real port goes to
 * the layer's `decide` (data points at it), whose answer is the condition's. */
typedef struct {
    int32_t (*decide)(void *context, uint16_t real_peer_port, uint32_t *group);
    void *context;
} conditional_accept;

static int CALLBACK ask_layer(LPWSABUF caller, LPWSABUF caller_data, LPQOS sqos, LPQOS gqos, LPWSABUF callee,
                              LPWSABUF callee_data, GROUP *group, DWORD_PTR data) {
    (void)caller_data; (void)sqos; (void)gqos; (void)callee; (void)callee_data;
    const conditional_accept *c = (const conditional_accept *)data;
    uint16_t port = 0;
    if (caller && caller->buf && caller->len >= sizeof(struct sockaddr_in)) port = ntohs(((struct sockaddr_in *)caller->buf)->sin_port);
    return c->decide(c->context, port, (uint32_t *)group);
}

/* WSAAccept, with the layer's condition when `decide` is given (Wine's calls accept inside
 * ws2_32, which the hooks hand to the original); without, it is accept. */
static int32_t stream_accept_conditional(VL_SOCKET s, VL_SOCKET *accepted, uint16_t *real_peer_port,
                                         int32_t (*decide)(void *, uint16_t, uint32_t *), void *context) {
    conditional_accept c = { decide, context };
    struct sockaddr_in from;
    int length = sizeof from;
    SOCKET a = vl_original.WSAAccept((SOCKET)s, (struct sockaddr *)&from, &length, decide ? ask_layer : NULL, (DWORD_PTR)&c);
    if (a == INVALID_SOCKET) return vl_win32_last_error();
    *accepted = (VL_SOCKET)a;
    *real_peer_port = ntohs(from.sin_port);
    return 0;
}

static int32_t stream_accept(VL_SOCKET s, VL_SOCKET *accepted, uint16_t *real_peer_port) {
    return stream_accept_conditional(s, accepted, real_peer_port, NULL, NULL);
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
/* An accepted socket takes its listener's context, which gives it its names. */
static void take_accept_context(VL_SOCKET listener, VL_SOCKET into) {
    SOCKET from = (SOCKET)listener;
    vl_original.setsockopt((SOCKET)into, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, (const char *)&from, sizeof from);
}

static int32_t stream_peer_port(VL_SOCKET s, uint16_t *real_peer_port) {
    struct sockaddr_in peer;
    int length = sizeof peer;
    if (vl_original.getpeername((SOCKET)s, (struct sockaddr *)&peer, &length) != 0) return vl_win32_last_error();
    *real_peer_port = ntohs(peer.sin_port);
    return 0;
}

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
                vl_original.CancelIoEx((HANDLE)s, &o);  /* the system's: the hook would take it for the game's */
                WaitForSingleObject(event, INFINITE);
            }
            DWORD flags = 0;
            error = vl_original.WSAGetOverlappedResult((SOCKET)s, &o, &got, FALSE, &flags) ? 0 : vl_win32_last_error();
            if (error == WSA_OPERATION_ABORTED) error = VL_WSAEWOULDBLOCK;
        }
    }
    CloseHandle(event);
    if (error) return error;
    take_accept_context(s, into);
    return stream_peer_port(into, real_peer_port);
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

/* Overlapped stream sends and receives: the system's own overlapped WSASend or WSARecv on
 * the backing socket (it keeps their order, waits for room or for bytes, and a receive
 * takes what comes without an FD_READ to the game). The backing socket is associated with
 * the layer's own completion port (never the game's: the layer posts the game's packets
 * itself), which one thread of the layer reads; success at once posts nothing there
 * (FILE_SKIP_COMPLETION_PORT_ON_SUCCESS). An operation with a port and no event is not
 * cancelled when the thread that started it exits, as on Windows for a socket with a
 * completion port (Wine: server/async.c, cancel_terminating_thread_asyncs). Each waiting
 * operation is listed, so a close can abort its socket's operations and wait for their
 * ends: the game's OVERLAPPED is written before its closesocket returns, never later (it
 * may be on a stack that is gone by then: a late write there once took a status for a
 * return address). */
static vl_stream_handler stream_handler;
static void set_stream_handler(vl_stream_handler handler) { stream_handler = handler; }

typedef struct stream_operation {
    OVERLAPPED o;  /* first: the port's packet names it */
    void *context;
    SOCKET socket;
    SOCKET accepted;  /* an AcceptEx's accept socket (else INVALID_SOCKET) */
    char names[2 * (sizeof(struct sockaddr_in) + 16)];  /* an AcceptEx's, unread: the layer asks the socket */
    HANDLE gone;  /* set once the end reached the layer; made by a close that waits for it */
    struct stream_operation *next;
} stream_operation;

static CRITICAL_SECTION operations_lock;
static stream_operation *operations;
static HANDLE operations_port;

static void unlist_operation(stream_operation *w) {
    EnterCriticalSection(&operations_lock);
    for (stream_operation **link = &operations; *link; link = &(*link)->next)
        if (*link == w) { *link = w->next; break; }
    if (w->gone) SetEvent(w->gone);
    LeaveCriticalSection(&operations_lock);
}

static DWORD WINAPI operations_thread(void *unused) {
    (void)unused;
    for (;;) {
        DWORD bytes = 0;
        ULONG_PTR key = 0;
        OVERLAPPED *o = NULL;
        GetQueuedCompletionStatus(operations_port, &bytes, &key, &o, INFINITE);
        if (!o) continue;  /* the port itself failed: no operation ended */
        stream_operation *w = (stream_operation *)o;
        if (w->accepted != INVALID_SOCKET && w->o.Internal == 0) take_accept_context((VL_SOCKET)w->socket, (VL_SOCKET)w->accepted);
        if (stream_handler) stream_handler(w->context, (uint32_t)w->o.Internal, (uint32_t)w->o.InternalHigh);
        unlist_operation(w);
        free(w);
    }
    return 0;
}

/* The layer's port and its thread, made once (under operations_lock). */
static int32_t operations_port_locked(void) {
    if (operations_port) return 0;
    HANDLE port = vl_original.CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
    if (!port) return VL_WSAENOBUFS;
    HANDLE thread = CreateThread(NULL, 0, operations_thread, NULL, 0, NULL);
    if (!thread) { CloseHandle(port); return VL_WSAENOBUFS; }
    CloseHandle(thread);
    operations_port = port;
    return 0;
}

/* Before a backing stream's first overlapped operation: its association with the layer's
 * port (for good: a handle is associated once). */
static int32_t stream_prepare_overlapped(VL_SOCKET s) {
    EnterCriticalSection(&operations_lock);
    int32_t error = operations_port_locked();
    LeaveCriticalSection(&operations_lock);
    if (error) return error;
    if (!vl_original.CreateIoCompletionPort((HANDLE)s, operations_port, 0, 0)) return VL_WSAENOBUFS;
    vl_original.SetFileCompletionNotificationModes((HANDLE)s, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS);
    return 0;
}

/* A listed operation for `context` on socket s (NULL: no memory). */
static stream_operation *new_operation(VL_SOCKET s, void *context) {
    stream_operation *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->context = context;
    w->socket = (SOCKET)s;
    w->accepted = INVALID_SOCKET;
    EnterCriticalSection(&operations_lock);  /* listed before its end can come */
    w->next = operations;
    operations = w;
    LeaveCriticalSection(&operations_lock);
    return w;
}

/* What the system's call answered: VL_WSA_IO_PENDING when the port will end it; otherwise
 * it is over (its error, or 0 with *done: success at once posts no packet) and freed. */
static int32_t started(stream_operation *w, int failed, DWORD n, uint32_t *done) {
    int32_t error = failed ? vl_win32_last_error() : 0;
    if (error == WSA_IO_PENDING) return VL_WSA_IO_PENDING;
    unlist_operation(w);
    free(w);
    if (error) return error;
    *done = n;
    return 0;
}

static int32_t stream_send_overlapped(VL_SOCKET s, const VL_WSABUF *buffers, uint32_t count, int32_t flags, uint32_t *done,
                                      void *context) {
    stream_operation *w = new_operation(s, context);
    if (!w) return VL_WSAENOBUFS;
    DWORD n = 0;
    int failed = vl_original.WSASend((SOCKET)s, (LPWSABUF)buffers, count, &n, (DWORD)flags, &w->o, NULL) != 0;
    return started(w, failed, n, done);
}

static int32_t stream_receive_overlapped(VL_SOCKET s, const VL_WSABUF *buffers, uint32_t count, uint32_t *flags,
                                         uint32_t *done, void *context) {
    stream_operation *w = new_operation(s, context);
    if (!w) return VL_WSAENOBUFS;
    DWORD n = 0, f = *flags;
    int failed = vl_original.WSARecv((SOCKET)s, (LPWSABUF)buffers, count, &n, &f, &w->o, NULL) != 0;
    int32_t error = started(w, failed, n, done);
    if (error == 0) *flags = f;
    return error;
}

static int32_t stream_accept_overlapped(VL_SOCKET s, VL_SOCKET into, uint16_t *real_peer_port, void *context) {
    LPFN_ACCEPTEX accept_ex = vl_win32_real_accept_ex((SOCKET)s);
    if (!accept_ex) return VL_WSAEOPNOTSUPP;
    stream_operation *w = new_operation(s, context);
    if (!w) return VL_WSAENOBUFS;
    w->accepted = (SOCKET)into;
    DWORD n = 0;
    int failed = !accept_ex((SOCKET)s, (SOCKET)into, w->names, 0, sizeof w->names / 2, sizeof w->names / 2, &n, &w->o);
    uint32_t done = 0;
    int32_t error = started(w, failed, n, &done);
    if (error) return error;
    take_accept_context(s, into);
    return stream_peer_port(into, real_peer_port);
}

static void stream_cancel(VL_SOCKET s, void *context) {
    EnterCriticalSection(&operations_lock);  /* listed: not ended, so its OVERLAPPED is alive */
    for (stream_operation *w = operations; w; w = w->next)
        if (w->socket == (SOCKET)s && w->context == context) vl_original.CancelIoEx((HANDLE)s, &w->o);
    LeaveCriticalSection(&operations_lock);
}

/* Marks s's listed operations (ended_only: those the OS has ended already, whose packet
 * may not have reached the layer's thread yet) to say when the layer has handled them:
 * how many, their events in `gone`. */
static DWORD watch_ends(SOCKET s, int ended_only, HANDLE gone[MAXIMUM_WAIT_OBJECTS]) {
    DWORD n = 0;
    EnterCriticalSection(&operations_lock);
    for (stream_operation *w = operations; w && n < MAXIMUM_WAIT_OBJECTS; w = w->next)
        if (w->socket == s && !w->gone && (!ended_only || w->o.Internal != STATUS_PENDING)
            && (w->gone = CreateEventA(NULL, TRUE, FALSE, NULL)))
            gone[n++] = w->gone;
    LeaveCriticalSection(&operations_lock);
    return n;
}

/* Waits for those ends (10 s at most: an end that never comes is logged, not waited for),
 * then forgets the events: an end still to come sets no closed handle. */
static void await_ends(HANDLE *gone, DWORD n) {
    /* Waiting for all: any answer from WAIT_OBJECT_0 to WAIT_OBJECT_0 + n - 1 means all ended. */
    if (WaitForMultipleObjects(n, gone, TRUE, 10000) >= WAIT_OBJECT_0 + n) {
        static const char said[] = "a backing socket's overlapped operation did not end within 10 s";
        vl_log_write(VL_LOG_WARNING, said, sizeof said - 1);
    }
    EnterCriticalSection(&operations_lock);
    for (stream_operation *w = operations; w; w = w->next)
        for (DWORD i = 0; i < n; i++)
            if (w->gone == gone[i]) w->gone = NULL;
    LeaveCriticalSection(&operations_lock);
    for (DWORD i = 0; i < n; i++) CloseHandle(gone[i]);
}

/* Closes a backing socket, its waiting operations first: they are cancelled (Wine 8 would leave
 * them pending past the close, and write their OVERLAPPEDs whenever the peer goes), and
 * the close waits for their ends (WSA_OPERATION_ABORTED, as Microsoft documents for
 * closesocket). The wait is the kind in which Wine runs the cancellation's completion in
 * this thread. */
void vl_win32_close_after_operations(SOCKET s) {
    HANDLE gone[MAXIMUM_WAIT_OBJECTS];
    DWORD n = watch_ends(s, 0, gone);
    if (n > 0) {
        vl_original.CancelIoEx((HANDLE)s, NULL);
        await_ends(gone, n);
    }
    vl_original.closesocket(s);
}

/* The game's next call on s sees the ends the OS has made, in the OS's order. Wine writes
 * an ended operation's OVERLAPPED in a system APC of the thread that started it, which runs
 * in that thread's next wait: a wait of no time runs it first, when s has operations. */
static void stream_settle(VL_SOCKET s) {
    int listed = 0;
    EnterCriticalSection(&operations_lock);
    for (stream_operation *w = operations; w; w = w->next) listed |= w->socket == (SOCKET)s;
    LeaveCriticalSection(&operations_lock);
    if (!listed) return;
    WaitForSingleObject(GetCurrentProcess(), 0);
    HANDLE gone[MAXIMUM_WAIT_OBJECTS];
    DWORD n = watch_ends((SOCKET)s, 1, gone);
    if (n > 0) await_ends(gone, n);
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
    InitializeCriticalSection(&operations_lock);
    p->tcp_open = tcp_open; p->stream_bind = stream_bind; p->stream_listen = stream_listen; p->stream_shutdown = stream_shutdown;
    p->stream_listen_silent = stream_listen_silent; p->stream_accept = stream_accept; p->stream_accept_conditional = stream_accept_conditional;
    p->stream_accept_unselected = stream_accept_unselected; p->stream_accept_overlapped = stream_accept_overlapped;
    p->stream_peer_port = stream_peer_port;
    p->stream_connect = stream_connect; p->stream_is_connected = stream_is_connected; p->stream_send = stream_send;
    p->stream_receive = stream_receive; p->stream_send_overlapped = stream_send_overlapped;
    p->stream_receive_overlapped = stream_receive_overlapped; p->stream_cancel = stream_cancel; p->stream_settle = stream_settle;
    p->stream_prepare_overlapped = stream_prepare_overlapped; p->set_stream_handler = set_stream_handler;
    p->stream_set_nonblocking = stream_set_nonblocking; p->stream_bytes_readable = stream_bytes_readable;
}
#endif
