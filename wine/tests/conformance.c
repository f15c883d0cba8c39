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

/* ---- sendto / recvfrom on one socket talking to itself ---- */
static void datagrams(void) {
    SOCKET s = bound("0.0.0.0", 0);
    struct sockaddr_in to = self(s), from;
    char buffer[2048];
    int length;
    check("dgram.sendto-self", "%s", rc(send_to(s, to, "hello", 5)));
    length = sizeof from;
    memset(&from, 0, sizeof from);
    int r = recv_ready(s, buffer, sizeof buffer, 0, &from, &length);
    check("dgram.recvfrom-self", "%s data=%.*s from=%s port=%s length=%d", rc(r), r > 0 ? r : 0, buffer,
          inet_ntoa(from.sin_addr), ntohs(from.sin_port) == port_of(s) ? "own" : "other", length);

    check("dgram.zero-length-send", "%s", rc(send_to(s, to, "", 0)));
    check("dgram.zero-length-recv", "%s", rc(recv_ready(s, buffer, sizeof buffer, 0, NULL, NULL)));

    send_to(s, to, "0123456789", 10);
    memset(buffer, 0, sizeof buffer);
    r = recv_ready(s, buffer, 4, 0, NULL, NULL);
    check("dgram.truncated", "%s kept=%.4s", rc(r), buffer);
    nonblocking(s, 1);
    check("dgram.truncated-rest-discarded", "%s", rc(recvfrom(s, buffer, sizeof buffer, 0, NULL, NULL)));
    nonblocking(s, 0);

    send_to(s, to, "abc", 3);
    length = 4;
    r = recv_ready(s, buffer, sizeof buffer, 0, &from, &length);
    check("dgram.recvfrom-short-fromlen", "%s", rc(r));
    nonblocking(s, 1);
    r = recvfrom(s, buffer, sizeof buffer, 0, NULL, NULL);
    check("dgram.after-short-fromlen", "%s", rc(r));
    nonblocking(s, 0);

    send_to(s, to, "peek", 4);
    r = recv_ready(s, buffer, sizeof buffer, MSG_PEEK, NULL, NULL);
    check("dgram.peek", "%s data=%.*s", rc(r), r > 0 ? r : 0, buffer);
    r = recv_ready(s, buffer, sizeof buffer, 0, NULL, NULL);
    check("dgram.after-peek", "%s data=%.*s", rc(r), r > 0 ? r : 0, buffer);

    check("dgram.send-oob", "%s", rc(sendto(s, "x", 1, MSG_OOB, (struct sockaddr *)&to, sizeof to)));
    int fired;
    r = guarded_recvfrom(s, buffer, sizeof buffer, MSG_OOB, 0, &fired);
    check("dgram.recv-oob", "%s%s", rc(r), fired ? " (blocked until woken)" : "");
    check("dgram.sendto-unconnected-no-address", "%s", rc(sendto(s, "x", 1, 0, NULL, 0)));
    check("dgram.send-unconnected", "%s", rc(send(s, "x", 1, 0)));
    check("dgram.sendto-short-tolen", "%s", rc(sendto(s, "x", 1, 0, (struct sockaddr *)&to, 8)));
    struct sockaddr_in zero = address("127.0.0.1", 0);
    check("dgram.sendto-port-0", "%s", rc(send_to(s, zero, "x", 1)));
    static char big[70000];
    check("dgram.sendto-70000", "%s", rc(send_to(s, to, big, sizeof big)));
    check("dgram.sendto-65507", "%s", rc(send_to(s, to, big, 65507)));
    check("dgram.sendto-65508", "%s", rc(send_to(s, to, big, 65508)));
    check("dgram.sendto-negative-length", "%s", rc(sendto(s, big, -1, 0, (struct sockaddr *)&to, sizeof to)));
    nonblocking(s, 1);
    while (recvfrom(s, buffer, sizeof buffer, 0, NULL, NULL) >= 0) {}
    nonblocking(s, 0);
    closesocket(s);

    /* An unbound socket is bound by its first sendto. */
    s = udp();
    SOCKET receiver = bound("0.0.0.0", 0);
    check("dgram.sendto-unbound", "%s", rc(send_to(s, self(receiver), "auto", 4)));
    struct sockaddr_in a;
    length = sizeof a;
    r = getsockname(s, (struct sockaddr *)&a, &length);
    check("dgram.implicit-bind", "%s addr=%s port=%s", rc(r), inet_ntoa(a.sin_addr), a.sin_port ? "ephemeral" : "0");
    length = sizeof from;
    r = recv_ready(receiver, buffer, sizeof buffer, 0, &from, &length);
    check("dgram.from-implicit", "%s from=%s port-matches=%d", rc(r), inet_ntoa(from.sin_addr), from.sin_port == a.sin_port);
    closesocket(s);
    closesocket(receiver);

    s = udp();
    r = guarded_recvfrom(s, buffer, sizeof buffer, 0, 1, &fired);
    check("dgram.recvfrom-unbound", "%s%s", rc(r), fired ? " (blocked until closed)" : "");
    if (!fired) closesocket(s);
}

