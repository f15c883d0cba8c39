/* The Win32 backend of the Platform table, inside the hook DLL. Every socket call goes to
 * the ORIGINAL ws2_32 functions (captured before the imports are patched), so backing
 * sockets are real kernel handles: the game's select, WaitFor* and WSAEventSelect keep
 * working on them. Nothing polls: readiness is one watcher thread waiting in select. */
#if defined(_WIN32)
#define FD_SETSIZE 1025 /* wait_sockets' sets: the watcher's every watched socket and its wake-up socket */
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

static void report_error(const char *line, uint32_t length);
static int32_t last_wsa_error(void) { return (int32_t)vl_original.WSAGetLastError(); }

/* ---- backing sockets ---- */

/* No WSAStartup of our own: a virtual socket exists only between the game's WSAStartup and
 * its last WSACleanup, which reach the real ws2_32 too (winsock_startup below). A reference
 * of ours would keep the game's TCP sockets open past its last WSACleanup. */
static int32_t udp_open(VL_SOCKET *out, uint16_t *real_port) {
    SOCKET s = vl_original.socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    if (s == INVALID_SOCKET) return last_wsa_error();
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int length = sizeof a;
    u_long on = 1;
    /* Never blocking inside the OS: blocking calls wait in select (which closesocket ends). */
    if (vl_original.bind(s, (struct sockaddr *)&a, sizeof a) != 0
        || vl_original.getsockname(s, (struct sockaddr *)&a, &length) != 0
        || vl_original.ioctlsocket(s, FIONBIO, &on) != 0) {
        int32_t e = last_wsa_error();
        vl_original.closesocket(s);
        return e;
    }
    *out = (VL_SOCKET)s;
    *real_port = ntohs(a.sin_port);
    return 0;
}

/* ---- virtual TCP's backing streams: real TCP sockets in the game's blocking mode, so
 * every blocking call below blocks in the OS as the game's own would ---- */

static int32_t tcp_open(VL_SOCKET *out) {
    SOCKET s = vl_original.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (s == INVALID_SOCKET) return last_wsa_error();
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
        || vl_original.getsockname((SOCKET)s, (struct sockaddr *)&a, &length) != 0) return last_wsa_error();
    *real_port = ntohs(a.sin_port);
    return 0;
}

static int32_t stream_listen(VL_SOCKET s) { return vl_original.listen((SOCKET)s, SOMAXCONN) == 0 ? 0 : last_wsa_error(); }
static int32_t stream_listen_silent(VL_SOCKET s) { return vl_original.listen((SOCKET)s, 0) == 0 ? 0 : last_wsa_error(); }

static int32_t stream_accept(VL_SOCKET s, VL_SOCKET *accepted, uint16_t *real_peer_port) {
    struct sockaddr_in from;
    int length = sizeof from;
    SOCKET a = vl_original.accept((SOCKET)s, (struct sockaddr *)&from, &length);
    if (a == INVALID_SOCKET) return last_wsa_error();
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
                             &returned, NULL, NULL) != 0)
        return NULL;
    return pointer;
}

/* The system's AcceptEx (for the listener's provider: TCP/IP, one function in practice). */
static LPFN_ACCEPTEX real_accept_ex(SOCKET listener) {
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
    LPFN_ACCEPTEX accept_ex = real_accept_ex((SOCKET)s);
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
        error = last_wsa_error();
        if (error == WSA_IO_PENDING) {
            if (WaitForSingleObject(event, 2000) != WAIT_OBJECT_0) {
                CancelIoEx((HANDLE)s, &o);
                WaitForSingleObject(event, INFINITE);
            }
            DWORD flags = 0;
            error = vl_original.WSAGetOverlappedResult((SOCKET)s, &o, &got, FALSE, &flags) ? 0 : last_wsa_error();
            if (error == WSA_OPERATION_ABORTED) error = VL_WSAEWOULDBLOCK;
        }
    }
    CloseHandle(event);
    if (error) return error;
    SOCKET listener = (SOCKET)s;
    vl_original.setsockopt((SOCKET)into, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, (const char *)&listener, sizeof listener);
    struct sockaddr_in peer;
    int length = sizeof peer;
    if (vl_original.getpeername((SOCKET)into, (struct sockaddr *)&peer, &length) != 0) return last_wsa_error();
    *real_peer_port = ntohs(peer.sin_port);
    return 0;
}

static int32_t stream_connect(VL_SOCKET s, uint32_t address, uint16_t port) {
    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = address;
    return vl_original.connect((SOCKET)s, (struct sockaddr *)&to, sizeof to) == 0 ? 0 : last_wsa_error();
}

static int32_t stream_is_connected(VL_SOCKET s) {
    struct sockaddr_in peer;
    int length = sizeof peer;
    return vl_original.getpeername((SOCKET)s, (struct sockaddr *)&peer, &length) == 0;
}

static int32_t stream_send(VL_SOCKET s, const VL_WSABUF *buffers, uint32_t count, int32_t flags, uint32_t *done) {
    DWORD n = 0;
    if (vl_original.WSASend((SOCKET)s, (LPWSABUF)buffers, count, &n, (DWORD)flags, NULL, NULL) != 0) return last_wsa_error();
    *done = n;
    return 0;
}

