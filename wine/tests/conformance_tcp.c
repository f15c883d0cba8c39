/* TCP checks of conformance.exe: one copy talking to itself over 127.0.0.1, which is the
 * same with and without the DLL (with it, the copy's virtual loopback). Outcomes print
 * relations (the peer accept reports is the client's name), never port numbers, which are
 * the OS's with the DLL's absence and the virtual port space's with it. */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conformance.h"

SOCKET tcp(void) { return socket(AF_INET, SOCK_STREAM, IPPROTO_TCP); }

/* A listener on 127.0.0.1:ephemeral; its address in *at. */
SOCKET listening(struct sockaddr_in *at) {
    SOCKET s = tcp();
    *at = address("127.0.0.1", 0);
    int length = sizeof *at;
    bind(s, (struct sockaddr *)at, sizeof *at);
    listen(s, 5);
    getsockname(s, (struct sockaddr *)at, &length);
    return s;
}

const char *valid(SOCKET s) { return s == INVALID_SOCKET ? rc(SOCKET_ERROR) : "valid"; }

int same(struct sockaddr_in a, struct sockaddr_in b) {
    return a.sin_family == b.sin_family && a.sin_port == b.sin_port && a.sin_addr.s_addr == b.sin_addr.s_addr;
}

/* Waits (bounded) until s is writable or has an exception: "w" / "e" / "we" / "-". */
const char *connect_outcome(SOCKET s) {
    static char text[4];
    fd_set w, e;
    FD_ZERO(&w); FD_SET(s, &w);
    FD_ZERO(&e); FD_SET(s, &e);
    struct timeval second = { 2, 0 };
    select(0, NULL, &w, &e, &second);
    snprintf(text, sizeof text, "%s%s", FD_ISSET(s, &w) ? "w" : "", FD_ISSET(s, &e) ? "e" : "");
    if (!text[0]) strcpy(text, "-");
    return text;
}

int so_error(SOCKET s) {
    int value = -1, length = sizeof value;
    getsockopt(s, SOL_SOCKET, SO_ERROR, (char *)&value, &length);
    return value;
}

/* Receives exactly n bytes (bounded by a 2 s SO_RCVTIMEO the caller set): bytes got. */
int receive_all(SOCKET s, char *buffer, int n) {
    int got = 0;
    while (got < n) {
        int r = recv(s, buffer + got, n - got, 0);
        if (r <= 0) break;
        got += r;
    }
    return got;
}

static void wrong_kinds(void) {
    SOCKET u = bound("127.0.0.1", 0);
    check("tcp.listen-udp", "%s", rc(listen(u, 5)));
    closesocket(u);
    SOCKET t = tcp();
    check("tcp.listen-unbound", "%s", rc(listen(t, 5)));
    check("tcp.accept-not-listening", "%s", valid(accept(t, NULL, NULL)));
    check("tcp.send-unconnected", "%s", rc(send(t, "x", 1, 0)));
    char byte;
    check("tcp.recv-unconnected", "%s", rc(recv(t, &byte, 1, 0)));
    struct sockaddr_in peer;
    int length = sizeof peer;
    check("tcp.getpeername-unconnected", "%s", rc(getpeername(t, (struct sockaddr *)&peer, &length)));
    int type = 0;
    length = sizeof type;
    getsockopt(t, SOL_SOCKET, SO_TYPE, (char *)&type, &length);
    check("tcp.so-type", "%d", type);
    struct sockaddr_in any = address("0.0.0.0", 0);
    check("tcp.connect-any", "%s", rc(connect(t, (struct sockaddr *)&any, sizeof any)));
    closesocket(t);
}