/* ---- non-blocking mode, FIONREAD ---- */
static void nonblocking_mode(void) {
    SOCKET s = bound("0.0.0.0", 0);
    char buffer[256];
    u_long value = 1;
    check("nbio.fionbio-on", "%s", rc(ioctlsocket(s, FIONBIO, &value)));
    check("nbio.recv-empty", "%s", rc(recvfrom(s, buffer, sizeof buffer, 0, NULL, NULL)));
    check("nbio.recv-empty-recv", "%s", rc(recv(s, buffer, sizeof buffer, 0)));
    value = 99;
    int r0 = ioctlsocket(s, FIONREAD, &value);
    check("nbio.fionread-empty", "%s value=%lu", rc(r0), value);
    struct sockaddr_in to = self(s);
    send_to(s, to, "12345", 5);
    send_to(s, to, "1234567", 7);
    readable(s);
    Sleep(50); /* both datagrams are sent to ourselves over loopback: the second is queued by now */
    value = 0;
    r0 = ioctlsocket(s, FIONREAD, &value);
    check("nbio.fionread-two-queued", "%s value=%lu", rc(r0), value);
    check("nbio.recv-first", "%s", rc(recvfrom(s, buffer, sizeof buffer, 0, NULL, NULL)));
    check("nbio.recv-second", "%s", rc(recvfrom(s, buffer, sizeof buffer, 0, NULL, NULL)));
    check("nbio.recv-drained", "%s", rc(recvfrom(s, buffer, sizeof buffer, 0, NULL, NULL)));
    value = 0;
    check("nbio.fionbio-off", "%s", rc(ioctlsocket(s, FIONBIO, &value)));
    check("nbio.unknown-ioctl", "%s", rc(ioctlsocket(s, 0x4004667e, &value)));
    check("nbio.fionread-null", "%s", rc(ioctlsocket(s, FIONREAD, NULL)));
    closesocket(s);
}

/* ---- connected UDP ---- */
static void connected(void) {
    SOCKET a = bound("0.0.0.0", 0), b = bound("0.0.0.0", 0), c = bound("0.0.0.0", 0);
    struct sockaddr_in to_b = self(b), peer, name;
    char buffer[256];
    int length = sizeof peer;
    check("connect.getpeername-before", "%s", rc(getpeername(a, (struct sockaddr *)&peer, &length)));
    check("connect.to-peer", "%s", rc(connect(a, (struct sockaddr *)&to_b, sizeof to_b)));
    length = sizeof peer;
    int r = getpeername(a, (struct sockaddr *)&peer, &length);
    check("connect.getpeername", "%s addr=%s port-matches=%d", rc(r), inet_ntoa(peer.sin_addr), peer.sin_port == to_b.sin_port);
    length = sizeof name;
    r = getsockname(a, (struct sockaddr *)&name, &length);
    check("connect.getsockname-after", "%s addr=%s", rc(r), inet_ntoa(name.sin_addr));
    check("connect.send", "%s", rc(send(a, "via-send", 8, 0)));
    r = readable(b) ? recv(b, buffer, sizeof buffer, 0) : NOT_READABLE;
    check("connect.peer-got-it", "%s data=%.*s", rc(r), r > 0 ? r : 0, buffer);
    struct sockaddr_in to_a = self(a);
    send_to(c, to_a, "stranger", 8);
    send_to(b, to_a, "friend", 6);
    readable(a);
    Sleep(50);
    nonblocking(a, 1);
    r = recv(a, buffer, sizeof buffer, 0);
    check("connect.filters-other-senders", "%s data=%.*s", rc(r), r > 0 ? r : 0, buffer);
    check("connect.nothing-else", "%s", rc(recv(a, buffer, sizeof buffer, 0)));
    nonblocking(a, 0);
    struct sockaddr_in to_c = self(c);
    check("connect.sendto-other-while-connected", "%s", rc(send_to(a, to_c, "x", 1)));
    struct sockaddr_in zero = address("127.0.0.1", 0);
    check("connect.port-0", "%s", rc(connect(a, (struct sockaddr *)&zero, sizeof zero)));
    struct sockaddr_in any = address("0.0.0.0", port_of(b));
    check("connect.any-address", "%s", rc(connect(a, (struct sockaddr *)&any, sizeof any)));
    struct sockaddr_in unspec;
    memset(&unspec, 0, sizeof unspec);
    unspec.sin_family = AF_UNSPEC;
    check("connect.unspec-disconnects", "%s", rc(connect(a, (struct sockaddr *)&unspec, sizeof unspec)));
    length = sizeof peer;
    check("connect.getpeername-after-disconnect", "%s", rc(getpeername(a, (struct sockaddr *)&peer, &length)));
    check("connect.send-after-disconnect", "%s", rc(send(a, "x", 1, 0)));
    check("connect.short-length", "%s", rc(connect(a, (struct sockaddr *)&to_b, 8)));
    SOCKET fresh = udp();
    check("connect.unbound", "%s", rc(connect(fresh, (struct sockaddr *)&to_b, sizeof to_b)));
    length = sizeof name;
    r = getsockname(fresh, (struct sockaddr *)&name, &length);
    check("connect.unbound-now-bound", "%s addr=%s port=%s", rc(r), inet_ntoa(name.sin_addr), name.sin_port ? "ephemeral" : "0");
    closesocket(fresh);
    nonblocking(b, 1);
    while (recv(b, buffer, sizeof buffer, 0) >= 0) {}
    closesocket(a);
    closesocket(b);
    closesocket(c);
}

/* ---- socket options ---- */
static void int_option(const char *id, SOCKET s, int level, int name) {
    int value = -7;
    int length = sizeof value;
    int r = getsockopt(s, level, name, (char *)&value, &length);
    check(id, "%s value=%d length=%d", rc(r), r == 0 ? value : -7, length);
}

static void set_then_get(const char *id, SOCKET s, int level, int name, int set) {
    int r = setsockopt(s, level, name, (const char *)&set, sizeof set);
    int value = -7;
    int length = sizeof value;
    int g = getsockopt(s, level, name, (char *)&value, &length);
    check(id, "set=%s get=%s value=%d", rc(r), rc(g), g == 0 ? value : -7);
}