static int32_t stream_receive(VL_SOCKET s, const VL_WSABUF *buffers, uint32_t count, int32_t flags, uint32_t *done) {
    DWORD n = 0, f = (DWORD)flags;
    if (vl_original.WSARecv((SOCKET)s, (LPWSABUF)buffers, count, &n, &f, NULL, NULL) != 0) return last_wsa_error();
    *done = n;
    return 0;
}

/* Overlapped stream sends: the system's own overlapped WSASend on the backing socket (it
 * keeps their order and waits for room), its end found by a thread-pool wait on a private
 * event whose low bit keeps it off any completion port. */
static vl_send_handler send_handler;
static void set_send_handler(vl_send_handler handler) { send_handler = handler; }

typedef struct { OVERLAPPED o; HANDLE event, wait; void *context; } overlapped_send;

/* A finished send's error, from its OVERLAPPED's NTSTATUS (the socket may be closed by now). */
static int32_t send_error(const OVERLAPPED *o) {
    DWORD status = (DWORD)o->Internal;
    return status == 0 ? 0 : status == 0xC0000120u /* STATUS_CANCELLED */ ? VL_WSA_OPERATION_ABORTED : VL_WSAECONNRESET;
}

static VOID CALLBACK send_ended(PVOID argument, BOOLEAN timed_out) {
    (void)timed_out;
    overlapped_send *w = argument;
    int32_t error = send_error(&w->o);
    uint32_t bytes = (uint32_t)w->o.InternalHigh;
    void *context = w->context;
    UnregisterWaitEx(w->wait, NULL);  /* not waiting for this callback: it is this one */
    CloseHandle(w->event);
    free(w);
    if (send_handler) send_handler(context, error, bytes);
}

static int32_t stream_send_overlapped(VL_SOCKET s, const VL_WSABUF *buffers, uint32_t count, int32_t flags, uint32_t *done,
                                      void *context) {
    overlapped_send *w = calloc(1, sizeof *w);
    if (!w || !(w->event = CreateEventA(NULL, TRUE, FALSE, NULL))) { free(w); return VL_WSAENOBUFS; }
    w->o.hEvent = (HANDLE)((ULONG_PTR)w->event | 1);
    w->context = context;
    DWORD n = 0;
    int32_t error = 0;
    if (vl_original.WSASend((SOCKET)s, (LPWSABUF)buffers, count, &n, (DWORD)flags, &w->o, NULL) != 0) {
        error = last_wsa_error();
        if (error == WSA_IO_PENDING && RegisterWaitForSingleObject(&w->wait, w->event, send_ended, w, INFINITE, WT_EXECUTEONLYONCE))
            return VL_WSA_IO_PENDING;
        if (error == WSA_IO_PENDING) {  /* no wait to end it: wait here, as a blocking send would */
            WaitForSingleObject(w->event, INFINITE);
            error = send_error(&w->o);
            n = (DWORD)w->o.InternalHigh;
        }
    }
    CloseHandle(w->event);
    free(w);
    if (error) return error;
    *done = n;
    return 0;
}

static int32_t stream_set_nonblocking(VL_SOCKET s, int32_t on) {
    u_long value = on ? 1 : 0;
    return vl_original.ioctlsocket((SOCKET)s, FIONBIO, &value) == 0 ? 0 : last_wsa_error();
}

static int32_t stream_bytes_readable(VL_SOCKET s, uint32_t *bytes) {
    u_long n = 0;
    if (vl_original.ioctlsocket((SOCKET)s, FIONREAD, &n) != 0) return last_wsa_error();
    *bytes = (uint32_t)n;
    return 0;
}

/* Readiness for the layer's overlapped receives: one thread waits in select on every
 * watched backing socket and a wake-up socket of its own. select leaves the socket's event
 * association alone, so the game's WSAEventSelect or WSAAsyncSelect on the same socket
 * keeps working (a WSAEventSelect of ours would replace it). */
enum { MAX_WATCHED = 1024 };
static CRITICAL_SECTION watch_lock;
static SOCKET watched[MAX_WATCHED];
static uint32_t watched_count;
static SOCKET wake_socket = INVALID_SOCKET;
static struct sockaddr_in wake_address;
static HANDLE watch_thread;
static vl_ready_handler ready_handler;

/* Removes s from the watched sockets; watch_lock held. */
static int unwatch_locked(SOCKET s) {
    for (uint32_t i = 0; i < watched_count; i++)
        if (watched[i] == s) { watched[i] = watched[--watched_count]; return 1; }
    return 0;
}

/* Makes the thread rebuild its set: one byte to its wake-up socket. */
static void wake_watcher(void) {
    if (wake_socket != INVALID_SOCKET)
        vl_original.sendto(wake_socket, "w", 1, 0, (struct sockaddr *)&wake_address, sizeof wake_address);
}

/* Ends blocked calls of other threads: the pending receive of a blocking call is cancelled. */
static void socket_shutdown(VL_SOCKET s) {
    vl_original.shutdown((SOCKET)s, SD_BOTH);
    CancelIoEx((HANDLE)s, NULL);
}

/* A socket being closed leaves the watched set first, so the thread's next select never
 * sees its number (which the OS may give to another socket); a readiness already seen
 * reaches the handler with a handle the layer no longer knows, and is ignored there. */
