/* WSAAccept checks of conformance.exe: its condition function, what it is shown and what
 * its answers do (accepted, refused, deferred: a deferred connection is the listener's
 * next, for an AcceptEx posted after it). As conformance_tcp.c: relations, never ports. */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <stdio.h>
#include <string.h>
#include "conformance.h"

/* WSAAccept's condition function: what it was shown, and its answer. */
static struct { int calls; struct sockaddr_in caller, callee; int caller_length, callee_length; int answer; } condition;

static int CALLBACK judge(LPWSABUF caller, LPWSABUF caller_data, LPQOS sqos, LPQOS gqos, LPWSABUF callee,
                          LPWSABUF callee_data, GROUP *group, DWORD_PTR context) {
    condition.calls++;
    condition.caller_length = caller ? (int)caller->len : -1;
    condition.callee_length = callee ? (int)callee->len : -1;
    if (caller && caller->len >= sizeof condition.caller) memcpy(&condition.caller, caller->buf, sizeof condition.caller);
    if (callee && callee->len >= sizeof condition.callee) memcpy(&condition.callee, callee->buf, sizeof condition.callee);
    return context == 7 ? condition.answer : CF_REJECT;
}

/* sock.c's test_AcceptEx ("CF_DEFER & AcceptEx"): the condition defers a connection, an
 * AcceptEx posted next takes it once another connection comes, and accept takes that one. */
static void wsa_accept_deferred(SOCKET l, struct sockaddr_in at) {
    LPFN_ACCEPTEX accept_ex = NULL;
    GUID id = WSAID_ACCEPTEX;
    DWORD returned = 0;
    WSAIoctl(l, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof id, &accept_ex, sizeof accept_ex, &returned, NULL, NULL);
    SOCKET first = tcp(), second = tcp(), acceptor = tcp();
    connect(first, (struct sockaddr *)&at, sizeof at);
    memset(&condition, 0, sizeof condition);
    condition.answer = CF_DEFER;
    SOCKET a = WSAAccept(l, NULL, NULL, judge, 7);
    check("tcp.wsaaccept-deferred", "%s error=%d calls=%d", valid(a), a == INVALID_SOCKET ? WSAGetLastError() : 0, condition.calls);
    char names[2 * (sizeof(struct sockaddr_in) + 16)];
    WSAOVERLAPPED o = { .hEvent = WSACreateEvent() };
    DWORD got = 0;
    BOOL now = accept_ex && accept_ex(l, acceptor, names, 0, sizeof names / 2, sizeof names / 2, &got, &o);
    int started = now || WSAGetLastError() == ERROR_IO_PENDING;
    connect(second, (struct sockaddr *)&at, sizeof at);
    send(first, "1", 1, 0);
    SOCKET next = accept(l, NULL, NULL);
    struct sockaddr_in next_peer = { 0 }, second_name = { 0 };
    getpeername(next, (struct sockaddr *)&next_peer, &(int){ sizeof next_peer });
    getsockname(second, (struct sockaddr *)&second_name, &(int){ sizeof second_name });
    DWORD w = WSAWaitForMultipleEvents(1, &o.hEvent, FALSE, 5000, FALSE);
    DWORD timeout = 2000;
    setsockopt(acceptor, SOL_SOCKET, SO_RCVTIMEO, (char *)&timeout, sizeof timeout);
    char data[2] = "";
    int r = w == WSA_WAIT_EVENT_0 ? recv(acceptor, data, 1, 0) : -1;
    check("tcp.wsaaccept-deferred-acceptex", "started=%d wait=%lu accept=%s accept-is-second=%d acceptex-got=%d %.1s",
          started, w, valid(next), same(next_peer, second_name), r, data);
    WSACloseEvent(o.hEvent);
    closesocket(next);
    closesocket(acceptor);
    closesocket(second);
    closesocket(first);
}

/* A listener with selected events: the socket WSAAccept (with a condition) makes takes the
 * selection on, and has FD_READ once its client has sent, not before. */