static void options(void) {
    SOCKET s = bound("0.0.0.0", 0);
    int_option("opt.so-type", s, SOL_SOCKET, SO_TYPE);
    int_option("opt.so-broadcast-default", s, SOL_SOCKET, SO_BROADCAST);
    set_then_get("opt.so-broadcast-set", s, SOL_SOCKET, SO_BROADCAST, 1);
    int_option("opt.so-reuseaddr-default", s, SOL_SOCKET, SO_REUSEADDR);
    int_option("opt.so-error", s, SOL_SOCKET, SO_ERROR);
    int_option("opt.so-rcvtimeo-default", s, SOL_SOCKET, SO_RCVTIMEO);
    set_then_get("opt.so-rcvtimeo-set", s, SOL_SOCKET, SO_RCVTIMEO, 300);
    set_then_get("opt.so-sndtimeo-set", s, SOL_SOCKET, SO_SNDTIMEO, 300);
    set_then_get("opt.so-rcvbuf-set", s, SOL_SOCKET, SO_RCVBUF, 32768);
    set_then_get("opt.so-sndbuf-set", s, SOL_SOCKET, SO_SNDBUF, 32768);
    set_then_get("opt.so-dontroute", s, SOL_SOCKET, SO_DONTROUTE, 1);
    int_option("opt.so-keepalive-udp", s, SOL_SOCKET, SO_KEEPALIVE);
    int_option("opt.so-acceptconn", s, SOL_SOCKET, SO_ACCEPTCONN);
    int_option("opt.so-exclusiveaddruse-default", s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE);
    struct linger linger = { 1, 5 };
    check("opt.so-linger-udp", "%s", rc(setsockopt(s, SOL_SOCKET, SO_LINGER, (const char *)&linger, sizeof linger)));
    int_option("opt.unknown-sol-socket", s, SOL_SOCKET, 0x7777);
    int_option("opt.unknown-level", s, 0x6543, 1);
    int value = 0, length = 2;
    check("opt.getsockopt-short", "%s", rc(getsockopt(s, SOL_SOCKET, SO_TYPE, (char *)&value, &length)));
    check("opt.setsockopt-short", "%s", rc(setsockopt(s, SOL_SOCKET, SO_BROADCAST, (const char *)&value, 2)));
    check("opt.getsockopt-null-length", "%s", rc(getsockopt(s, SOL_SOCKET, SO_TYPE, (char *)&value, NULL)));
    WSAPROTOCOL_INFOW info;
    length = sizeof info;
    int r = getsockopt(s, SOL_SOCKET, SO_PROTOCOL_INFOW, (char *)&info, &length);
    check("opt.so-protocol-infow", "%s af=%d type=%d protocol=%d", rc(r), r == 0 ? info.iAddressFamily : -1,
          r == 0 ? info.iSocketType : -1, r == 0 ? info.iProtocol : -1);
    int_option("opt.ip-ttl-default", s, IPPROTO_IP, IP_TTL);
    set_then_get("opt.ip-ttl-set", s, IPPROTO_IP, IP_TTL, 33);
    set_then_get("opt.ip-tos-set", s, IPPROTO_IP, IP_TOS, 16);
    set_then_get("opt.ip-dontfragment-set", s, IPPROTO_IP, IP_DONTFRAGMENT, 1);
    set_then_get("opt.ip-pktinfo-set", s, IPPROTO_IP, IP_PKTINFO, 1);
    int_option("opt.ip-multicast-ttl-default", s, IPPROTO_IP, IP_MULTICAST_TTL);
    set_then_get("opt.ip-multicast-ttl-set", s, IPPROTO_IP, IP_MULTICAST_TTL, 4);
    int_option("opt.ip-multicast-loop-default", s, IPPROTO_IP, IP_MULTICAST_LOOP);
    int_option("opt.udp-nochecksum", s, IPPROTO_UDP, UDP_NOCHECKSUM);

    /* SO_RCVTIMEO is honoured by blocking receives. */
    DWORD timeout = 200;
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (const char *)&timeout, sizeof timeout);
    char buffer[16];
    int fired;
    DWORD started = GetTickCount();
    r = guarded_recvfrom(s, buffer, sizeof buffer, 0, 0, &fired);
    DWORD took = GetTickCount() - started;
    check("opt.rcvtimeo-honoured", "%s waited=%s", rc(r), took >= 150 && took < 2000 ? "about-200ms" : fired ? "until-woken" : "other");
    closesocket(s);
}

/* ---- every other option's default, by level: these are handed on to the backing
 * socket (or refused), so each must answer as a plain socket does. The options the
 * virtual socket answers itself have checks of their own above. ---- */