static void socket_close(VL_SOCKET s) {
    EnterCriticalSection(&watch_lock);
    int was_watched = unwatch_locked((SOCKET)s);
    LeaveCriticalSection(&watch_lock);
    if (was_watched) wake_watcher();
    vl_original.closesocket((SOCKET)s);
}

#define MAX_BUFFERS 1024

static int32_t send_one(VL_SOCKET s, WSABUF *b, uint32_t count, uint16_t real_port);

static int32_t send_frame(VL_SOCKET s, const void *header, uint32_t header_length,
                          const VL_WSABUF *buffers, uint32_t count, const uint16_t *real_ports, uint32_t port_count) {
    if (count + 1 > MAX_BUFFERS) return -VL_WSAENOBUFS;
    WSABUF b[MAX_BUFFERS];
    b[0].buf = (char *)header;
    b[0].len = header_length;
    for (uint32_t i = 0; i < count; i++) { b[i + 1].buf = buffers[i].buf; b[i + 1].len = buffers[i].len; }
    int32_t sent = 0, error = 0;
    for (uint32_t i = 0; i < port_count; i++) {
        int32_t e = send_one(s, b, count + 1, real_ports[i]);
        if (e == 0) sent++;
        else if (!error) error = e;
    }
    return sent > 0 || !error ? sent : -error;
}