static void session(void) {
    struct sockaddr_in at;
    SOCKET l = listening(&at);
    SOCKET c = tcp();
    check("tcp.connect", "%s", rc(connect(c, (struct sockaddr *)&at, sizeof at)));
    check("tcp.connect-again", "%s", rc(connect(c, (struct sockaddr *)&at, sizeof at)));
    check("tcp.listen-connected", "%s", rc(listen(c, 5)));
    struct sockaddr_in client_name, client_peer, from;
    int length = sizeof client_name;
    getsockname(c, (struct sockaddr *)&client_name, &length);
    length = sizeof client_peer;
    getpeername(c, (struct sockaddr *)&client_peer, &length);
    check("tcp.client-names", "local=%s peer-is-listener=%d", inet_ntoa(client_name.sin_addr), same(client_peer, at));
    length = sizeof from;
    SOCKET a = accept(l, (struct sockaddr *)&from, &length);
    check("tcp.accept", "%s length=%d peer-is-client=%d", valid(a), length, same(from, client_name));
    struct sockaddr_in accepted_name, accepted_peer;
    length = sizeof accepted_name;
    getsockname(a, (struct sockaddr *)&accepted_name, &length);
    length = sizeof accepted_peer;
    getpeername(a, (struct sockaddr *)&accepted_peer, &length);
    check("tcp.accepted-names", "local-is-listener=%d peer-is-client=%d", same(accepted_name, at), same(accepted_peer, client_name));

    DWORD timeout = 2000;
    setsockopt(a, SOL_SOCKET, SO_RCVTIMEO, (char *)&timeout, sizeof timeout);
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, (char *)&timeout, sizeof timeout);
    char buffer[256];
    check("tcp.send", "%s", rc(send(c, "hello", 5, 0)));
    int r = receive_all(a, buffer, 5);
    check("tcp.recv", "%d %.5s", r, buffer);
    send(a, "abcdef", 6, 0);
    Sleep(0);
    u_long queued = 0;
    readable(c);
    ioctlsocket(c, FIONREAD, &queued);
    r = recv(c, buffer, 3, MSG_PEEK);
    check("tcp.peek", "%d %.3s fionread-at-least-3=%d", r, buffer, queued >= 3);
    r = receive_all(c, buffer, 6);
    check("tcp.recv-after-peek", "%d %.6s", r, buffer);
    check("tcp.recvfrom-ignores-from", "%s", rc(send(a, "z", 1, 0)));
    struct sockaddr_in ignored = address("1.2.3.4", 9);
    length = sizeof ignored;
    r = recvfrom(c, buffer, sizeof buffer, 0, (struct sockaddr *)&ignored, &length);
    check("tcp.recvfrom", "%d from-untouched=%d", r, ignored.sin_addr.s_addr == inet_addr("1.2.3.4"));
    check("tcp.sendto-ignores-to", "%s", rc(sendto(c, "q", 1, 0, (struct sockaddr *)&ignored, sizeof ignored)));
    r = receive_all(a, buffer, 1);
    check("tcp.sendto-arrives", "%d %.1s", r, buffer);

    /* A megabyte each way, checked byte by byte: nothing lost, nothing reordered. */
    static char big[1 << 20], back[1 << 20];
    for (int i = 0; i < (int)sizeof big; i++) big[i] = (char)(i * 7 + i / 251);
    u_long on = 1;
    ioctlsocket(c, FIONBIO, &on);
    int sent = 0, got = 0, would_block = 0, idle = 0;
    /* Bounded: ends when 20 waits in a row saw nothing (a stream that stalls). */
    while (got < (int)sizeof big && idle < 20) {
        if (sent < (int)sizeof big) {
            r = send(c, big + sent, (int)sizeof big - sent, 0);
            if (r > 0) sent += r;
            else if (WSAGetLastError() == WSAEWOULDBLOCK) would_block = 1;
        }
        fd_set set;
        FD_ZERO(&set); FD_SET(a, &set);
        struct timeval wait = { 0, 100000 };
        if (select(0, &set, NULL, NULL, &wait) == 1) {
            r = recv(a, back + got, (int)sizeof back - got, 0);
            if (r > 0) got += r;
            idle = 0;
        } else {
            idle++;
        }
    }
    check("tcp.megabyte", "sent=%d got=%d equal=%d", sent, got, memcmp(big, back, sizeof big) == 0);
    (void)would_block;
    on = 0;
    ioctlsocket(c, FIONBIO, &on);

    check("tcp.shutdown-send", "%s", rc(shutdown(c, SD_SEND)));
    r = recv(a, buffer, sizeof buffer, 0);
    check("tcp.recv-after-peer-shutdown", "%s", rc(r));
    check("tcp.send-after-shutdown", "%s", rc(send(c, "x", 1, 0)));
    check("tcp.send-to-half-closed", "%s", rc(send(a, "back", 4, 0)));
    r = receive_all(c, buffer, 4);
    check("tcp.half-closed-still-receives", "%d", r);
    closesocket(a);
    r = recv(c, buffer, sizeof buffer, 0);
    check("tcp.recv-after-close", "%s", rc(r));
    closesocket(c);

    /* Abortive close: SO_LINGER 0 resets the connection. */
    c = tcp();
    connect(c, (struct sockaddr *)&at, sizeof at);
    a = accept(l, NULL, NULL);
    struct linger abort_now = { 1, 0 };
    check("tcp.linger-set", "%s", rc(setsockopt(c, SOL_SOCKET, SO_LINGER, (char *)&abort_now, sizeof abort_now)));
    closesocket(c);
    setsockopt(a, SOL_SOCKET, SO_RCVTIMEO, (char *)&timeout, sizeof timeout);
    check("tcp.recv-after-reset", "%s", rc(recv(a, buffer, sizeof buffer, 0)));
    /* The reset stays a mark on the socket, whatever the receive said: WSAPoll's POLLERR
     * (what tells a reset from a graceful end where Wine reads 0 bytes after it). */
    WSAPOLLFD state = { a, POLLRDNORM, 0 };
    int polled = WSAPoll(&state, 1, 0);
    check("tcp.reset-mark", "polled=%d err=%d", polled, (state.revents & POLLERR) != 0);
    closesocket(a);
    closesocket(l);
}