static void option_sweep(void) {
    static const struct { const char *name; int level, option; } table[] = {
        { "so-debug", SOL_SOCKET, SO_DEBUG }, { "so-useloopback", SOL_SOCKET, SO_USELOOPBACK },
        { "so-linger", SOL_SOCKET, SO_LINGER }, { "so-oobinline", SOL_SOCKET, SO_OOBINLINE },
        { "so-dontlinger", SOL_SOCKET, SO_DONTLINGER }, { "so-sndlowat", SOL_SOCKET, SO_SNDLOWAT },
        { "so-rcvlowat", SOL_SOCKET, SO_RCVLOWAT }, { "so-group-id", SOL_SOCKET, SO_GROUP_ID },
        { "so-group-priority", SOL_SOCKET, SO_GROUP_PRIORITY }, { "so-protocol-infoa", SOL_SOCKET, SO_PROTOCOL_INFOA },
        { "so-conditional-accept", SOL_SOCKET, SO_CONDITIONAL_ACCEPT }, { "so-pause-accept", SOL_SOCKET, 0x3003 },
        { "so-compartment-id", SOL_SOCKET, 0x3004 }, { "so-randomize-port", SOL_SOCKET, 0x3005 },
        { "so-port-scalability", SOL_SOCKET, 0x3006 }, { "so-connect-time", SOL_SOCKET, SO_CONNECT_TIME },
        { "so-bsp-state", SOL_SOCKET, 0x1009 },
        { "ip-options", IPPROTO_IP, IP_OPTIONS }, { "ip-hdrincl", IPPROTO_IP, IP_HDRINCL },
        { "ip-tos", IPPROTO_IP, IP_TOS }, { "ip-dontfragment", IPPROTO_IP, IP_DONTFRAGMENT },
        { "ip-pktinfo", IPPROTO_IP, IP_PKTINFO }, { "ip-recvttl", IPPROTO_IP, 21 },
        { "ip-receive-broadcast", IPPROTO_IP, 22 }, { "ip-recvif", IPPROTO_IP, 24 },
        { "ip-recvdstaddr", IPPROTO_IP, 25 }, { "ip-iflist", IPPROTO_IP, 28 },
        { "ip-unicast-if", IPPROTO_IP, 31 }, { "ip-recvtos", IPPROTO_IP, 40 },
        { "ip-mtu-discover", IPPROTO_IP, 71 }, { "ip-mtu", IPPROTO_IP, 73 }, { "ip-recverr", IPPROTO_IP, 75 },
        { "ip-add-membership", IPPROTO_IP, IP_ADD_MEMBERSHIP }, { "ip-drop-membership", IPPROTO_IP, IP_DROP_MEMBERSHIP },
        { "udp-checksum-coverage", IPPROTO_UDP, 20 }, { "tcp-nodelay-on-udp", IPPROTO_TCP, TCP_NODELAY },
        { "ipv6-v6only-on-ipv4", IPPROTO_IPV6, IPV6_V6ONLY },
    };
    SOCKET s = bound("0.0.0.0", 0);
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        char id[64];
        snprintf(id, sizeof id, "sweep.get-%s", table[i].name);
        int value[128];
        memset(value, 0, sizeof value);
        int length = sizeof value;
        int r = getsockopt(s, table[i].level, table[i].option, (char *)value, &length);
        if (r == 0 && length == 4) check(id, "0 length=4 value=%d", value[0]);
        else check(id, "%s length=%d", rc(r), r == 0 ? length : -1);
    }
    closesocket(s);
}

/* ---- select ---- */
static void selecting(void) {
    SOCKET s = bound("0.0.0.0", 0);
    fd_set readers, writers;
    struct timeval zero = { 0, 0 };
    FD_ZERO(&readers);
    FD_SET(s, &readers);
    check("select.nothing-readable", "%s", rc(select(0, &readers, NULL, NULL, &zero)));
    FD_ZERO(&writers);
    FD_SET(s, &writers);
    int r = select(0, NULL, &writers, NULL, &zero);
    check("select.writable", "%s set=%d", rc(r), FD_ISSET(s, &writers) != 0);
    send_to(s, self(s), "r", 1);
    readable(s);
    FD_ZERO(&readers);
    FD_SET(s, &readers);
    r = select(0, &readers, NULL, NULL, &zero);
    check("select.readable", "%s set=%d", rc(r), FD_ISSET(s, &readers) != 0);
    check("select.empty-sets", "%s", rc(select(0, NULL, NULL, NULL, &zero)));
    SOCKET closed = udp();
    closesocket(closed);
    FD_ZERO(&readers);
    FD_SET(closed, &readers);
    check("select.closed-socket", "%s", rc(select(0, &readers, NULL, NULL, &zero)));
    struct timeval tenth = { 0, 100000 };
    SOCKET quiet = bound("0.0.0.0", 0);
    FD_ZERO(&readers);
    FD_SET(quiet, &readers);
    DWORD started = GetTickCount();
    r = select(0, &readers, NULL, NULL, &tenth);
    DWORD took = GetTickCount() - started;
    check("select.timeout", "%s waited=%s", rc(r), took >= 80 && took < 2000 ? "about-100ms" : "other");
    closesocket(quiet);
    char buffer[8];
    recv_ready(s, buffer, sizeof buffer, 0, NULL, NULL);
    closesocket(s);
}

/* ---- WSAEventSelect / WSAEnumNetworkEvents ---- */
static void events(void) {
    SOCKET s = bound("0.0.0.0", 0);
    WSAEVENT event = WSACreateEvent();
    check("event.select-read-write", "%s", rc(WSAEventSelect(s, event, FD_READ | FD_WRITE)));
    {   /* WSAEventSelect makes the socket non-blocking: this must not wait */
        int fired;
        int r0 = guarded_recvfrom(s, NULL, 0, 0, 0, &fired);
        check("event.nonblocking-now", "%s%s", rc(r0), fired ? " (blocked until woken)" : "");
        if (fired) { u_long on = 1; ioctlsocket(s, FIONBIO, &on); char drain[8]; recvfrom(s, drain, sizeof drain, 0, NULL, NULL); }
    }
    DWORD w = WaitForSingleObject(event, 1000);
    WSANETWORKEVENTS happened;
    memset(&happened, 0, sizeof happened);
    int r = WSAEnumNetworkEvents(s, event, &happened);
    check("event.initial-write", "wait=%lu %s events=0x%lx", w, rc(r), happened.lNetworkEvents);
    send_to(s, self(s), "ev", 2);
    w = WaitForSingleObject(event, 2000);
    memset(&happened, 0, sizeof happened);
    r = WSAEnumNetworkEvents(s, event, &happened);
    check("event.read", "wait=%lu %s events=0x%lx error=%d", w, rc(r), happened.lNetworkEvents, happened.iErrorCode[FD_READ_BIT]);
    w = WaitForSingleObject(event, 0);
    check("event.reset-by-enum", "wait=%lu", w);
    char buffer[8];
    r = recv_ready(s, buffer, sizeof buffer, 0, NULL, NULL);
    check("event.recv", "%s", rc(r));
    u_long off = 0;
    check("event.fionbio-off-refused", "%s", rc(ioctlsocket(s, FIONBIO, &off)));
    check("event.select-none", "%s", rc(WSAEventSelect(s, NULL, 0)));
    check("event.fionbio-off-after", "%s", rc(ioctlsocket(s, FIONBIO, &off)));
    check("event.enum-bad-socket", "%s", rc(WSAEnumNetworkEvents((SOCKET)0x7ff0, event, &happened)));
    WSACloseEvent(event);
    closesocket(s);
}