static int32_t send_one(VL_SOCKET s, WSABUF *b, uint32_t count, uint16_t real_port) {
    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_port = htons(real_port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    DWORD sent = 0;
    for (;;) {
        if (vl_original.WSASendTo((SOCKET)s, b, count, &sent, 0, (struct sockaddr *)&to, sizeof to, NULL, NULL) == 0) return 0;
        int32_t e = last_wsa_error();
        if (e == WSAECONNRESET) return 0;          /* an ICMP from a gone receiver: not our sender's error */
        if (e != WSAEWOULDBLOCK) return e;
        fd_set w; FD_ZERO(&w); FD_SET((SOCKET)s, &w);
        if (vl_original.select(0, NULL, &w, NULL, NULL) < 0) return last_wsa_error();
    }
}

/* One receive; `blocking` waits for the datagram with a real overlapped WSARecvFrom on this
 * thread's event: the way Wine's own blocking recv waits, one server call plus the wait
 * (a would-block receive, a select and another receive cost two calls more). */
static int32_t receive(SOCKET s, void *header, const VL_WSABUF *buffers, uint32_t count, DWORD flags, vl_received *r, int blocking) {
    static __thread HANDLE thread_event;
    if (blocking && !thread_event) thread_event = CreateEventA(NULL, TRUE, FALSE, NULL);
    if (count + 1 > MAX_BUFFERS) return VL_WSAENOBUFS;
    WSABUF b[MAX_BUFFERS];
    b[0].buf = header;
    b[0].len = 16;
    uint32_t capacity = 16;
    for (uint32_t i = 0; i < count; i++) { b[i + 1].buf = buffers[i].buf; b[i + 1].len = buffers[i].len; capacity += buffers[i].len; }
    struct sockaddr_in from;
    int from_length = sizeof from;
    DWORD received = 0, f = flags;
    for (;;) {
        WSAOVERLAPPED overlapped;
        memset(&overlapped, 0, sizeof overlapped);
        overlapped.hEvent = thread_event;
        WSAOVERLAPPED *wait = blocking ? &overlapped : NULL;
        int rc = vl_original.WSARecvFrom(s, b, count + 1, &received, &f, (struct sockaddr *)&from, &from_length, wait, NULL);
        int32_t e = rc == 0 ? 0 : last_wsa_error();
        while (e == WSA_IO_PENDING || e == WSA_IO_INCOMPLETE) {
            WaitForSingleObject(thread_event, INFINITE);
            e = vl_original.WSAGetOverlappedResult(s, &overlapped, &received, FALSE, &f) ? 0 : last_wsa_error();
        }
        /* WSAECONNRESET: an ICMP port-unreachable for an earlier send of ours; not a datagram. */
        if (e == WSAECONNRESET) { f = flags; continue; }
        if (e != 0 && e != WSAEMSGSIZE) return e;
        /* Windows does not tell a cut datagram's length: one byte more than fitted says "cut". */
        r->copied = e == WSAEMSGSIZE ? capacity : received;
        r->length = e == WSAEMSGSIZE ? capacity + 1 : received;
        r->real_source_port = ntohs(from.sin_port);
        r->from_loopback = from.sin_addr.s_addr == htonl(INADDR_LOOPBACK);
        return 0;
    }
}

static int32_t receive_frame(VL_SOCKET s, void *header, const VL_WSABUF *buffers, uint32_t count,
                             int32_t flags, vl_received *r) {
    return receive((SOCKET)s, header, buffers, count, flags & VL_RECEIVE_PEEK ? MSG_PEEK : 0, r, flags & VL_RECEIVE_BLOCKING);
}

static int32_t peek_frame(VL_SOCKET s, void *header, vl_received *r) {
    /* The whole datagram must be peeked to learn its length. */
    static __thread char scratch[65536];
    VL_WSABUF rest = { sizeof scratch, scratch };
    return receive((SOCKET)s, header, &rest, 1, MSG_PEEK, r, 0);
}

static int32_t set_receive_buffer(VL_SOCKET s, int32_t bytes) {
    return vl_original.setsockopt((SOCKET)s, SOL_SOCKET, SO_RCVBUF, (const char *)&bytes, sizeof bytes) == 0 ? 0 : last_wsa_error();
}

/* WSARecvMsg as the game calls it (WINAPI), for WSAIoctl to hand out. */
static int32_t WINAPI wsarecvmsg_entry(VL_SOCKET s, VL_WSAMSG *message, uint32_t *received, VL_OVERLAPPED *overlapped, void *routine) {
    return vl_hook_WSARecvMsg(s, message, received, overlapped, routine);
}
static int32_t WINAPI wsasendmsg_entry(VL_SOCKET s, VL_WSAMSG *message, uint32_t flags, uint32_t *sent, VL_OVERLAPPED *overlapped, void *routine) {
    return vl_hook_WSASendMsg(s, message, flags, sent, overlapped, routine);
}
/* ConnectEx for a virtual TCP socket; a program that kept the pointer and uses it on
 * another socket reaches the system's, behind the destination guard. */
BOOL PASCAL vl_system_connect_ex(SOCKET s, const struct sockaddr *to, int tolen, PVOID data, DWORD length,
                                 LPDWORD sent, LPOVERLAPPED overlapped);
static int32_t WINAPI connectex_entry(VL_SOCKET s, const VL_SOCKADDR_IN *name, int32_t length, const void *data, uint32_t dataLength,
                                      uint32_t *sent, VL_OVERLAPPED *overlapped) {
    if (!vl_is_virtual_socket(s))
        return vl_system_connect_ex((SOCKET)s, (const struct sockaddr *)name, length, (PVOID)data, dataLength, (LPDWORD)sent,
                                    (LPOVERLAPPED)overlapped);
    return vl_hook_ConnectEx(s, name, length, data, dataLength, sent, overlapped);
}

/* AcceptEx and GetAcceptExSockaddrs for a virtual TCP listener; a program that kept the
 * pointer and uses it on another listener reaches the system's. */
static BOOL WINAPI acceptex_entry(SOCKET listener, SOCKET acceptor, void *output, DWORD receiveLength, DWORD localLength,
                                  DWORD remoteLength, DWORD *received, OVERLAPPED *overlapped) {
    if (!vl_is_virtual_socket((VL_SOCKET)listener)) {
        LPFN_ACCEPTEX accept_ex = real_accept_ex(listener);
        if (!accept_ex) { vl_original.WSASetLastError(WSAEOPNOTSUPP); return FALSE; }
        return accept_ex(listener, acceptor, output, receiveLength, localLength, remoteLength, received, overlapped);
    }
    return vl_hook_AcceptEx((VL_SOCKET)listener, (VL_SOCKET)acceptor, output, receiveLength, localLength, remoteLength,
                            (uint32_t *)received, (VL_OVERLAPPED *)overlapped);
}
static void WINAPI getacceptexsockaddrs_entry(void *buffer, DWORD receiveLength, DWORD localLength, DWORD remoteLength,
                                              VL_SOCKADDR_IN **local, int32_t *localSize, VL_SOCKADDR_IN **remote, int32_t *remoteSize) {
    vl_hook_GetAcceptExSockaddrs(buffer, receiveLength, localLength, remoteLength, local, localSize, remote, remoteSize);
}

static int32_t call_accept_condition(void *condition, VL_WSABUF *caller, VL_WSABUF *callee, uint32_t *group, uintptr_t data) {
    return ((LPCONDITIONPROC)condition)((LPWSABUF)caller, NULL, NULL, NULL, (LPWSABUF)callee, NULL, (GROUP *)group, (DWORD_PTR)data);
}

static int32_t event_select(VL_SOCKET s, VL_WSAEVENT event, int32_t events) {
    return vl_original.WSAEventSelect((SOCKET)s, (WSAEVENT)event, events) == 0 ? 0 : last_wsa_error();
}

static int32_t async_select(VL_SOCKET s, void *window, uint32_t message, int32_t events) {
    return vl_original.WSAAsyncSelect((SOCKET)s, (HWND)window, message, events) == 0 ? 0 : last_wsa_error();
}

static int32_t option_get(VL_SOCKET s, int32_t level, int32_t name, void *value, int32_t *length) {
    int n = *length;
    if (vl_original.getsockopt((SOCKET)s, level, name, value, &n) != 0) return last_wsa_error();
    *length = n;
    return 0;
}

static int32_t option_set(VL_SOCKET s, int32_t level, int32_t name, const void *value, int32_t length) {
    return vl_original.setsockopt((SOCKET)s, level, name, value, length) == 0 ? 0 : last_wsa_error();
}

static int32_t wait_sockets(const VL_SOCKET *sockets, uint32_t count, const uint8_t *interest, uint8_t *ready, int32_t timeout_ms) {
    if (count > FD_SETSIZE) return -VL_WSAEINVAL;
    static __thread fd_set sets[3];  /* 12 KB: off the stack */
    for (int k = 0; k < 3; k++) FD_ZERO(&sets[k]);
    for (uint32_t i = 0; i < count; i++)
        for (int k = 0; k < 3; k++)
            if (interest[i] & (1 << k)) FD_SET((SOCKET)sockets[i], &sets[k]);
    struct timeval t = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    int n = vl_original.select(0, sets[0].fd_count ? &sets[0] : NULL, sets[1].fd_count ? &sets[1] : NULL,
                               sets[2].fd_count ? &sets[2] : NULL, timeout_ms < 0 ? NULL : &t);
    if (n < 0) return -last_wsa_error();
    int32_t result = 0;
    for (uint32_t i = 0; i < count; i++) {
        ready[i] = 0;
        for (int k = 0; k < 3; k++)
            if ((interest[i] & (1 << k)) && FD_ISSET((SOCKET)sockets[i], &sets[k])) ready[i] |= (uint8_t)(1 << k);
        result += ready[i] != 0;
    }
    return result;
}

static int32_t poll_sockets(VL_WSAPOLLFD *fds, uint32_t count, int32_t timeout_ms) {
    int n = vl_original.WSAPoll((WSAPOLLFD *)fds, count, timeout_ms);
    return n < 0 ? -last_wsa_error() : n;
}

static DWORD WINAPI watcher(void *unused) {
    (void)unused;
    static VL_SOCKET sockets[MAX_WATCHED + 1];  /* one thread: off its stack */
    static uint8_t interest[MAX_WATCHED + 1], ready[MAX_WATCHED + 1];
    for (;;) {
        EnterCriticalSection(&watch_lock);
        uint32_t count = watched_count + 1;
        sockets[0] = (VL_SOCKET)wake_socket;
        for (uint32_t i = 1; i < count; i++) sockets[i] = (VL_SOCKET)watched[i - 1];
        LeaveCriticalSection(&watch_lock);
        memset(interest, VL_WAIT_READ, count);
        if (wait_sockets(sockets, count, interest, ready, -1) < 0) {
            /* A socket closed between the set and the select: drop what is no socket now.
             * When nothing was (the wake-up socket itself is gone: the game's last
             * WSACleanup), the thread ends; the next watch starts a new one. */
            int type, length = sizeof type, dropped = 0;
            EnterCriticalSection(&watch_lock);
            for (uint32_t i = 0; i < watched_count;) {
                length = sizeof type;
                if (vl_original.getsockopt(watched[i], SOL_SOCKET, SO_TYPE, (char *)&type, &length) != 0) { unwatch_locked(watched[i]); dropped = 1; }
                else i++;
            }
            length = sizeof type;
            int ending = !dropped || vl_original.getsockopt(wake_socket, SOL_SOCKET, SO_TYPE, (char *)&type, &length) != 0;
            if (ending) {
                vl_original.closesocket(wake_socket);
                wake_socket = INVALID_SOCKET;
                CloseHandle(watch_thread);
                watch_thread = NULL;
            }
            LeaveCriticalSection(&watch_lock);
            if (ending) return 0;
            continue;
        }
        char scratch[16];
        if (ready[0])
            while (vl_original.recvfrom(wake_socket, scratch, sizeof scratch, 0, NULL, NULL) >= 0) {}
        for (uint32_t i = 1; i < count; i++) {
            if (!ready[i]) continue;
            EnterCriticalSection(&watch_lock);
            int mine = unwatch_locked((SOCKET)sockets[i]);  /* one-shot: the handler re-arms */
            LeaveCriticalSection(&watch_lock);
            if (mine && ready_handler) ready_handler(sockets[i]);
        }
    }
    return 0;
}

/* The wake-up socket and the thread, on first use (after the game's WSAStartup). */
static int32_t start_watcher_locked(void) {
    if (watch_thread) return 0;
    uint16_t port;
    VL_SOCKET w;
    int32_t e = udp_open(&w, &port);
    if (e) return e;
    memset(&wake_address, 0, sizeof wake_address);
    wake_address.sin_family = AF_INET;
    wake_address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    wake_address.sin_port = htons(port);
    wake_socket = (SOCKET)w;
    watch_thread = CreateThread(NULL, 0, watcher, NULL, 0, NULL);
    if (!watch_thread) {
        vl_original.closesocket(wake_socket);
        wake_socket = INVALID_SOCKET;
        return VL_WSAENOBUFS;
    }
    return 0;
}

static int32_t watch_readable(VL_SOCKET s) {
    EnterCriticalSection(&watch_lock);
    int32_t e = start_watcher_locked();
    int known = 0;
    for (uint32_t i = 0; i < watched_count; i++) known |= watched[i] == (SOCKET)s;
    if (!e && !known) {
        if (watched_count == MAX_WATCHED) e = VL_WSAENOBUFS;
        else watched[watched_count++] = (SOCKET)s;
    }
    LeaveCriticalSection(&watch_lock);
    if (!e) wake_watcher();
    return e;
}

static void set_ready_handler(vl_ready_handler handler) { ready_handler = handler; }

/* ---- events: the real ones ---- */

static VL_WSAEVENT event_create(void) { return vl_original.WSACreateEvent(); }
static int32_t event_close(VL_WSAEVENT e) { return vl_original.WSACloseEvent(e) ? 1 : 0; }
static int32_t event_set(VL_WSAEVENT e) { return vl_original.WSASetEvent(e) ? 1 : 0; }
static int32_t event_reset(VL_WSAEVENT e) { return vl_original.WSAResetEvent(e) ? 1 : 0; }
static uint32_t event_wait(uint32_t count, const VL_WSAEVENT *events, int32_t wait_all, uint32_t timeout_ms, int32_t alertable) {
    return vl_original.WSAWaitForMultipleEvents(count, (const WSAEVENT *)events, wait_all, timeout_ms, alertable);
}

/* ---- completion routines: real APCs to the posting thread ---- */

typedef struct completion {
    LPWSAOVERLAPPED_COMPLETION_ROUTINE routine;
    DWORD error, bytes, flags;
    LPWSAOVERLAPPED overlapped;
} completion;

static void CALLBACK run_completion(ULONG_PTR argument) {
    completion *c = (completion *)argument;
    c->routine(c->error, c->bytes, c->overlapped, c->flags);
    free(c);
}

static uintptr_t current_thread(void) { return GetCurrentThreadId(); }

static void queue_completion(uintptr_t thread, void *routine, uint32_t error, uint32_t bytes,
                             VL_OVERLAPPED *overlapped, uint32_t flags) {
    completion *c = malloc(sizeof *c);
    HANDLE h = OpenThread(THREAD_SET_CONTEXT, FALSE, (DWORD)thread);
    if (!c || !h) { free(c); if (h) CloseHandle(h); return; }
    c->routine = (LPWSAOVERLAPPED_COMPLETION_ROUTINE)routine;
    c->error = error;
    c->bytes = bytes;
    c->flags = flags;
    c->overlapped = (LPWSAOVERLAPPED)overlapped;
    if (!QueueUserAPC(run_completion, h, (ULONG_PTR)c)) free(c);
    CloseHandle(h);
}

/* ---- completion ports: the real ones; packets posted with ntdll's NtSetIoCompletion,
 * which (unlike PostQueuedCompletionStatus) carries the operation's NTSTATUS, so the
 * game's GetQueuedCompletionStatus fails with the error as it does for the OS's own. ---- */

typedef LONG (NTAPI *query_io_completion_fn)(HANDLE, int, void *, ULONG, ULONG *);
static void *port_open(void *port, uint32_t threads, uint32_t *error) {
    if (!port) {
        HANDLE created = vl_original.CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, threads);
        if (!created) *error = GetLastError();
        return created;
    }
    static query_io_completion_fn query;
    if (!query) query = (query_io_completion_fn)(void *)GetProcAddress(GetModuleHandleA("ntdll.dll"), "NtQueryIoCompletion");
    LONG depth = 0;
    if (query && query(port, 0, &depth, sizeof depth, NULL) != 0) { *error = ERROR_INVALID_HANDLE; return NULL; }
    return port;
}

