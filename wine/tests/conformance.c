/* conformance.exe: Winsock checks on UDP sockets, one line per check:
 *     C <area>.<name> <outcome>
 * where the outcome is what the calls answered (return values, error codes, bytes, the
 * parts of addresses that do not depend on the machine). wine/conformance_test.py runs it
 * under Wine without the DLL and with it, and compares the lines check by check: every
 * difference must be an intended one of the virtual identity (docs/CONFORMANCE.md).
 * It only talks to itself: every datagram goes to 127.0.0.1, to a port of its own.
 * The last line is "DONE <count>". */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <iphlpapi.h>
#include <mswsock.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conformance.h"

static int checks;
static const char *last_check = "(none)";

/* The last resort against a hang the per-call guards do not cover: no check for 20 s
 * ends the run with a line naming the last check that finished. */
static DWORD WINAPI progress_watch(void *unused) {
    (void)unused;
    int seen = -1;
    for (;;) {
        Sleep(20000);
        if (checks == seen) {
            printf("HUNG after %s\n", last_check);
            fflush(stdout);
            ExitProcess(3);
        }
        seen = checks;
    }
}

void check(const char *id, const char *format, ...) {
    char outcome[512];
    va_list args;
    va_start(args, format);
    vsnprintf(outcome, sizeof outcome, format, args);
    va_end(args);
    printf("C %s %s\n", id, outcome);
    fflush(stdout);
    last_check = id;
    checks++;
}

/* "0" or "-1/10048": a call's result and, on failure, its error. */
const char *rc(int result) {
    static char text[8][32];
    static int next;
    char *t = text[next++ % 8];
    if (result == NOT_READABLE) snprintf(t, 32, "not-readable");
    else if (result == SOCKET_ERROR) snprintf(t, 32, "-1/%d", WSAGetLastError());
    else snprintf(t, 32, "%d", result);
    return t;
}

struct sockaddr_in address(const char *ip, unsigned short port) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = inet_addr(ip);
    a.sin_port = htons(port);
    return a;
}

SOCKET udp(void) { return socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP); }

/* A UDP socket bound to ip:port (port 0: any), or INVALID_SOCKET. */
SOCKET bound(const char *ip, unsigned short port) {
    SOCKET s = udp();
    struct sockaddr_in a = address(ip, port);
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0) {
        closesocket(s);
        return INVALID_SOCKET;
    }
    return s;
}

unsigned short port_of(SOCKET s) {
    struct sockaddr_in a;
    int length = sizeof a;
    if (getsockname(s, (struct sockaddr *)&a, &length) != 0) return 0;
    return ntohs(a.sin_port);
}

/* Where a socket sends to itself. */
struct sockaddr_in self(SOCKET s) { return address("127.0.0.1", port_of(s)); }

int send_to(SOCKET s, struct sockaddr_in to, const char *data, int length) {
    return sendto(s, data, length, 0, (struct sockaddr *)&to, sizeof to);
}

/* Waits (bounded) until s is readable: 1, or 0 after a second. */
int readable(SOCKET s) {
    fd_set set;
    FD_ZERO(&set);
    FD_SET(s, &set);
    struct timeval second = { 1, 0 };
    return select(0, &set, NULL, NULL, &second) == 1;
}

void nonblocking(SOCKET s, u_long on) { ioctlsocket(s, FIONBIO, &on); }

WSAMSG message_into(struct sockaddr_in *from, WSABUF *buffer, char *control, ULONG control_length) {
    WSAMSG message;
    memset(&message, 0, sizeof message);
    memset(from, 0, sizeof *from);
    message.name = (struct sockaddr *)from;
    message.namelen = sizeof *from;
    message.lpBuffers = buffer;
    message.dwBufferCount = 1;
    message.Control.buf = control;
    message.Control.len = control_length;
    return message;
}

/* A receive that waits first (bounded): NOT_READABLE when nothing came, so a missing
 * datagram is an outcome, never a hang. */
int recv_ready(SOCKET s, char *buffer, int length, int flags, struct sockaddr_in *from, int *from_length) {
    if (!readable(s)) return NOT_READABLE;
    return recvfrom(s, buffer, length, flags, (struct sockaddr *)from, from_length);
}

/* For a receive that is meant to block: after 3 s it is ended (a datagram to it, or its
 * socket closed), so a receive that does not end by itself shows in the outcome. */
static DWORD WINAPI watch(void *context) {
    watchdog *w = context;
    if (WaitForSingleObject(w->disarm, 3000) != WAIT_TIMEOUT) return 0;
    w->fired = 1;
    if (w->close) { closesocket(w->s); return 0; }
    SOCKET k = udp();
    struct sockaddr_in to = address("127.0.0.1", 0);
    struct sockaddr_in name;
    int length = sizeof name;
    if (getsockname(w->s, (struct sockaddr *)&name, &length) == 0) to.sin_port = name.sin_port;
    sendto(k, "wake", 4, 0, (struct sockaddr *)&to, sizeof to);
    closesocket(k);
    return 0;
}