/* ---- WSAAsyncSelect: window messages (a message-only window) ---- */
static void async_select_checks(void) {
    HWND window = CreateWindowExA(0, "STATIC", "", 0, 0, 0, 0, 0, HWND_MESSAGE, NULL, NULL, NULL);
    check("async.window", "%s", window ? "created" : "none");
    if (!window) return;
    SOCKET s = bound("0.0.0.0", 0);
    check("async.select-read", "%s", rc(WSAAsyncSelect(s, window, WM_USER + 7, FD_READ)));
    int fired;
    int r = guarded_recvfrom(s, NULL, 0, 0, 0, &fired);
    check("async.nonblocking-now", "%s%s", rc(r), fired ? " (blocked until woken)" : "");
    u_long off = 0;
    check("async.fionbio-off-refused", "%s", rc(ioctlsocket(s, FIONBIO, &off)));
    if (fired) { u_long on = 1; ioctlsocket(s, FIONBIO, &on); char drain[8]; recvfrom(s, drain, sizeof drain, 0, NULL, NULL); }
    MSG message;
    while (PeekMessageA(&message, window, 0, 0, PM_REMOVE)) {}
    send_to(s, self(s), "msg", 3);
    int got = 0;
    LPARAM what = 0;
    for (int i = 0; i < 200 && !got; i++) {
        if (PeekMessageA(&message, window, WM_USER + 7, WM_USER + 7, PM_REMOVE)) { got = 1; what = message.lParam; }
        else Sleep(10);
    }
    check("async.message", "got=%d event=0x%x error=%d", got, got ? WSAGETSELECTEVENT(what) : 0, got ? WSAGETSELECTERROR(what) : 0);
    char buffer[8];
    check("async.recv", "%s", rc(recv_ready(s, buffer, sizeof buffer, 0, NULL, NULL)));
    check("async.clear", "%s", rc(WSAAsyncSelect(s, window, 0, 0)));
    check("async.fionbio-off-after", "%s", rc(ioctlsocket(s, FIONBIO, &off)));
    closesocket(s);
    DestroyWindow(window);
}

/* ---- WSARecv / WSASend, WSAPoll ---- */
static void wsa_calls(void) {
    SOCKET a = bound("0.0.0.0", 0), b = bound("0.0.0.0", 0);
    struct sockaddr_in to_b = self(b), to_a = self(a);
    connect(a, (struct sockaddr *)&to_b, sizeof to_b);
    connect(b, (struct sockaddr *)&to_a, sizeof to_a);
    char data[] = "scatter-gather";
    WSABUF out[2] = { { 7, data }, { 7, data + 7 } };
    DWORD sent = 0;
    int r = WSASend(a, out, 2, &sent, 0, NULL, NULL);
    check("wsa.send-two-buffers", "%s sent=%lu", rc(r), sent);
    char one[4], two[64];
    memset(two, 0, sizeof two);
    WSABUF in[2] = { { sizeof one, one }, { sizeof two, two } };
    DWORD received = 0, flags = 0;
    r = readable(b) ? WSARecv(b, in, 2, &received, &flags, NULL, NULL) : NOT_READABLE;
    check("wsa.recv-two-buffers", "%s received=%lu first=%.4s second=%.10s flags=%lu", rc(r), received, one, two, flags);

    WSAOVERLAPPED overlapped;
    memset(&overlapped, 0, sizeof overlapped);
    overlapped.hEvent = WSACreateEvent();
    char buffer[64];
    WSABUF single = { sizeof buffer, buffer };
    received = 0;
    flags = 0;
    r = WSARecv(b, &single, 1, &received, &flags, &overlapped, NULL);
    check("wsa.recv-overlapped-pending", "%s", rc(r));
    WSASend(a, out, 1, &sent, 0, NULL, NULL);
    DWORD w = WaitForSingleObject(overlapped.hEvent, 2000);
    DWORD transferred = 0;
    BOOL ok = WSAGetOverlappedResult(b, &overlapped, &transferred, FALSE, &flags);
    check("wsa.recv-overlapped-done", "wait=%lu ok=%d transferred=%lu data=%.7s", w, ok, transferred, buffer);
    WSACloseEvent(overlapped.hEvent);

    WSAPOLLFD poll[1] = { { b, POLLRDNORM, 0 } };
    r = WSAPoll(poll, 1, 0);
    check("wsa.poll-nothing", "%s revents=0x%x", rc(r), poll[0].revents);
    WSASend(a, out, 1, &sent, 0, NULL, NULL);
    readable(b);
    poll[0].revents = 0;
    r = WSAPoll(poll, 1, 1000);
    check("wsa.poll-readable", "%s revents=0x%x", rc(r), poll[0].revents);
    poll[0].events = POLLWRNORM;
    r = WSAPoll(poll, 1, 0);
    check("wsa.poll-writable", "%s revents=0x%x", rc(r), poll[0].revents);
    if (readable(b)) recv(b, buffer, sizeof buffer, 0);
    closesocket(a);
    closesocket(b);
}