typedef LONG (NTAPI *set_io_completion_fn)(HANDLE, ULONG_PTR, ULONG_PTR, LONG, ULONG_PTR);
static void post_completion(void *port, uintptr_t key, VL_OVERLAPPED *overlapped, uint32_t status, uint32_t bytes) {
    static set_io_completion_fn set_io_completion;
    if (!set_io_completion)
        set_io_completion = (set_io_completion_fn)(void *)GetProcAddress(GetModuleHandleA("ntdll.dll"), "NtSetIoCompletion");
    if (set_io_completion) set_io_completion(port, key, (ULONG_PTR)overlapped, (LONG)status, bytes);
}

/* The game's WSAStartup/WSACleanup reach the real ws2_32 too (one each, so the counts
 * stay in step): what we hand on (TCP, IPv6) needs it started. */
static int32_t winsock_startup(uint16_t version, VL_WSADATA *data) { return vl_original.WSAStartup(version, (LPWSADATA)data); }
static int32_t winsock_cleanup(void) { return vl_original.WSACleanup() == 0 ? 0 : last_wsa_error(); }

static int32_t get_last_error(void) { return (int32_t)vl_original.WSAGetLastError(); }
static void set_last_error(int32_t e) { vl_original.WSASetLastError(e); }

/* ---- locks, timers, time, processes ---- */