void arm(watchdog *w, HANDLE *thread, SOCKET s, int close) {
    w->s = s;
    w->close = close;
    w->fired = 0;
    w->disarm = CreateEventA(NULL, TRUE, FALSE, NULL);
    *thread = CreateThread(NULL, 0, watch, w, 0, NULL);
}

void disarm(watchdog *w, HANDLE thread) {
    SetEvent(w->disarm);
    WaitForSingleObject(thread, INFINITE);
    CloseHandle(thread);
    CloseHandle(w->disarm);
}

/* recvfrom under a watchdog (`close`: it closes the socket, else wakes it with a
 * datagram); *fired says whether the receive had to be ended that way. */
int guarded_recvfrom(SOCKET s, char *buffer, int length, int flags, int close, int *fired) {
    watchdog w;
    HANDLE thread;
    arm(&w, &thread, s, close);
    int r = recvfrom(s, buffer, length, flags, NULL, NULL);
    disarm(&w, thread);
    *fired = w.fired;
    return r;
}

/* ---- creating sockets ---- */
static void creating(void) {
    SOCKET s = socket(AF_INET, SOCK_DGRAM, 0);
    check("socket.dgram-default-protocol", "%s", s == INVALID_SOCKET ? rc(-1) : "valid");
    closesocket(s);
    s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    check("socket.dgram-udp", "%s", s == INVALID_SOCKET ? rc(-1) : "valid");
    closesocket(s);
    s = WSASocketW(AF_INET, SOCK_DGRAM, IPPROTO_UDP, NULL, 0, WSA_FLAG_OVERLAPPED);
    check("socket.wsasocketw-overlapped", "%s", s == INVALID_SOCKET ? rc(-1) : "valid");
    closesocket(s);
    s = WSASocketA(AF_INET, SOCK_DGRAM, IPPROTO_UDP, NULL, 0, 0);
    check("socket.wsasocketa", "%s", s == INVALID_SOCKET ? rc(-1) : "valid");
    closesocket(s);
    s = socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP);
    check("socket.dgram-tcp-protocol", "%s", s == INVALID_SOCKET ? rc(-1) : "valid");
    if (s != INVALID_SOCKET) closesocket(s);
    s = socket(12345, SOCK_DGRAM, 0);
    check("socket.unknown-family", "%s", s == INVALID_SOCKET ? rc(-1) : "valid");
    if (s != INVALID_SOCKET) closesocket(s);
    s = socket(AF_INET, 77, 0);
    check("socket.unknown-type", "%s", s == INVALID_SOCKET ? rc(-1) : "valid");
    if (s != INVALID_SOCKET) closesocket(s);
    s = socket(AF_INET, SOCK_STREAM, 0);
    check("socket.tcp-beside", "%s", s == INVALID_SOCKET ? rc(-1) : "valid");
    if (s != INVALID_SOCKET) closesocket(s);
}

/* ---- bind ---- */
static void binding(void) {
    SOCKET s = udp();
    struct sockaddr_in a;
    int length = sizeof a;
    check("bind.getsockname-before", "%s", rc(getsockname(s, (struct sockaddr *)&a, &length)));
    a = address("0.0.0.0", 0);
    check("bind.any-port-0", "%s", rc(bind(s, (struct sockaddr *)&a, sizeof a)));
    length = sizeof a;
    memset(&a, 0xEE, sizeof a);
    int r = getsockname(s, (struct sockaddr *)&a, &length);
    check("bind.getsockname-any", "%s family=%d addr=%s port=%s length=%d", rc(r), a.sin_family, inet_ntoa(a.sin_addr),
          a.sin_port ? "ephemeral" : "0", length);
    check("bind.ephemeral-range", "%s", ntohs(a.sin_port) >= 1024 ? "high" : "low");
    a = address("0.0.0.0", 0);
    check("bind.twice", "%s", rc(bind(s, (struct sockaddr *)&a, sizeof a)));
    closesocket(s);

    s = udp();
    a = address("0.0.0.0", 0);
    check("bind.short-length", "%s", rc(bind(s, (struct sockaddr *)&a, 8)));
    check("bind.null-address", "%s", rc(bind(s, NULL, sizeof a)));
    a.sin_family = AF_INET6;
    check("bind.wrong-family", "%s", rc(bind(s, (struct sockaddr *)&a, sizeof a)));
    closesocket(s);
    s = udp();
    a = address("10.213.77.5", 0);
    check("bind.not-a-local-address", "%s", rc(bind(s, (struct sockaddr *)&a, sizeof a)));
    closesocket(s);
    s = udp();
    a = address("127.0.0.1", 0);
    check("bind.loopback", "%s", rc(bind(s, (struct sockaddr *)&a, sizeof a)));
    length = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &length);
    check("bind.getsockname-loopback", "addr=%s", inet_ntoa(a.sin_addr));
    length = 4;
    int r0 = getsockname(s, (struct sockaddr *)&a, &length); /* called before its outputs are read */
    check("bind.getsockname-short", "%s length=%d", rc(r0), length);
    /* (getsockname with a NULL length: Wine 8 crashes, Windows says WSAEFAULT: not checked) */
    closesocket(s);

    /* A fixed port twice, with and without SO_REUSEADDR. */
    SOCKET first = bound("0.0.0.0", 47301);
    check("bind.fixed-port", "%s", first == INVALID_SOCKET ? rc(-1) : "bound");
    s = udp();
    a = address("0.0.0.0", 47301);
    check("bind.fixed-port-in-use", "%s", rc(bind(s, (struct sockaddr *)&a, sizeof a)));
    closesocket(s);
    s = udp();
    a = address("127.0.0.1", 47301);
    check("bind.fixed-port-in-use-loopback", "%s", rc(bind(s, (struct sockaddr *)&a, sizeof a)));
    closesocket(s);
    closesocket(first);
    s = udp();
    a = address("0.0.0.0", 47301);
    check("bind.fixed-port-after-close", "%s", rc(bind(s, (struct sockaddr *)&a, sizeof a)));
    closesocket(s);

    BOOL on = TRUE;
    SOCKET x = udp(), y = udp();
    setsockopt(x, SOL_SOCKET, SO_REUSEADDR, (const char *)&on, sizeof on);
    setsockopt(y, SOL_SOCKET, SO_REUSEADDR, (const char *)&on, sizeof on);
    a = address("0.0.0.0", 47302);
    check("bind.reuseaddr-first", "%s", rc(bind(x, (struct sockaddr *)&a, sizeof a)));
    check("bind.reuseaddr-second", "%s", rc(bind(y, (struct sockaddr *)&a, sizeof a)));
    closesocket(x);
    closesocket(y);
    x = udp();
    y = udp();
    setsockopt(y, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, (const char *)&on, sizeof on);
    check("bind.exclusive-first", "%s", rc(bind(y, (struct sockaddr *)&a, sizeof a)));
    setsockopt(x, SOL_SOCKET, SO_REUSEADDR, (const char *)&on, sizeof on);
    check("bind.reuse-against-exclusive", "%s", rc(bind(x, (struct sockaddr *)&a, sizeof a)));
    closesocket(x);
    closesocket(y);
}