static void refusals(void) {
    /* A bound socket that never listens: nothing accepts there. */
    SOCKET quiet = tcp();
    struct sockaddr_in at = address("127.0.0.1", 0);
    int length = sizeof at;
    bind(quiet, (struct sockaddr *)&at, sizeof at);
    getsockname(quiet, (struct sockaddr *)&at, &length);
    SOCKET c = tcp();
    check("tcp.refused", "%s", rc(connect(c, (struct sockaddr *)&at, sizeof at)));
    closesocket(c);
    c = tcp();
    u_long on = 1;
    ioctlsocket(c, FIONBIO, &on);
    int r = connect(c, (struct sockaddr *)&at, sizeof at);
    check("tcp.refused-nonblocking", "%s", rc(r));
    const char *outcome = connect_outcome(c);
    check("tcp.refused-nonblocking-select", "%s so_error=%d", outcome, so_error(c));
    closesocket(c);
    closesocket(quiet);

    /* Outside loopback (and, in the test's namespace, any route): the OS's answer. */
    c = tcp();
    struct sockaddr_in far_away = address("10.1.2.3", 80);
    check("tcp.connect-outside", "%s", rc(connect(c, (struct sockaddr *)&far_away, sizeof far_away)));
    closesocket(c);
}

static void nonblocking_session(void) {
    struct sockaddr_in at;
    SOCKET l = listening(&at);
    u_long on = 1;
    ioctlsocket(l, FIONBIO, &on);
    check("tcp.accept-nothing", "%s", valid(accept(l, NULL, NULL)));
    SOCKET c = tcp();
    ioctlsocket(c, FIONBIO, &on);
    int r = connect(c, (struct sockaddr *)&at, sizeof at);
    check("tcp.connect-nonblocking", "%s", rc(r));
    check("tcp.connect-nonblocking-select", "%s so_error=%d", connect_outcome(c), so_error(c));
    readable(l);
    SOCKET a = accept(l, NULL, NULL);
    check("tcp.accept-nonblocking", "%s", valid(a));
    char byte;
    check("tcp.accepted-inherits-nonblocking", "%s", rc(recv(a, &byte, 1, 0)));
    closesocket(a);
    closesocket(c);

    /* A too short address: the error, and whether the connection is still there after it. */
    c = tcp();
    connect(c, (struct sockaddr *)&at, sizeof at);
    readable(l);
    struct sockaddr_in from;
    int short_length = 4;
    SOCKET s = accept(l, (struct sockaddr *)&from, &short_length);
    check("tcp.accept-short-address", "%s", valid(s));
    if (s != INVALID_SOCKET) closesocket(s);
    readable(l);
    s = accept(l, NULL, NULL);
    check("tcp.accept-after-short-address", "%s", valid(s));
    if (s != INVALID_SOCKET) closesocket(s);
    closesocket(c);
    closesocket(l);
}