static void *mutex_create(void) {
    CRITICAL_SECTION *c = malloc(sizeof *c);
    if (c) InitializeCriticalSection(c);
    return c;
}
static void mutex_lock(void *m) { EnterCriticalSection(m); }
static void mutex_unlock(void *m) { LeaveCriticalSection(m); }

typedef struct timer { HANDLE stop, thread; uint32_t interval_ms; vl_tick tick; void *context; } timer;

static DWORD WINAPI timer_thread(void *argument) {
    timer *t = argument;
    while (WaitForSingleObject(t->stop, t->interval_ms) == WAIT_TIMEOUT) t->tick(t->context);
    return 0;
}

static void *timer_start(uint32_t interval_ms, vl_tick tick, void *context) {
    timer *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->stop = CreateEventA(NULL, TRUE, FALSE, NULL);
    t->interval_ms = interval_ms;
    t->tick = tick;
    t->context = context;
    t->thread = CreateThread(NULL, 0, timer_thread, t, 0, NULL);
    if (!t->thread) { CloseHandle(t->stop); free(t); return NULL; }
    return t;
}

static void timer_stop(void *handle) {
    timer *t = handle;
    if (!t) return;
    SetEvent(t->stop);
    /* At process detach the thread may already be gone (the loader ends threads first). */
    WaitForSingleObject(t->thread, 2000);
    CloseHandle(t->thread);
    CloseHandle(t->stop);
    free(t);
}

