/* The Win32 backend's backing UDP sockets on 127.0.0.1 (frames sent and received through
 * the original ws2_32), their options, the extension entry points handed out for virtual
 * sockets, select/WSAPoll, and readiness: one watcher thread waiting in select. */
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
#include "win32_parts.h"

/* ---- backing sockets ---- */

/* No WSAStartup of our own: a virtual socket exists only between the game's WSAStartup and
 * its last WSACleanup, which reach the real ws2_32 too (winsock_startup below). A reference
 * of ours would keep the game's TCP sockets open past its last WSACleanup. */
static int32_t udp_open(VL_SOCKET *out, uint16_t *real_port) {
    SOCKET s = vl_original.socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    if (s == INVALID_SOCKET) return vl_win32_last_error();
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
        int32_t e = vl_win32_last_error();
        vl_original.closesocket(s);
        return e;
    }
    *out = (VL_SOCKET)s;
    *real_port = ntohs(a.sin_port);
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
    vl_win32_close_after_operations((SOCKET)s);
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

static int32_t unaddressed_send_error(VL_SOCKET s, int32_t flags, int32_t as_sendto) {
    WSABUF nothing = { 0, NULL };
    DWORD sent = 0;
    int r = as_sendto ? vl_original.WSASendTo((SOCKET)s, &nothing, 1, &sent, (DWORD)flags, NULL, 0, NULL, NULL)
                      : vl_original.WSASend((SOCKET)s, &nothing, 1, &sent, (DWORD)flags, NULL, NULL);
    /* The backing socket has no peer, so the OS cannot have sent; should it say it did,
     * Windows' documented answer stands. */
    if (r == 0) return as_sendto ? VL_WSAEDESTADDRREQ : VL_WSAENOTCONN;
    return vl_win32_last_error();
}

static int32_t unbound_receive_error(int32_t flags) {
    SOCKET probe = vl_original.socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    if (probe == INVALID_SOCKET) return vl_win32_last_error();
    u_long on = 1;
    char byte;
    int r = vl_original.ioctlsocket(probe, FIONBIO, &on);
    if (r == 0) r = vl_original.recvfrom(probe, &byte, 1, flags, NULL, NULL);
    int32_t error = r < 0 ? vl_win32_last_error() : VL_WSAEINVAL; /* nothing was sent to it: Windows' answer */
    vl_original.closesocket(probe);
    return error;
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
        int32_t e = vl_win32_last_error();
        if (e == WSAECONNRESET) return 0;          /* an ICMP from a gone receiver: not our sender's error */
        if (e != WSAEWOULDBLOCK) return e;
        fd_set w; FD_ZERO(&w); FD_SET((SOCKET)s, &w);
        if (vl_original.select(0, NULL, &w, NULL, NULL) < 0) return vl_win32_last_error();
    }
}

/* One receive; `blocking` waits for the datagram with a real overlapped WSARecvFrom on this
 * thread's event: the way Wine's own blocking recv waits, one server call plus the wait
 * (a would-block receive, a select and another receive cost two calls more); for at most
 * `timeout_ms` when it is not 0 (SO_RCVTIMEO), then WSAETIMEDOUT. */