/* ---- WSAIoctl ---- */
static void ioctls(void) {
    SOCKET s = bound("0.0.0.0", 0);
    DWORD returned = 0;
    u_long on = 1;
    check("ioctl.fionbio", "%s", rc(WSAIoctl(s, FIONBIO, &on, sizeof on, NULL, 0, &returned, NULL, NULL)));
    BOOL off = FALSE;
    check("ioctl.udp-connreset", "%s", rc(WSAIoctl(s, SIO_UDP_CONNRESET, &off, sizeof off, NULL, 0, &returned, NULL, NULL)));
    struct sockaddr_in broadcast;
    returned = 0;
    int r = WSAIoctl(s, SIO_GET_BROADCAST_ADDRESS, NULL, 0, &broadcast, sizeof broadcast, &returned, NULL, NULL);
    check("ioctl.broadcast-address", "%s addr=%s returned=%lu", rc(r), r == 0 ? inet_ntoa(broadcast.sin_addr) : "-", returned);
    GUID wsarecvmsg = WSAID_WSARECVMSG;
    void *function = NULL;
    r = WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &wsarecvmsg, sizeof wsarecvmsg, &function, sizeof function, &returned, NULL, NULL);
    check("ioctl.wsarecvmsg-pointer", "%s found=%d", rc(r), function != NULL);
    struct sockaddr_in target = address("127.0.0.1", 9), route;
    r = WSAIoctl(s, SIO_ROUTING_INTERFACE_QUERY, &target, sizeof target, &route, sizeof route, &returned, NULL, NULL);
    check("ioctl.routing-interface-loopback", "%s addr=%s", rc(r), r == 0 ? inet_ntoa(route.sin_addr) : "-");
    struct sockaddr_in lan_target = address("192.168.80.5", 9);
    r = WSAIoctl(s, SIO_ROUTING_INTERFACE_QUERY, &lan_target, sizeof lan_target, &route, sizeof route, &returned, NULL, NULL);
    check("ioctl.routing-interface-lan", "%s in-virtual-lan=%d", rc(r), r == 0 && (ntohl(route.sin_addr.s_addr) >> 8) == 0xC0A850);
    struct sockaddr_in remote = address("203.0.113.9", 9);
    r = WSAIoctl(s, SIO_ROUTING_INTERFACE_QUERY, &remote, sizeof remote, &route, sizeof route, &returned, NULL, NULL);
    check("ioctl.routing-interface-far", "%s", rc(r));
    INTERFACE_INFO interfaces[8];
    returned = 0;
    r = WSAIoctl(s, SIO_GET_INTERFACE_LIST, NULL, 0, interfaces, sizeof interfaces, &returned, NULL, NULL);
    int count = r == 0 ? (int)(returned / sizeof interfaces[0]) : -1, virtual_one = 0, loopback = 0;
    for (int i = 0; i < count; i++) {
        unsigned long a4 = ntohl(interfaces[i].iiAddress.AddressIn.sin_addr.s_addr);
        if ((a4 >> 8) == 0xC0A850 && (interfaces[i].iiFlags & IFF_BROADCAST)) virtual_one = 1;
        if ((a4 >> 24) == 127 && (interfaces[i].iiFlags & IFF_LOOPBACK)) loopback = 1;
    }
    check("ioctl.interface-list", "%s entry-size=%u loopback=%d virtual=%d", rc(r), (unsigned)sizeof interfaces[0], loopback, virtual_one);
    char list_buffer[256];
    returned = 0;
    r = WSAIoctl(s, SIO_ADDRESS_LIST_QUERY, NULL, 0, list_buffer, sizeof list_buffer, &returned, NULL, NULL);
    SOCKET_ADDRESS_LIST *list = (SOCKET_ADDRESS_LIST *)list_buffer;
    int in_lan = 0;
    for (int i = 0; r == 0 && i < list->iAddressCount; i++) {
        struct sockaddr_in *a4 = (struct sockaddr_in *)list->Address[i].lpSockaddr;
        if (a4->sin_family == AF_INET && (ntohl(a4->sin_addr.s_addr) >> 8) == 0xC0A850) in_lan = 1;
    }
    check("ioctl.address-list", "%s count=%d in-virtual-lan=%d", rc(r), r == 0 ? list->iAddressCount : -1, in_lan);
    returned = 0;
    r = WSAIoctl(s, SIO_ADDRESS_LIST_QUERY, NULL, 0, list_buffer, 4, &returned, NULL, NULL);
    check("ioctl.address-list-short", "%s needed=%s", rc(r), returned > 4 ? "more" : "none");
    check("ioctl.unknown-code", "%s", rc(WSAIoctl(s, 0x98765432, NULL, 0, NULL, 0, &returned, NULL, NULL)));
    closesocket(s);
}

/* ---- WSARecvMsg through its extension pointer, IP_PKTINFO ---- */
static void recvmsg_checks(void) {
    SOCKET s = bound("0.0.0.0", 0);
    GUID id = WSAID_WSARECVMSG;
    LPFN_WSARECVMSG recvmsg_fn = NULL;
    DWORD returned = 0;
    int r = WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof id, &recvmsg_fn, sizeof recvmsg_fn, &returned, NULL, NULL);
    check("msg.pointer", "%s returned=%lu", rc(r), returned);
    if (r != 0 || !recvmsg_fn) { closesocket(s); return; }
    for (int round = 0; round < 3; round++) {
        /* round 0: IP_PKTINFO off; 1: on; 2: on, control buffer too small */
        DWORD on = round > 0;
        setsockopt(s, IPPROTO_IP, IP_PKTINFO, (const char *)&on, sizeof on);
        send_to(s, self(s), "message", 7);
        if (!readable(s)) { check(round == 0 ? "msg.off" : round == 1 ? "msg.pktinfo" : "msg.control-short", "not-readable"); continue; }
        char data[32] = "", control[64];
        memset(control, 0xEE, sizeof control);
        struct sockaddr_in from;
        WSABUF buffer = { sizeof data, data };
        WSAMSG message = message_into(&from, &buffer, control, round == 2 ? 8 : sizeof control);
        DWORD received = 0;
        r = recvmsg_fn(s, &message, &received, NULL, NULL);
        WSACMSGHDR *header = (WSACMSGHDR *)control;
        IN_PKTINFO *info = (IN_PKTINFO *)WSA_CMSG_DATA(header);
        char addr[16] = "-", name[16];
        if (message.Control.len >= sizeof *header && header->cmsg_type == IP_PKTINFO) snprintf(addr, sizeof addr, "%s", inet_ntoa(info->ipi_addr));
        snprintf(name, sizeof name, "%s", inet_ntoa(from.sin_addr));
        check(round == 0 ? "msg.off" : round == 1 ? "msg.pktinfo" : "msg.control-short",
              "%s received=%lu data=%.7s flags=0x%lx namelen=%d from=%s control=%lu level=%d type=%d to=%s",
              rc(r), received, data, message.dwFlags, message.namelen, name, message.Control.len,
              message.Control.len >= sizeof *header ? header->cmsg_level : -1, message.Control.len >= sizeof *header ? header->cmsg_type : -1, addr);
    }
    closesocket(s);
}