static uint32_t now_ms(void) {
    /* Wine's performance counter is CLOCK_MONOTONIC_RAW: the clock the Linux backend and
     * the status tool read, so heartbeats compare across both. */
    LARGE_INTEGER counter, frequency;
    QueryPerformanceCounter(&counter);
    QueryPerformanceFrequency(&frequency);
    return (uint32_t)((unsigned long long)counter.QuadPart / ((unsigned long long)frequency.QuadPart / 1000u));
}

static uint32_t process_id(void) { return GetCurrentProcessId(); }
/* A Windows pid is only meaningful to its own wineserver: let the heartbeat decide. */
static int32_t is_process_alive(uint32_t pid, uint32_t kind) { (void)pid; (void)kind; return -1; }

static char env_buffer[4096];
static const char *get_env(const char *name) {
    DWORD n = GetEnvironmentVariableA(name, env_buffer, sizeof env_buffer);
    return n > 0 && n < sizeof env_buffer ? env_buffer : NULL;
}

/* "/tmp/x" (a Unix path, as the Linux tools print it) -> "Z:\tmp\x" (Wine's root drive). */
static void windows_path(const char *path, char *out, size_t capacity) {
    size_t o = 0;
    if (path[0] == '/' && capacity > 3) { out[o++] = 'Z'; out[o++] = ':'; }
    for (size_t i = 0; path[i] && o + 1 < capacity; i++) out[o++] = path[i] == '/' ? '\\' : path[i];
    out[o] = 0;
}

static uint32_t default_registry_path(char *buffer, uint32_t capacity) {
    char folder[MAX_PATH];
    DWORD n = GetEnvironmentVariableA("XDG_RUNTIME_DIR", folder, sizeof folder);
    int written;
    if (n > 0 && n < sizeof folder && folder[0] == '/') written = snprintf(buffer, capacity, "%s/virtuallan/registry", folder);
    else {
        n = GetTempPathA(sizeof folder, folder);
        written = snprintf(buffer, capacity, "%svirtuallan\\registry", n ? folder : "C:\\");
    }
    return written < 0 ? 0 : (uint32_t)written;
}

static int32_t map_failure(vl_mapping *m, int32_t error, HANDLE file) {
    memset(m, 0, sizeof *m);
    m->error = error;
    m->os_error = (int32_t)GetLastError();
    m->handle = -1;
    if (file != INVALID_HANDLE_VALUE) CloseHandle(file);
    return error;
}