/* WSAEventSelect on both ends: FD_ACCEPT, FD_CONNECT, FD_WRITE, FD_READ, FD_CLOSE. */
static void events(void) {
    struct sockaddr_in at;
    SOCKET l = listening(&at);
    WSAEVENT le = WSACreateEvent(), ce = WSACreateEvent(), ae = WSACreateEvent();
    WSAEventSelect(l, le, FD_ACCEPT);
    SOCKET c = tcp();
    WSAEventSelect(c, ce, FD_CONNECT | FD_WRITE | FD_READ | FD_CLOSE);
    int r = connect(c, (struct sockaddr *)&at, sizeof at);
    check("tcp.event-connect", "%s", rc(r));
    WSANETWORKEVENTS n;
    DWORD w = WSAWaitForMultipleEvents(1, &ce, FALSE, 2000, FALSE);
    WSAEnumNetworkEvents(c, ce, &n);
    check("tcp.event-fd-connect", "wait=%lu events=0x%lx connect-error=%d", w, n.lNetworkEvents & (FD_CONNECT | FD_WRITE),
          n.iErrorCode[FD_CONNECT_BIT]);
    w = WSAWaitForMultipleEvents(1, &le, FALSE, 2000, FALSE);
    WSAEnumNetworkEvents(l, le, &n);
    check("tcp.event-fd-accept", "wait=%lu events=0x%lx", w, n.lNetworkEvents);
    SOCKET a = accept(l, NULL, NULL);
    WSAEventSelect(a, ae, FD_READ | FD_CLOSE);
    send(c, "ev", 2, 0);
    w = WSAWaitForMultipleEvents(1, &ae, FALSE, 2000, FALSE);
    WSAEnumNetworkEvents(a, ae, &n);
    char buffer[8];
    r = recv(a, buffer, sizeof buffer, 0);
    check("tcp.event-fd-read", "wait=%lu events=0x%lx recv=%d", w, n.lNetworkEvents, r);
    closesocket(c);
    w = WSAWaitForMultipleEvents(1, &ae, FALSE, 2000, FALSE);
    WSAEnumNetworkEvents(a, ae, &n);
    check("tcp.event-fd-close", "wait=%lu close=%d error=%d", w, (n.lNetworkEvents & FD_CLOSE) != 0, n.iErrorCode[FD_CLOSE_BIT]);
    closesocket(a);
    closesocket(l);
    WSACloseEvent(le);
    WSACloseEvent(ce);
    WSACloseEvent(ae);
}

static void overlapped_receive(void) {
    struct sockaddr_in at;
    SOCKET l = listening(&at);
    SOCKET c = tcp();
    connect(c, (struct sockaddr *)&at, sizeof at);
    SOCKET a = accept(l, NULL, NULL);
    char data[16];
    WSABUF b = { sizeof data, data };
    DWORD got = 0, flags = 0;
    WSAOVERLAPPED o;
    memset(&o, 0, sizeof o);
    o.hEvent = WSACreateEvent();
    int r = WSARecv(a, &b, 1, &got, &flags, &o, NULL);
    check("tcp.overlapped-recv-pending", "%s", rc(r));
    send(c, "overlap", 7, 0);
    DWORD w = WSAWaitForMultipleEvents(1, &o.hEvent, FALSE, 2000, FALSE);
    BOOL ok = WSAGetOverlappedResult(a, &o, &got, FALSE, &flags);
    check("tcp.overlapped-recv-done", "wait=%lu ok=%d bytes=%lu %.7s", w, ok, got, data);
    r = WSARecv(a, &b, 1, &got, &flags, &o, NULL);
    closesocket(c);
    w = WSAWaitForMultipleEvents(1, &o.hEvent, FALSE, 2000, FALSE);
    ok = WSAGetOverlappedResult(a, &o, &got, FALSE, &flags);
    check("tcp.overlapped-recv-peer-closed", "wait=%lu ok=%d bytes=%lu", w, ok, got);
    closesocket(a);

    /* A receive waiting when the peer resets ends with the reset (a receive made after it
     * gets what the OS says then: Wine 0 bytes, sock.c's test_tcp_reset). */
    c = tcp();
    connect(c, (struct sockaddr *)&at, sizeof at);
    a = accept(l, NULL, NULL);
    r = WSARecv(a, &b, 1, &got, &flags, &o, NULL);
    int pending = r == SOCKET_ERROR && WSAGetLastError() == WSA_IO_PENDING;
    struct linger abort_now = { 1, 0 };
    setsockopt(c, SOL_SOCKET, SO_LINGER, (char *)&abort_now, sizeof abort_now);
    closesocket(c);
    w = WSAWaitForMultipleEvents(1, &o.hEvent, FALSE, 2000, FALSE);
    ok = WSAGetOverlappedResult(a, &o, &got, FALSE, &flags);
    check("tcp.overlapped-recv-reset", "pending=%d wait=%lu ok=%d error=%d bytes=%lu", pending, w, ok, ok ? 0 : WSAGetLastError(), got);
    WSACloseEvent(o.hEvent);
    closesocket(a);
    closesocket(l);
}

/* ConnectEx from WSAIoctl's pointer, as IOCP games connect: bound first, the first bytes
 * with the handshake, the end in the OVERLAPPED. */

void tcp_checks(void) {
    wrong_kinds();
    session();
    refusals();
    nonblocking_session();
    events();
    overlapped_receive();
    overlapped_send();
    overlapped_send_closed();
    connect_ex();
    accept_ex();
    wsa_accept();
    extensions_elsewhere();
    extensions_from_elsewhere();
}