#ifndef POINTER_SWEEP
/* WSAStartup with the versions Wine's protocol.c asks for (one of ours is in force: each
 * success is undone at once): the answer, the version granted, what WSADATA says, and
 * lpVendorInfo left alone. */
static void startup_versions(void) {
    static const WORD versions[] = { 0x0000, 0x0100, 0x0001, 0x0101, 0x0201, 0x0002, 0x0202, 0x0302, 0x0003 };
    for (int i = 0; i < (int)(sizeof versions / sizeof versions[0]); i++) {
        WSADATA data;
        static char names[16][32];  /* kept: the progress watch names the last check */
        char *name = names[i];
        memset(&data, 0xcc, sizeof data);
        data.lpVendorInfo = (char *)0xdeadbeef;
        int r = WSAStartup(versions[i], &data);
        snprintf(name, sizeof names[i], "startup.version-0x%04x", versions[i]);
        check(name, "%d version=0x%x high=0x%x sockets=%u datagram=%u vendor-kept=%d description=%s", r, data.wVersion,
              data.wHighVersion, data.iMaxSockets, data.iMaxUdpDg, data.lpVendorInfo == (char *)0xdeadbeef, data.szDescription);
        if (r == 0) WSACleanup();
    }
    check("startup.null-data", "%d %d", WSAStartup(MAKEWORD(2, 2), NULL), WSAStartup(MAKEWORD(0, 1), NULL));
}
#endif

int main(int argc, char **argv) {
    WSADATA data;
#ifndef POINTER_SWEEP
    /* The child child_checks starts: it prints nothing, it answers over its pipe. */
    if (argc == 3 && strcmp(argv[1], "--socket-child") == 0) {
        WSAStartup(MAKEWORD(2, 2), &data);
        return socket_child(argv[2]);
    }
#endif
    (void)argc; (void)argv;
    CreateThread(NULL, 0, progress_watch, NULL, 0, NULL);
    int r = WSAStartup(MAKEWORD(2, 2), &data);
    check("startup.wsastartup", "%d version=0x%x", r, data.wVersion);
#ifdef POINTER_SWEEP
    /* pointers.exe: the same program, only the sweep (conformance_pointers.c). */
    pointer_sweep();
#else
    startup_versions();
    creating();
    binding();
    datagrams();
    nonblocking_mode();
    connected();
    options();
    option_sweep();
    selecting();
    event_select_checks();
    async_select_checks();
    wsa_calls();
    ioctls();
    recvmsg_checks();
    overlapped_checks();
    completion_port_checks();
    file_checks();
    coexist_checks();
    message_checks();
    iphlp_checks();
    mixed_wait_checks();
    handle_checks();
    child_checks();
    surface_checks();
    tcp_checks();
    dual_stack_checks();
    identity_checks();
    errors();
#endif
    check("startup.wsacleanup", "%s", rc(WSACleanup()));
    printf("DONE %d\n", checks + 1);
    fflush(stdout);
    return 0;
}