static void wsa_accept_selected(void) {
    struct sockaddr_in at;
    SOCKET l = listening(&at);
    WSAEVENT event = WSACreateEvent();
    WSAEventSelect(l, event, FD_ACCEPT | FD_READ | FD_CLOSE);
    SOCKET c = tcp();
    connect(c, (struct sockaddr *)&at, sizeof at);
    DWORD w = WSAWaitForMultipleEvents(1, &event, FALSE, 5000, FALSE);
    memset(&condition, 0, sizeof condition);
    condition.answer = CF_ACCEPT;
    SOCKET a = WSAAccept(l, NULL, NULL, judge, 7);
    WSANETWORKEVENTS before = { 0 }, after = { 0 };
    WSAEnumNetworkEvents(a, NULL, &before);
    send(c, "1", 1, 0);
    fd_set readable;
    FD_ZERO(&readable);
    FD_SET(a, &readable);
    struct timeval two = { 2, 0 };
    int ready = select(0, &readable, NULL, NULL, &two);
    WSAEnumNetworkEvents(a, NULL, &after);
    check("tcp.wsaaccept-selected", "wait=%lu %s calls=%d read-before-data=%d readable=%d read-after-data=%d", w, valid(a),
          condition.calls, (before.lNetworkEvents & FD_READ) != 0, ready, (after.lNetworkEvents & FD_READ) != 0);
    closesocket(a);
    closesocket(c);
    closesocket(l);
    WSACloseEvent(event);
}

/* WSAAccept, with and without a condition function: accepted, refused (the client
 * sees its connection reset) and deferred. */
void wsa_accept(void) {
    struct sockaddr_in at;
    SOCKET l = listening(&at);
    SOCKET c = tcp();
    connect(c, (struct sockaddr *)&at, sizeof at);
    struct sockaddr_in client_name, peer;
    int length = sizeof client_name;
    getsockname(c, (struct sockaddr *)&client_name, &length);
    memset(&condition, 0, sizeof condition);
    condition.answer = CF_ACCEPT;
    length = sizeof peer;
    SOCKET a = WSAAccept(l, (struct sockaddr *)&peer, &length, judge, 7);
    check("tcp.wsaaccept", "%s calls=%d caller-length=%d caller-is-client=%d callee-length=%d callee-is-listener=%d peer-is-client=%d",
          valid(a), condition.calls, condition.caller_length, same(condition.caller, client_name), condition.callee_length,
          same(condition.callee, at), a != INVALID_SOCKET && same(peer, client_name));
    DWORD timeout = 2000;
    setsockopt(a, SOL_SOCKET, SO_RCVTIMEO, (char *)&timeout, sizeof timeout);
    char data[4] = "";
    send(c, "wsa", 3, 0);
    check("tcp.wsaaccept-session", "got=%d %.3s", receive_all(a, data, 3), data);
    closesocket(a);
    closesocket(c);

    c = tcp();
    connect(c, (struct sockaddr *)&at, sizeof at);
    memset(&condition, 0, sizeof condition);
    condition.answer = CF_REJECT;
    a = WSAAccept(l, NULL, NULL, judge, 7);
    check("tcp.wsaaccept-rejected", "%s calls=%d", valid(a), condition.calls);
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, (char *)&timeout, sizeof timeout);
    int r = recv(c, data, sizeof data, 0);
    check("tcp.wsaaccept-rejected-client", "%s", rc(r));
    closesocket(c);

    c = tcp();
    connect(c, (struct sockaddr *)&at, sizeof at);
    length = sizeof peer;
    a = WSAAccept(l, (struct sockaddr *)&peer, &length, NULL, 0);
    check("tcp.wsaaccept-no-condition", "%s peer-is-client=%d", valid(a), a != INVALID_SOCKET && (getsockname(c, (struct sockaddr *)&client_name, &(int){ sizeof client_name }), same(peer, client_name)));
    closesocket(a);
    closesocket(c);
    wsa_accept_deferred(l, at);
    closesocket(l);
    wsa_accept_selected();
}