static int32_t registry_map(const char *unix_or_windows_path, uint32_t size_if_new, vl_mapping *m) {
    char path[MAX_PATH];
    windows_path(unix_or_windows_path, path, sizeof path);
    char folder[MAX_PATH];
    memcpy(folder, path, sizeof folder);
    char *slash = strrchr(folder, '\\');
    /* Under Wine on Linux: created private, checked as the Linux backend checks it. */
    uint64_t inode = 0;
    int32_t unix_error = 0;
    int32_t unix = vl_unix_private_file(unix_or_windows_path, 0, &inode, &unix_error);
    if (unix > 0) {
        map_failure(m, unix, INVALID_HANDLE_VALUE);
        m->os_error = unix_error;
        return unix;
    }
    if (slash) { *slash = 0; CreateDirectoryA(folder, NULL); }
    HANDLE file = CreateFileA(path, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
                              OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    if (file == INVALID_HANDLE_VALUE)
        return map_failure(m, GetLastError() == ERROR_ACCESS_DENIED ? VL_MAP_NOT_A_FILE : VL_MAP_OPEN_FAILED, file);
    if (unix == VL_UNIX_CHECKED) {
        /* The file opened is the one checked (Wine's file index is the inode): a path
         * swapped for a link or another file in between is refused. */
        BY_HANDLE_FILE_INFORMATION info;
        if (!GetFileInformationByHandle(file, &info)
            || (((uint64_t)info.nFileIndexHigh << 32) | info.nFileIndexLow) != inode)
            return map_failure(m, VL_MAP_SWAPPED, file);
    }
    /* LockFileEx: Wine implements it with fcntl locks, the ones the Linux backend takes. */
    OVERLAPPED whole;
    memset(&whole, 0, sizeof whole);
    if (!LockFileEx(file, LOCKFILE_EXCLUSIVE_LOCK, 0, MAXDWORD, MAXDWORD, &whole)) return map_failure(m, VL_MAP_LOCK_FAILED, file);
    DWORD size = GetFileSize(file, NULL);
    if (size == INVALID_FILE_SIZE) return map_failure(m, VL_MAP_OPEN_FAILED, file);
    if (size == 0) {
        if (SetFilePointer(file, (LONG)size_if_new, NULL, FILE_BEGIN) == INVALID_SET_FILE_POINTER || !SetEndOfFile(file))
            return map_failure(m, VL_MAP_RESIZE_FAILED, file);
        size = size_if_new;
    }
    if (size > (64u << 20)) return map_failure(m, VL_MAP_NOT_A_FILE, file);
    HANDLE mapping = CreateFileMappingA(file, NULL, PAGE_READWRITE, 0, 0, NULL);
    void *base = mapping ? MapViewOfFile(mapping, FILE_MAP_ALL_ACCESS, 0, 0, 0) : NULL;
    if (mapping) CloseHandle(mapping); /* the view keeps the mapping alive */
    if (!base) return map_failure(m, VL_MAP_MAP_FAILED, file);
    memset(m, 0, sizeof *m);
    m->base = base;
    m->size = size;
    m->handle = (intptr_t)file;
    return 0;
}

static void registry_unlock(vl_mapping *m) {
    OVERLAPPED whole;
    memset(&whole, 0, sizeof whole);
    UnlockFileEx((HANDLE)m->handle, 0, MAXDWORD, MAXDWORD, &whole);
}

static void registry_unmap(vl_mapping *m) {
    if (m->base) UnmapViewOfFile(m->base);
    if (m->handle != -1 && m->handle != 0) CloseHandle((HANDLE)m->handle);
    m->base = NULL;
    m->handle = -1;
}

static CRITICAL_SECTION log_lock;
static HANDLE log_file = INVALID_HANDLE_VALUE;

static void log_line(const char *path, const char *line, uint32_t length) {
    EnterCriticalSection(&log_lock);
    if (log_file == INVALID_HANDLE_VALUE) {
        char p[MAX_PATH];
        windows_path(path, p, sizeof p);
        uint64_t inode;
        int32_t unix_error;
        /* Under Wine on Linux the log is created 0600 too (Wine would use the umask). */
        static int refused;
        if (refused || vl_unix_private_file(path, 1, &inode, &unix_error) > 0) {
            if (!refused) {
                refused = 1;
                static const char why[] = "VIRTUALLAN_LOG names a symbolic link, a folder or a file of another user, or one others may read: not logging to it";
                report_error(why, sizeof why - 1);
            }
            LeaveCriticalSection(&log_lock);
            return;
        }
        log_file = CreateFileA(p, FILE_APPEND_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    }
    if (log_file != INVALID_HANDLE_VALUE) {
        DWORD written;
        WriteFile(log_file, line, length, &written, NULL);
        WriteFile(log_file, "\r\n", 2, &written, NULL);
    }
    LeaveCriticalSection(&log_lock);
}

static void report_error(const char *line, uint32_t length) {
    HANDLE err = GetStdHandle(STD_ERROR_HANDLE);
    DWORD written;
    if (err && err != INVALID_HANDLE_VALUE) {
        WriteFile(err, "virtuallan: ", 12, &written, NULL);
        WriteFile(err, line, length, &written, NULL);
        WriteFile(err, "\r\n", 2, &written, NULL);
    }
    char message[1024];
    snprintf(message, sizeof message, "virtuallan: %.*s\n", (int)length, line);
    OutputDebugStringA(message);
}

static CRITICAL_SECTION global_mutex;
static void global_lock(void) { EnterCriticalSection(&global_mutex); }
static void global_unlock(void) { LeaveCriticalSection(&global_mutex); }

static const vl_platform win32_platform = {
    .udp_open = udp_open, .socket_shutdown = socket_shutdown, .socket_close = socket_close,
    .send_frame = send_frame, .receive_frame = receive_frame, .peek_frame = peek_frame,
    .tcp_open = tcp_open, .stream_bind = stream_bind, .stream_listen = stream_listen, .stream_listen_silent = stream_listen_silent, .stream_accept = stream_accept, .stream_accept_into = stream_accept_into,
    .stream_connect = stream_connect, .stream_is_connected = stream_is_connected, .stream_send = stream_send,
    .stream_receive = stream_receive, .stream_send_overlapped = stream_send_overlapped, .set_send_handler = set_send_handler, .stream_set_nonblocking = stream_set_nonblocking, .stream_bytes_readable = stream_bytes_readable,
    .set_receive_buffer = set_receive_buffer, .option_get = option_get, .option_set = option_set, .event_select = event_select, .async_select = async_select,
    .wsarecvmsg_entry = (void *)wsarecvmsg_entry, .wsasendmsg_entry = (void *)wsasendmsg_entry,
    .connectex_entry = (void *)connectex_entry, .acceptex_entry = (void *)acceptex_entry,
    .getacceptexsockaddrs_entry = (void *)getacceptexsockaddrs_entry, .call_accept_condition = call_accept_condition,
    .wait_sockets = wait_sockets, .poll_sockets = poll_sockets, .watch_readable = watch_readable, .set_ready_handler = set_ready_handler,
    .event_create = event_create, .event_close = event_close, .event_set = event_set,
    .event_reset = event_reset, .event_wait = event_wait,
    .current_thread = current_thread, .queue_completion = queue_completion,
    .port_open = port_open, .post_completion = post_completion,
    .winsock_startup = winsock_startup, .winsock_cleanup = winsock_cleanup,
    .get_last_error = get_last_error, .set_last_error = set_last_error,
    .mutex_create = mutex_create, .mutex_lock = mutex_lock, .mutex_unlock = mutex_unlock,
    .timer_start = timer_start, .timer_stop = timer_stop,
    .now_ms = now_ms, .process_id = process_id, .owner_kind = 2, .is_process_alive = is_process_alive,
    .get_env = get_env, .default_registry_path = default_registry_path,
    .registry_map = registry_map, .registry_unlock = registry_unlock, .registry_unmap = registry_unmap,
    .log_line = log_line, .report_error = report_error, .global_lock = global_lock, .global_unlock = global_unlock,
};

void vl_win32_platform_init(void) {
    InitializeCriticalSection(&watch_lock);
    InitializeCriticalSection(&log_lock);
    InitializeCriticalSection(&global_mutex);
}

const vl_platform *vl_default_platform(void) { return &win32_platform; }
#endif