/* ---- overlapped receives: pending, cancelled, completion routines ---- */
static int routine_calls;
static DWORD routine_bytes, routine_error;
static void CALLBACK on_received(DWORD error, DWORD bytes, LPWSAOVERLAPPED overlapped, DWORD flags) {
    (void)overlapped; (void)flags;
    routine_calls++;
    routine_bytes = bytes;
    routine_error = error;
}

static void overlapped_checks(void) {
    SOCKET s = bound("0.0.0.0", 0);
    char buffer[64];
    WSABUF one = { sizeof buffer, buffer };
    WSAOVERLAPPED overlapped;
    memset(&overlapped, 0, sizeof overlapped);
    overlapped.hEvent = WSACreateEvent();
    DWORD received = 0, flags = 0, transferred = 99;
    struct sockaddr_in from;
    int from_length = sizeof from;
    int r = WSARecvFrom(s, &one, 1, &received, &flags, (struct sockaddr *)&from, &from_length, &overlapped, NULL);
    check("ovl.pending", "%s", rc(r));
    BOOL ok = WSAGetOverlappedResult(s, &overlapped, &transferred, FALSE, &flags);
    check("ovl.result-incomplete", "ok=%d error=%d", ok, ok ? 0 : WSAGetLastError());
    send_to(s, self(s), "done", 4);
    DWORD w = WaitForSingleObject(overlapped.hEvent, 2000);
    ok = WSAGetOverlappedResult(s, &overlapped, &transferred, FALSE, &flags);
    check("ovl.result-done", "wait=%lu ok=%d transferred=%lu from=%s", w, ok, transferred, inet_ntoa(from.sin_addr));

    WSAResetEvent(overlapped.hEvent);
    r = WSARecvFrom(s, &one, 1, &received, &flags, NULL, NULL, &overlapped, NULL);
    check("ovl.pending-again", "%s", rc(r));
    BOOL cancelled = CancelIoEx((HANDLE)s, &overlapped);
    w = WaitForSingleObject(overlapped.hEvent, 2000);
    ok = WSAGetOverlappedResult(s, &overlapped, &transferred, FALSE, &flags);
    check("ovl.cancelled", "cancel=%d wait=%lu ok=%d error=%d", cancelled, w, ok, ok ? 0 : WSAGetLastError());

    routine_calls = 0;
    WSAOVERLAPPED with_routine;
    memset(&with_routine, 0, sizeof with_routine);
    r = WSARecvFrom(s, &one, 1, &received, &flags, NULL, NULL, &with_routine, on_received);
    check("ovl.routine-pending", "%s", rc(r));
    send_to(s, self(s), "routine", 7);
    DWORD slept = 0;
    for (int i = 0; i < 20 && routine_calls == 0; i++) slept = SleepEx(100, TRUE);
    check("ovl.routine-ran", "calls=%d bytes=%lu error=%lu alerted=%d", routine_calls, routine_bytes, routine_error, slept == WAIT_IO_COMPLETION);

    WSAResetEvent(overlapped.hEvent);
    r = WSARecvFrom(s, &one, 1, &received, &flags, NULL, NULL, &overlapped, NULL);
    check("ovl.pending-at-close", "%s", rc(r));
    closesocket(s);
    w = WaitForSingleObject(overlapped.hEvent, 2000);
    check("ovl.close-signals", "wait=%lu", w);
    WSACloseEvent(overlapped.hEvent);
}

/* ---- the virtual LAN itself: defaults, broadcast, the identity (no real value printed) ---- */
static void identity_checks(void) {
    SOCKET s = bound("0.0.0.0", 0);
    int_option("lan.so-rcvbuf-default", s, SOL_SOCKET, SO_RCVBUF);
    int_option("lan.so-sndbuf-default", s, SOL_SOCKET, SO_SNDBUF);
    int_option("lan.so-max-msg-size", s, SOL_SOCKET, SO_MAX_MSG_SIZE);
    struct sockaddr_in everyone = address("255.255.255.255", port_of(s));
    check("lan.broadcast-without-so-broadcast", "%s", rc(send_to(s, everyone, "b", 1)));
    BOOL on = TRUE;
    setsockopt(s, SOL_SOCKET, SO_BROADCAST, (const char *)&on, sizeof on);
    check("lan.broadcast", "%s", rc(send_to(s, everyone, "b", 1)));
    check("lan.broadcast-comes-back", "%s", readable(s) ? "readable" : "nothing");
    nonblocking(s, 1);
    char buffer[8];
    while (recvfrom(s, buffer, sizeof buffer, 0, NULL, NULL) >= 0) {}
    nonblocking(s, 0);
    struct sockaddr_in neighbour = address("192.168.80.77", 9);
    check("lan.send-to-a-lan-address", "%s", rc(send_to(s, neighbour, "n", 1)));
    closesocket(s);

    char name[256] = "";
    int r = gethostname(name, sizeof name);
    check("lan.gethostname", "%s virtual-name=%d", rc(r), strncmp(name, "VLAN-", 5) == 0);
    struct hostent *host = gethostbyname(name);
    struct in_addr own = { 0 };
    if (host && host->h_addr_list[0]) memcpy(&own, host->h_addr_list[0], 4);
    check("lan.gethostbyname-own", "found=%d in-virtual-lan=%d", host != NULL, (ntohl(own.s_addr) >> 8) == 0xC0A850);
    SOCKET v = udp();
    struct sockaddr_in mine = address(inet_ntoa(own), 0);
    check("lan.bind-own-address", "%s", rc(bind(v, (struct sockaddr *)&mine, sizeof mine)));
    closesocket(v);
    ULONG size = 0;
    DWORD e = GetAdaptersInfo(NULL, &size);
    IP_ADAPTER_INFO *adapters = size ? malloc(size) : NULL;
    int virtual_adapter = 0;
    if (adapters && GetAdaptersInfo(adapters, &size) == NO_ERROR)
        for (IP_ADAPTER_INFO *a = adapters; a; a = a->Next)
            if (strncmp(a->IpAddressList.IpAddress.String, "192.168.80.", 11) == 0) virtual_adapter = 1;
    check("lan.adapters", "sizing=%lu virtual-adapter=%d", e, virtual_adapter);
    free(adapters);
}