static int32_t receive(SOCKET s, void *header, const VL_WSABUF *buffers, uint32_t count, DWORD flags, vl_received *r, int blocking,
                       uint32_t timeout_ms) {
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
    DWORD received = 0, f = flags, deadline = GetTickCount() + timeout_ms;
    for (;;) {
        WSAOVERLAPPED overlapped;
        memset(&overlapped, 0, sizeof overlapped);
        overlapped.hEvent = thread_event;
        WSAOVERLAPPED *wait = blocking ? &overlapped : NULL;
        int rc = vl_original.WSARecvFrom(s, b, count + 1, &received, &f, (struct sockaddr *)&from, &from_length, wait, NULL);
        int32_t e = rc == 0 ? 0 : vl_win32_last_error();
        while (e == WSA_IO_PENDING || e == WSA_IO_INCOMPLETE) {
            LONG remaining = (LONG)(deadline - GetTickCount());
            if (timeout_ms && (remaining <= 0 || WaitForSingleObject(thread_event, (DWORD)remaining) == WAIT_TIMEOUT)) {
                /* Time is up: cancel it and learn how it ended (a datagram may have come
                 * meanwhile, and then it is the answer). */
                CancelIoEx((HANDLE)s, &overlapped);
                e = vl_original.WSAGetOverlappedResult(s, &overlapped, &received, TRUE, &f) ? 0 : vl_win32_last_error();
                if (e == WSA_OPERATION_ABORTED) return WSAETIMEDOUT;
                break;
            }
            if (!timeout_ms) WaitForSingleObject(thread_event, INFINITE);
            e = vl_original.WSAGetOverlappedResult(s, &overlapped, &received, FALSE, &f) ? 0 : vl_win32_last_error();
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
                             int32_t flags, uint32_t timeout_ms, vl_received *r) {
    return receive((SOCKET)s, header, buffers, count, flags & VL_RECEIVE_PEEK ? MSG_PEEK : 0, r, flags & VL_RECEIVE_BLOCKING,
                   timeout_ms);
}

static int32_t peek_frame(VL_SOCKET s, void *header, vl_received *r) {
    /* The whole datagram must be peeked to learn its length. */
    static __thread char scratch[65536];
    VL_WSABUF rest = { sizeof scratch, scratch };
    return receive((SOCKET)s, header, &rest, 1, MSG_PEEK, r, 0, 0);
}

static int32_t set_receive_buffer(VL_SOCKET s, int32_t bytes) {
    return vl_original.setsockopt((SOCKET)s, SOL_SOCKET, SO_RCVBUF, (const char *)&bytes, sizeof bytes) == 0 ? 0 : vl_win32_last_error();
}

/* WSARecvMsg as WSAIoctl hands it out for every UDP socket (one provider, one function,
 * as on Windows): a virtual socket's is ours, another's the system's. */
int32_t WINAPI vl_win32_recv_msg(VL_SOCKET s, VL_WSAMSG *message, uint32_t *received, VL_OVERLAPPED *overlapped, void *routine) {
    if (!vl_is_virtual_socket(s)) {
        static const GUID id = WSAID_WSARECVMSG;
        static LPFN_WSARECVMSG found;
        if (!found) found = (LPFN_WSARECVMSG)vl_system_extension((SOCKET)s, &id);
        if (!found) { vl_original.WSASetLastError(WSAEOPNOTSUPP); return SOCKET_ERROR; }
        return found((SOCKET)s, (LPWSAMSG)message, (LPDWORD)received, (LPWSAOVERLAPPED)overlapped,
                     (LPWSAOVERLAPPED_COMPLETION_ROUTINE)routine);
    }
    return vl_hook_WSARecvMsg(s, message, received, overlapped, routine);
}
static int32_t WINAPI wsasendmsg_entry(VL_SOCKET s, VL_WSAMSG *message, uint32_t flags, uint32_t *sent, VL_OVERLAPPED *overlapped, void *routine) {
    return vl_hook_WSASendMsg(s, message, flags, sent, overlapped, routine);
}
/* ConnectEx as every program gets it, whichever socket it asked on (one provider: one
 * function for every TCP socket, as on Windows). A virtual socket's is ours; another
 * socket's is the system's, behind the destination guard; so is a bound virtual socket's
 * connecting outside the LAN (handed to the OS, its virtual bind made a real one on
 * 0.0.0.0, which the system's ConnectEx requires). */
int32_t WINAPI vl_win32_connect_ex(VL_SOCKET s, const VL_SOCKADDR_IN *name, int32_t length, const void *data, uint32_t dataLength,
                                   uint32_t *sent, VL_OVERLAPPED *overlapped) {
    if (vl_is_virtual_socket(s) && vl_connect_ex_leaves_lan(s, name, length)) {
        struct sockaddr_in any = {.sin_family = AF_INET};
        if (vl_original.bind((SOCKET)s, (const struct sockaddr *)&any, sizeof any) != 0) return FALSE;
    }
    if (!vl_is_virtual_socket(s))
        return vl_system_connect_ex((SOCKET)s, (const struct sockaddr *)name, length, (PVOID)data, dataLength, (LPDWORD)sent,
                                    (LPOVERLAPPED)overlapped);
    return vl_hook_ConnectEx(s, name, length, data, dataLength, sent, overlapped);
}

/* AcceptEx as WSAIoctl hands it out for every TCP socket: a virtual listener's is ours,
 * another's the system's. GetAcceptExSockaddrs for a virtual listener: ours (it reads the
 * same layout the system's does). */
BOOL WINAPI vl_win32_accept_ex(SOCKET listener, SOCKET acceptor, void *output, DWORD receiveLength, DWORD localLength,
                                  DWORD remoteLength, DWORD *received, OVERLAPPED *overlapped) {
    if (!vl_is_virtual_socket((VL_SOCKET)listener)) {
        LPFN_ACCEPTEX accept_ex = vl_win32_real_accept_ex(listener);
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
    return vl_original.WSAEventSelect((SOCKET)s, (WSAEVENT)event, events) == 0 ? 0 : vl_win32_last_error();
}

static int32_t async_select(VL_SOCKET s, void *window, uint32_t message, int32_t events) {
    return vl_original.WSAAsyncSelect((SOCKET)s, (HWND)window, message, events) == 0 ? 0 : vl_win32_last_error();
}

/* The game's own pointers, as it passed them: ws2_32 judges them and writes the length
 * back on a failure too (SO_PROTOCOL_INFO's size needed, IP_PKTINFO's 0). */
static int32_t option_get(VL_SOCKET s, int32_t level, int32_t name, void *value, int32_t *length) {
    return vl_original.getsockopt((SOCKET)s, level, name, value, (int *)length) == 0 ? 0 : vl_win32_last_error();
}

static int32_t option_set(VL_SOCKET s, int32_t level, int32_t name, const void *value, int32_t length) {
    return vl_original.setsockopt((SOCKET)s, level, name, value, length) == 0 ? 0 : vl_win32_last_error();
}

static int32_t peer_name(VL_SOCKET s, void *name, int32_t *length) {
    return vl_original.getpeername((SOCKET)s, (struct sockaddr *)name, (int *)length) == 0 ? 0 : vl_win32_last_error();
}

static int32_t local_name(VL_SOCKET s, void *name, int32_t *length) {
    return vl_original.getsockname((SOCKET)s, (struct sockaddr *)name, (int *)length) == 0 ? 0 : vl_win32_last_error();
}

static int32_t duplicate_socket(VL_SOCKET s, uint32_t process, void *info, int32_t wide) {
    int failed = wide ? vl_original.WSADuplicateSocketW((SOCKET)s, process, info) : vl_original.WSADuplicateSocketA((SOCKET)s, process, info);
    return failed ? vl_win32_last_error() : 0;
}

static int32_t socket_from_info(void *info, int32_t wide, VL_SOCKET *out) {
    SOCKET copy = wide ? vl_original.WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, info, 0, WSA_FLAG_OVERLAPPED)
                       : vl_original.WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, info, 0, WSA_FLAG_OVERLAPPED);
    if (copy == INVALID_SOCKET) return vl_win32_last_error();
    *out = (VL_SOCKET)copy;
    return 0;
}

static int is_this_process(HANDLE process) {
    return process == GetCurrentProcess() || GetProcessId(process) == GetCurrentProcessId();
}

static uint32_t duplicate_handle(void *source, VL_SOCKET s, void *target, uint32_t access, int32_t inherit, uint32_t options,
                                 VL_SOCKET *out) {
    if (!is_this_process(source)) return ERROR_NOT_SUPPORTED;
    HANDLE copy = NULL;
    if (!vl_original.DuplicateHandle(GetCurrentProcess(), (HANDLE)s, is_this_process(target) ? GetCurrentProcess() : target, &copy,
                                     access, inherit, options & ~DUPLICATE_CLOSE_SOURCE))
        return GetLastError();
    *out = (VL_SOCKET)copy;
    return 0;
}

static int32_t handle_inheritable(VL_SOCKET s) {
    DWORD flags = 0;
    return GetHandleInformation((HANDLE)s, &flags) && (flags & HANDLE_FLAG_INHERIT) ? 1 : 0;
}

static void handle_set_inheritable(VL_SOCKET s, int32_t inheritable) {
    SetHandleInformation((HANDLE)s, HANDLE_FLAG_INHERIT, inheritable ? HANDLE_FLAG_INHERIT : 0);
}

static int32_t ioctl_original(VL_SOCKET s, uint32_t code, void *input, uint32_t input_length,
                              void *output, uint32_t output_length, uint32_t *returned) {
    DWORD size = *returned;
    int failed = vl_original.WSAIoctl((SOCKET)s, code, input, input_length, output, output_length, &size, NULL, NULL) != 0;
    *returned = size;
    return failed ? vl_win32_last_error() : 0;
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
    if (n < 0) return -vl_win32_last_error();
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
    return n < 0 ? -vl_win32_last_error() : n;
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

/* This file's entries of the table. */
void vl_win32_fill_sockets(vl_platform *p) {
    InitializeCriticalSection(&watch_lock);
    p->udp_open = udp_open; p->socket_shutdown = socket_shutdown; p->socket_close = socket_close;
    p->send_frame = send_frame; p->receive_frame = receive_frame; p->peek_frame = peek_frame;
    p->unaddressed_send_error = unaddressed_send_error; p->unbound_receive_error = unbound_receive_error;
    p->set_receive_buffer = set_receive_buffer; p->option_get = option_get; p->option_set = option_set;
    p->ioctl_original = ioctl_original; p->peer_name = peer_name; p->local_name = local_name;
    p->duplicate_socket = duplicate_socket; p->socket_from_info = socket_from_info; p->duplicate_handle = duplicate_handle;
    p->handle_inheritable = handle_inheritable; p->handle_set_inheritable = handle_set_inheritable;
    p->event_select = event_select; p->async_select = async_select;
    p->wsarecvmsg_entry = (void *)vl_win32_recv_msg; p->wsasendmsg_entry = (void *)wsasendmsg_entry;
    p->connectex_entry = (void *)vl_win32_connect_ex; p->acceptex_entry = (void *)vl_win32_accept_ex;
    p->getacceptexsockaddrs_entry = (void *)getacceptexsockaddrs_entry; p->call_accept_condition = call_accept_condition;
    p->wait_sockets = wait_sockets; p->poll_sockets = poll_sockets; p->watch_readable = watch_readable;
    p->set_ready_handler = set_ready_handler;
}
#endif