/* ---- errors: last error after success, closed sockets, shutdown ---- */
static void errors(void) {
    SOCKET s = bound("0.0.0.0", 0);
    WSASetLastError(12345);
    int r = send_to(s, self(s), "e", 1);
    check("error.last-error-after-sendto", "%s last=%d", rc(r), WSAGetLastError());
    char buffer[8];
    if (!readable(s)) r = NOT_READABLE;
    WSASetLastError(12345);
    if (r != NOT_READABLE) r = recvfrom(s, buffer, sizeof buffer, 0, NULL, NULL);
    check("error.last-error-after-recvfrom", "%s last=%d", rc(r), WSAGetLastError());
    WSASetLastError(12345);
    struct sockaddr_in a;
    int length = sizeof a;
    r = getsockname(s, (struct sockaddr *)&a, &length);
    check("error.last-error-after-getsockname", "%s last=%d", rc(r), WSAGetLastError());
    WSASetLastError(12345);
    DWORD sent = 0;
    WSABUF one = { 1, "w" };
    struct sockaddr_in to = self(s);
    r = WSASendTo(s, &one, 1, &sent, 0, (struct sockaddr *)&to, sizeof to, NULL, NULL);
    check("error.last-error-after-wsasendto", "%s last=%d", rc(r), WSAGetLastError());
    recv_ready(s, buffer, sizeof buffer, 0, NULL, NULL);
    int on = 1, value0 = 0, vlength0 = sizeof value0;
    u_long nb = 0;
    WSASetLastError(12345);
    r = setsockopt(s, SOL_SOCKET, SO_BROADCAST, (const char *)&on, sizeof on);
    check("error.last-error-after-setsockopt", "%s last=%d", rc(r), WSAGetLastError());
    WSASetLastError(12345);
    r = getsockopt(s, SOL_SOCKET, SO_BROADCAST, (char *)&value0, &vlength0);
    check("error.last-error-after-getsockopt", "%s last=%d", rc(r), WSAGetLastError());
    WSASetLastError(12345);
    r = ioctlsocket(s, FIONBIO, &nb);
    check("error.last-error-after-ioctlsocket", "%s last=%d", rc(r), WSAGetLastError());
    SOCKET other = udp();
    struct sockaddr_in any0 = address("0.0.0.0", 0);
    WSASetLastError(12345);
    r = bind(other, (struct sockaddr *)&any0, sizeof any0);
    check("error.last-error-after-bind", "%s last=%d", rc(r), WSAGetLastError());
    WSASetLastError(12345);
    r = connect(other, (struct sockaddr *)&to, sizeof to);
    check("error.last-error-after-connect", "%s last=%d", rc(r), WSAGetLastError());
    WSASetLastError(12345);
    r = closesocket(other);
    check("error.last-error-after-closesocket", "%s last=%d", rc(r), WSAGetLastError());
    fd_set set;
    FD_ZERO(&set);
    FD_SET(s, &set);
    struct timeval zero = { 0, 0 };
    WSASetLastError(12345);
    r = select(0, NULL, &set, NULL, &zero);
    check("error.last-error-after-select", "%s last=%d", rc(r), WSAGetLastError());

    check("error.shutdown-send", "%s", rc(shutdown(s, SD_SEND)));
    check("error.sendto-after-shutdown", "%s", rc(send_to(s, self(s), "x", 1)));
    check("error.shutdown-bad-how", "%s", rc(shutdown(s, 7)));
    check("error.close", "%s", rc(closesocket(s)));
    check("error.close-twice", "%s", rc(closesocket(s)));
    check("error.sendto-closed", "%s", rc(send_to(s, to, "x", 1)));
    check("error.recvfrom-closed", "%s", rc(recvfrom(s, buffer, sizeof buffer, 0, NULL, NULL)));
    check("error.bind-closed", "%s", rc(bind(s, (struct sockaddr *)&to, sizeof to)));
    length = sizeof a;
    check("error.getsockname-closed", "%s", rc(getsockname(s, (struct sockaddr *)&a, &length)));
    int value, vlength = sizeof value;
    check("error.getsockopt-closed", "%s", rc(getsockopt(s, SOL_SOCKET, SO_TYPE, (char *)&value, &vlength)));
    check("error.closesocket-never-a-socket", "%s", rc(closesocket((SOCKET)0x7ff4)));
}

int main(void) {
    CreateThread(NULL, 0, progress_watch, NULL, 0, NULL);
    WSADATA data;
    int r = WSAStartup(MAKEWORD(2, 2), &data);
    check("startup.wsastartup", "%d version=0x%x", r, data.wVersion);
    creating();
    binding();
    datagrams();
    nonblocking_mode();
    connected();
    options();
    option_sweep();
    selecting();
    events();
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
    surface_checks();
    tcp_checks();
    identity_checks();
    errors();
    check("startup.wsacleanup", "%s", rc(WSACleanup()));
    printf("DONE %d\n", checks + 1);
    fflush(stdout);
    return 0;
}
