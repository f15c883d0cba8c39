/* TCP checks of conformance.exe, the extension functions and their kin: ConnectEx, AcceptEx
 * (with GetAcceptExSockaddrs, and its three ways of ending while it waits), the extension pointers on sockets that are not virtual (and theirs
 * used on virtual ones), and an overlapped send the peer reads later. As conformance_tcp.c: relations, never ports. */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conformance.h"

void connect_ex(void) {
    struct sockaddr_in at;
    SOCKET l = listening(&at);
    SOCKET c = tcp();
    GUID id = WSAID_CONNECTEX;
    LPFN_CONNECTEX connect_ex = NULL;
    DWORD returned = 0;
    int r = WSAIoctl(c, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof id, &connect_ex, sizeof connect_ex, &returned, NULL, NULL);
    check("tcp.connectex-pointer", "%s found=%d", rc(r), connect_ex != NULL);
    if (!connect_ex) { closesocket(c); closesocket(l); return; }
    WSAOVERLAPPED o;
    memset(&o, 0, sizeof o);
    o.hEvent = WSACreateEvent();
    DWORD sent = 0, bytes = 0, flags = 0;
    BOOL ok = connect_ex(c, (struct sockaddr *)&at, sizeof at, "hello", 5, &sent, &o);
    check("tcp.connectex-unbound", "ok=%d error=%d", ok, ok ? 0 : WSAGetLastError());
    struct sockaddr_in any = address("0.0.0.0", 0);
    bind(c, (struct sockaddr *)&any, sizeof any);
    ok = connect_ex(c, (struct sockaddr *)&at, sizeof at, "hello", 5, &sent, &o);
    int error = ok ? 0 : WSAGetLastError();
    DWORD w = WSAWaitForMultipleEvents(1, &o.hEvent, FALSE, 2000, FALSE);
    BOOL done = WSAGetOverlappedResult(c, &o, &bytes, FALSE, &flags);
    check("tcp.connectex", "ok=%d error=%d wait=%lu done=%d bytes=%lu", ok, error, w, done, bytes);
    check("tcp.connectex-update-context", "%s", rc(setsockopt(c, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, NULL, 0)));
    struct sockaddr_in peer, name;
    int length = sizeof peer;
    getpeername(c, (struct sockaddr *)&peer, &length);
    SOCKET a = accept(l, NULL, NULL);
    length = sizeof name;
    getsockname(c, (struct sockaddr *)&name, &length);
    DWORD timeout = 2000;
    setsockopt(a, SOL_SOCKET, SO_RCVTIMEO, (char *)&timeout, sizeof timeout);
    char buffer[8] = "";
    int got = receive_all(a, buffer, 5);
    check("tcp.connectex-session", "peer-is-listener=%d local=%s first-bytes=%d %.5s", same(peer, at), inet_ntoa(name.sin_addr), got, buffer);
    closesocket(a);
    closesocket(c);
    /* Nothing listens on a bound port: the handshake is refused, in the OVERLAPPED. */
    SOCKET quiet = tcp();
    struct sockaddr_in nobody = address("127.0.0.1", 0);
    length = sizeof nobody;
    bind(quiet, (struct sockaddr *)&nobody, sizeof nobody);
    getsockname(quiet, (struct sockaddr *)&nobody, &length);
    c = tcp();
    bind(c, (struct sockaddr *)&any, sizeof any);
    WSAResetEvent(o.hEvent);
    ok = connect_ex(c, (struct sockaddr *)&nobody, sizeof nobody, NULL, 0, NULL, &o);
    error = ok ? 0 : WSAGetLastError();
    w = WSAWaitForMultipleEvents(1, &o.hEvent, FALSE, 5000, FALSE);
    done = WSAGetOverlappedResult(c, &o, &bytes, FALSE, &flags);
    check("tcp.connectex-refused", "ok=%d error=%d wait=%lu done=%d result=%d", ok, error, w, done, done ? 0 : WSAGetLastError());
    WSACloseEvent(o.hEvent);
    closesocket(c);
    closesocket(quiet);
    closesocket(l);
}

/* The extension function `id` of a socket, from WSAIoctl (NULL: none). */
static void *extension_of(SOCKET s, GUID id) {
    void *pointer = NULL;
    DWORD returned = 0;
    WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof id, &pointer, sizeof pointer, &returned, NULL, NULL);
    return pointer;
}

/* The AcceptEx and GetAcceptExSockaddrs of a socket, from WSAIoctl. */
static LPFN_ACCEPTEX accept_ex_of(SOCKET s, LPFN_GETACCEPTEXSOCKADDRS *addresses) {
    *addresses = (LPFN_GETACCEPTEXSOCKADDRS)extension_of(s, (GUID)WSAID_GETACCEPTEXSOCKADDRS);
    return (LPFN_ACCEPTEX)extension_of(s, (GUID)WSAID_ACCEPTEX);
}

/* What GetAcceptExSockaddrs reads from an AcceptEx buffer, as relations: the local name
 * is the listener's, the remote one the client's. */
static void describe_names(const char *id, LPFN_GETACCEPTEXSOCKADDRS names, char *buffer, DWORD data,
                           struct sockaddr_in listener, SOCKET client) {
    struct sockaddr *local = NULL, *remote = NULL;
    int local_length = 0, remote_length = 0;
    names(buffer, data, sizeof(struct sockaddr_in) + 16, sizeof(struct sockaddr_in) + 16,
          &local, &local_length, &remote, &remote_length);
    struct sockaddr_in client_name;
    int length = sizeof client_name;
    getsockname(client, (struct sockaddr *)&client_name, &length);
    check(id, "local-length=%d local-is-listener=%d remote-length=%d remote-is-client=%d", local_length,
          local_length == sizeof listener && same(*(struct sockaddr_in *)local, listener), remote_length,
          remote_length == sizeof client_name && same(*(struct sockaddr_in *)remote, client_name));
}

/* A client connects, then AcceptEx takes its connection; `id` and `id`-names say how. */
static void accept_waiting(const char *id, LPFN_ACCEPTEX accept_ex, LPFN_GETACCEPTEXSOCKADDRS names, SOCKET l,
                           struct sockaddr_in at, HANDLE port, WSAOVERLAPPED *o) {
    char buffer[2 * (sizeof(struct sockaddr_in) + 16)], names_id[64];
    const DWORD name_size = sizeof(struct sockaddr_in) + 16;
    DWORD got = 0, bytes = 0, flags = 0, port_bytes = 0;
    ULONG_PTR key = 0;
    OVERLAPPED *which = NULL;
    SOCKET c = tcp();
    connect(c, (struct sockaddr *)&at, sizeof at);
    SOCKET a = tcp();
    /* The accept socket on the port before AcceptEx (some servers do): the end is still the listener's. */
    CreateIoCompletionPort((HANDLE)a, port, 43, 0);
    WSAResetEvent(o->hEvent);
    BOOL ok = accept_ex(l, a, buffer, 0, name_size, name_size, &got, o);
    int error = ok ? 0 : WSAGetLastError();
    DWORD w = WSAWaitForMultipleEvents(1, &o->hEvent, FALSE, 2000, FALSE);
    BOOL done = WSAGetOverlappedResult(l, o, &bytes, FALSE, &flags);
    BOOL queued = GetQueuedCompletionStatus(port, &port_bytes, &key, &which, 2000);
    check(id, "ok=%d error=%d wait=%lu done=%d bytes=%lu packet=%d key=%lu", ok, error, w, done, bytes, queued, (unsigned long)key);
    snprintf(names_id, sizeof names_id, "%s-names", id);
    describe_names(names_id, names, buffer, 0, at, c);
    closesocket(a);
    closesocket(c);
}

/* What ends a waiting AcceptEx: CancelIoEx, or a close of one of its sockets (1: done). */
typedef int (*accept_ender)(SOCKET l, SOCKET a, WSAOVERLAPPED *o);
static int cancel_it(SOCKET l, SOCKET a, WSAOVERLAPPED *o) { (void)a; return CancelIoEx((HANDLE)l, o); }
static int close_acceptor(SOCKET l, SOCKET a, WSAOVERLAPPED *o) { (void)l; (void)o; return closesocket(a) == 0; }
static int close_listener(SOCKET l, SOCKET a, WSAOVERLAPPED *o) { (void)a; (void)o; return closesocket(l) == 0; }

/* Posts AcceptEx with no connection coming, ends it with `end`, and says how it ended. */
static void accept_ended(const char *id, LPFN_ACCEPTEX accept_ex, SOCKET l, SOCKET a, WSAOVERLAPPED *o, accept_ender end) {
    static char buffer[2 * (sizeof(struct sockaddr_in) + 16)];  /* the operation's until it ends */
    const DWORD name_size = sizeof(struct sockaddr_in) + 16;
    DWORD got = 0, bytes = 0, flags = 0;
    WSAResetEvent(o->hEvent);
    accept_ex(l, a, buffer, 0, name_size, name_size, &got, o);
    int ended = end(l, a, o);
    DWORD w = WSAWaitForMultipleEvents(1, &o->hEvent, FALSE, 2000, FALSE);
    BOOL done = WSAGetOverlappedResult(l, o, &bytes, FALSE, &flags);
    check(id, "ended=%d wait=%lu done=%d error=%d", ended, w, done, done ? 0 : WSAGetLastError());
}

/* AcceptEx from WSAIoctl's pointer, as IOCP servers accept: the connection comes on a socket
 * the program made, the end in the OVERLAPPED and on the listener's port, the names in the
 * buffer (GetAcceptExSockaddrs reads them). */
void accept_ex(void) {
    struct sockaddr_in at;
    SOCKET l = listening(&at);
    LPFN_GETACCEPTEXSOCKADDRS names = NULL;
    LPFN_ACCEPTEX accept_ex = accept_ex_of(l, &names);
    check("tcp.acceptex-pointers", "acceptex=%d names=%d", accept_ex != NULL, names != NULL);
    if (!accept_ex || !names) { closesocket(l); return; }
    char buffer[2 * (sizeof(struct sockaddr_in) + 16) + 16];
    const DWORD name_size = sizeof(struct sockaddr_in) + 16;
    DWORD got = 0, bytes = 0, flags = 0;
    SOCKET a = tcp();
    BOOL ok = accept_ex(l, a, buffer, 0, name_size, name_size, &got, NULL);
    check("tcp.acceptex-no-overlapped", "ok=%d error=%d", ok, ok ? 0 : WSAGetLastError());
    WSAOVERLAPPED o;
    memset(&o, 0, sizeof o);
    o.hEvent = WSACreateEvent();
    SOCKET quiet = tcp();
    ok = accept_ex(quiet, a, buffer, 0, name_size, name_size, &got, &o);
    int error = ok ? 0 : WSAGetLastError();
    DWORD w = WSAWaitForMultipleEvents(1, &o.hEvent, FALSE, 2000, FALSE);
    BOOL done = WSAGetOverlappedResult(quiet, &o, &bytes, FALSE, &flags);
    check("tcp.acceptex-not-listening", "ok=%d error=%d wait=%lu done=%d result=%d", ok, error, w, done, done ? 0 : WSAGetLastError());
    closesocket(quiet);
    SOCKET bound_one = tcp();
    struct sockaddr_in any = address("0.0.0.0", 0);
    bind(bound_one, (struct sockaddr *)&any, sizeof any);
    WSAResetEvent(o.hEvent);
    ok = accept_ex(l, bound_one, buffer, 0, name_size, name_size, &got, &o);
    error = ok ? 0 : WSAGetLastError();
    w = WSAWaitForMultipleEvents(1, &o.hEvent, FALSE, 2000, FALSE);
    done = WSAGetOverlappedResult(l, &o, &bytes, FALSE, &flags);
    check("tcp.acceptex-bound-acceptor", "ok=%d error=%d wait=%lu done=%d result=%d", ok, error, w, done, done ? 0 : WSAGetLastError());
    closesocket(bound_one);

    /* Posted before the connection: pending, then done with 0 bytes on the listener's port. */
    HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    CreateIoCompletionPort((HANDLE)l, port, 41, 0);
    WSAResetEvent(o.hEvent);
    ok = accept_ex(l, a, buffer, 0, name_size, name_size, &got, &o);
    error = ok ? 0 : WSAGetLastError();
    check("tcp.acceptex-pending", "ok=%d error=%d", ok, error);
    SOCKET c = tcp();
    check("tcp.acceptex-client-connect", "%s", rc(connect(c, (struct sockaddr *)&at, sizeof at)));
    w = WSAWaitForMultipleEvents(1, &o.hEvent, FALSE, 2000, FALSE);
    done = WSAGetOverlappedResult(l, &o, &bytes, FALSE, &flags);
    check("tcp.acceptex-done", "wait=%lu done=%d bytes=%lu", w, done, bytes);
    DWORD port_bytes = 99;
    ULONG_PTR key = 0;
    OVERLAPPED *which = NULL;
    BOOL queued = GetQueuedCompletionStatus(port, &port_bytes, &key, &which, 2000);
    check("tcp.acceptex-port", "ok=%d key=%lu bytes=%lu ours=%d", queued, (unsigned long)key, port_bytes, which == &o);
    describe_names("tcp.acceptex-names", names, buffer, 0, at, c);
    struct sockaddr_in peer;
    int length = sizeof peer;
    check("tcp.acceptex-peer-before-update", "%s", rc(getpeername(a, (struct sockaddr *)&peer, &length)));
    check("tcp.acceptex-update-context", "%s", rc(setsockopt(a, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, (char *)&l, sizeof l)));
    struct sockaddr_in client_name;
    int client_length = sizeof client_name;
    getsockname(c, (struct sockaddr *)&client_name, &client_length);
    length = sizeof peer;
    int r = getpeername(a, (struct sockaddr *)&peer, &length);
    check("tcp.acceptex-peer", "%s peer-is-client=%d", rc(r), r == 0 && same(peer, client_name));
    DWORD timeout = 2000;
    setsockopt(a, SOL_SOCKET, SO_RCVTIMEO, (char *)&timeout, sizeof timeout);
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, (char *)&timeout, sizeof timeout);
    char data[8] = "";
    send(c, "ping", 4, 0);
    int one = receive_all(a, data, 4);
    send(a, "pong", 4, 0);
    int two = receive_all(c, data + 4, 4);
    check("tcp.acceptex-session", "got=%d,%d %.8s", one, two, data);
    closesocket(a);
    closesocket(c);

    /* With a first block of data: the end comes with it, the names after it. */
    a = tcp();
    WSAResetEvent(o.hEvent);
    ok = accept_ex(l, a, buffer, 16, name_size, name_size, &got, &o);
    error = ok ? 0 : WSAGetLastError();
    c = tcp();
    connect(c, (struct sockaddr *)&at, sizeof at);
    send(c, "first", 5, 0);
    w = WSAWaitForMultipleEvents(1, &o.hEvent, FALSE, 2000, FALSE);
    done = WSAGetOverlappedResult(l, &o, &bytes, FALSE, &flags);
    check("tcp.acceptex-data", "ok=%d error=%d wait=%lu done=%d bytes=%lu %.5s", ok, error, w, done, bytes, buffer);
    GetQueuedCompletionStatus(port, &port_bytes, &key, &which, 2000);
    describe_names("tcp.acceptex-data-names", names, buffer, 16, at, c);
    closesocket(a);
    closesocket(c);

    /* A connection already waiting when AcceptEx is posted; then the same through
     * mswsock's exports, as programs linked with mswsock.lib call them. */
    accept_waiting("tcp.acceptex-queued", accept_ex, names, l, at, port, &o);
    accept_waiting("tcp.acceptex-mswsock", AcceptEx, GetAcceptExSockaddrs, l, at, port, &o);

    /* Cancelled, and ended by the listener's close: aborted. */
    a = tcp();
    accept_ended("tcp.acceptex-cancelled", accept_ex, l, a, &o, cancel_it);
    GetQueuedCompletionStatus(port, &port_bytes, &key, &which, 2000);
    accept_ended("tcp.acceptex-acceptor-closed", accept_ex, l, a, &o, close_acceptor);
    GetQueuedCompletionStatus(port, &port_bytes, &key, &which, 2000);
    a = tcp();
    accept_ended("tcp.acceptex-listener-closed", accept_ex, l, a, &o, close_listener);
    closesocket(a);
    CloseHandle(port);
    WSACloseEvent(o.hEvent);
}

/* The other way round: pointers a program got on IPv6 sockets (which the DLL leaves
 * alone), used on IPv4 ones (virtual with the DLL). One provider has one function, so
 * they act as the IPv4 socket's own: AcceptEx's first bytes and names are the client's,
 * WSARecvMsg's datagram is the sender's payload from the sender's port. */
void extensions_from_elsewhere(void) {
    SOCKET t6 = socket(AF_INET6, SOCK_STREAM, IPPROTO_TCP), u6 = socket(AF_INET6, SOCK_DGRAM, IPPROTO_UDP);
    LPFN_GETACCEPTEXSOCKADDRS names = NULL;
    LPFN_ACCEPTEX accept_ex = accept_ex_of(t6, &names);
    LPFN_WSARECVMSG recv_msg = (LPFN_WSARECVMSG)extension_of(u6, (GUID)WSAID_WSARECVMSG);
    closesocket(t6);
    closesocket(u6);
    check("ext.ipv6-pointers", "acceptex=%d names=%d recvmsg=%d", accept_ex != NULL, names != NULL, recv_msg != NULL);
    if (!accept_ex || !names || !recv_msg) return;

    struct sockaddr_in at;
    SOCKET l = listening(&at), c = tcp(), a = tcp();
    int connected = connect(c, (struct sockaddr *)&at, sizeof at) == 0 && send(c, "four", 4, 0) == 4;
    WSAOVERLAPPED o;
    memset(&o, 0, sizeof o);
    o.hEvent = WSACreateEvent();
    char buffer[4 + 2 * (sizeof(struct sockaddr_in) + 16)];
    DWORD got = 0, bytes = 0, flags = 0;
    BOOL ok = accept_ex(l, a, buffer, 4, sizeof(struct sockaddr_in) + 16, sizeof(struct sockaddr_in) + 16, &got, &o);
    int error = ok ? 0 : WSAGetLastError();
    DWORD w = WSAWaitForMultipleEvents(1, &o.hEvent, FALSE, 2000, FALSE);
    BOOL done = WSAGetOverlappedResult(l, &o, &bytes, FALSE, &flags);
    check("ext.ipv6-acceptex-on-ipv4", "connected=%d ok=%d error=%d wait=%lu done=%d bytes=%lu data=%.4s", connected, ok, error, w,
          done, bytes, done && bytes == 4 ? buffer : "");
    if (done) describe_names("ext.ipv6-acceptex-on-ipv4-names", names, buffer, 4, at, c);
    WSACloseEvent(o.hEvent);
    closesocket(a);
    closesocket(c);
    closesocket(l);

    SOCKET r = bound("127.0.0.1", 0), s = udp();
    int sent = send_to(s, self(r), "five!", 5) == 5 && readable(r);
    char data[64];
    WSABUF part = {sizeof data, data};
    struct sockaddr_in from;
    WSAMSG message = message_into(&from, &part, NULL, 0);
    DWORD received = 0;
    int result = recv_msg(r, &message, &received, NULL, NULL);
    check("ext.ipv6-recvmsg-on-ipv4", "sent=%d %s bytes=%lu data=%.*s from-sender=%d", sent, rc(result), received,
          (int)(received < sizeof data ? received : 0), data, from.sin_port == htons(port_of(s)));
    closesocket(s);
    closesocket(r);
}

/* The pointers a program got on an IPv4 TCP socket, used on an IPv6 one (one TCP provider,
 * one function: programs keep the first pointer they get). The DLL leaves IPv6 alone, so
 * these are the system's answers with it too. */
void extensions_elsewhere(void) {
    SOCKET v4 = tcp();
    LPFN_GETACCEPTEXSOCKADDRS names = NULL;
    LPFN_ACCEPTEX accept_ex = accept_ex_of(v4, &names);
    LPFN_CONNECTEX connect_ex = (LPFN_CONNECTEX)extension_of(v4, (GUID)WSAID_CONNECTEX);
    closesocket(v4);
    SOCKET l = socket(AF_INET6, SOCK_STREAM, IPPROTO_TCP);
    struct sockaddr_in6 at;
    memset(&at, 0, sizeof at);
    at.sin6_family = AF_INET6;
    at.sin6_addr = in6addr_loopback;
    int length = sizeof at;
    int bound = bind(l, (struct sockaddr *)&at, sizeof at) == 0 && listen(l, 5) == 0 && getsockname(l, (struct sockaddr *)&at, &length) == 0;
    check("tcp.extensions-ipv6-listener", "ready=%d pointers=%d", bound, accept_ex && connect_ex);
    if (!bound || !accept_ex || !connect_ex) { closesocket(l); return; }
    SOCKET c = socket(AF_INET6, SOCK_STREAM, IPPROTO_TCP), a = socket(AF_INET6, SOCK_STREAM, IPPROTO_TCP);
    struct sockaddr_in6 any;
    memset(&any, 0, sizeof any);
    any.sin6_family = AF_INET6;
    bind(c, (struct sockaddr *)&any, sizeof any);
    WSAOVERLAPPED oc, oa;
    memset(&oc, 0, sizeof oc);
    memset(&oa, 0, sizeof oa);
    oc.hEvent = WSACreateEvent();
    oa.hEvent = WSACreateEvent();
    char buffer[2 * (sizeof(struct sockaddr_in6) + 16)];
    DWORD got = 0, bytes = 0, flags = 0;
    BOOL accepting = accept_ex(l, a, buffer, 0, sizeof(struct sockaddr_in6) + 16, sizeof(struct sockaddr_in6) + 16, &got, &oa);
    int accept_error = accepting ? 0 : WSAGetLastError();
    BOOL connecting = connect_ex(c, (struct sockaddr *)&at, sizeof at, "six", 3, &got, &oc);
    int connect_error = connecting ? 0 : WSAGetLastError();
    DWORD wc = WSAWaitForMultipleEvents(1, &oc.hEvent, FALSE, 2000, FALSE);
    BOOL connected = WSAGetOverlappedResult(c, &oc, &bytes, FALSE, &flags);
    DWORD wa = WSAWaitForMultipleEvents(1, &oa.hEvent, FALSE, 2000, FALSE);
    BOOL accepted = WSAGetOverlappedResult(l, &oa, &bytes, FALSE, &flags);
    check("tcp.extensions-ipv6", "connectex=%d/%d wait=%lu done=%d acceptex=%d/%d wait=%lu done=%d", connecting, connect_error, wc,
          connected, accepting, accept_error, wa, accepted);
    WSACloseEvent(oc.hEvent);
    WSACloseEvent(oa.hEvent);
    closesocket(a);
    closesocket(c);
    closesocket(l);
}

/* A listener, a client connected to it, and the connection it accepted. */
static void connected_pair(SOCKET *l, SOCKET *c, SOCKET *a) {
    struct sockaddr_in at;
    *l = listening(&at);
    *c = tcp();
    connect(*c, (struct sockaddr *)&at, sizeof at);
    *a = accept(*l, NULL, NULL);
}

/* An overlapped WSASend the peer does not read yet: pending, never blocking the caller;
 * it ends with every byte once the peer has read them all. */
void overlapped_send(void) {
    enum { SIZE = 32 << 20 };
    SOCKET l, c, a;
    connected_pair(&l, &c, &a);
    char *data = malloc(SIZE), *sink = malloc(1 << 20);
    for (int i = 0; i < SIZE; i++) data[i] = (char)(i * 7 + (i >> 13));
    WSABUF b = { SIZE, data };
    DWORD sent = 0, bytes = 0, flags = 0;
    WSAOVERLAPPED o;
    memset(&o, 0, sizeof o);
    o.hEvent = WSACreateEvent();
    DWORD before = GetTickCount();
    int r = WSASend(c, &b, 1, &sent, 0, &o, NULL);
    int error = r ? WSAGetLastError() : 0;
    DWORD in_call = GetTickCount() - before;
    DWORD early = WSAWaitForMultipleEvents(1, &o.hEvent, FALSE, 0, FALSE);
    check("tcp.overlapped-send-pending", "%s in-call-under-2s=%d done-yet=%d", r ? rc(r) : "0", in_call < 2000, early == WSA_WAIT_EVENT_0);
    (void)error;
    DWORD timeout = 5000;
    setsockopt(a, SOL_SOCKET, SO_RCVTIMEO, (char *)&timeout, sizeof timeout);
    long total = 0;
    int same = 1, n;
    while (total < SIZE && (n = recv(a, sink, 1 << 20, 0)) > 0) {
        same &= memcmp(sink, data + total, (size_t)n) == 0;
        total += n;
    }
    DWORD w = WSAWaitForMultipleEvents(1, &o.hEvent, FALSE, 5000, FALSE);
    BOOL done = WSAGetOverlappedResult(c, &o, &bytes, FALSE, &flags);
    check("tcp.overlapped-send-done", "received=%ld in-order=%d wait=%lu done=%d bytes=%lu", total, same, w, done, bytes);
    WSACloseEvent(o.hEvent);
    free(data);
    free(sink);
    closesocket(a);
    closesocket(c);
    closesocket(l);
}

/* closesocket aborts a pending overlapped send: its OVERLAPPED ends with the abort. (When
 * it is written differs: Windows writes it in the issuing thread's kernel APC, Wine at some
 * later server call of that thread, the DLL before closesocket returns.) */
void overlapped_send_closed(void) {
    enum { SIZE = 32 << 20 };
    SOCKET l, c, a;
    connected_pair(&l, &c, &a);
    char *data = calloc(1, SIZE);
    WSABUF b = { SIZE, data };
    DWORD sent = 0;
    WSAOVERLAPPED o;
    memset(&o, 0, sizeof o);
    o.hEvent = WSACreateEvent();
    int r = WSASend(c, &b, 1, &sent, 0, &o, NULL);
    int pending = r != 0 && WSAGetLastError() == WSA_IO_PENDING;
    closesocket(c);
    DWORD w = WSAWaitForMultipleEvents(1, &o.hEvent, FALSE, 5000, TRUE);
    check("tcp.overlapped-send-closed", "pending=%d wait=%lu status=%#lx", pending, w, (DWORD)o.Internal);
    WSACloseEvent(o.hEvent);
    free(data);
    closesocket(a);
    closesocket(l);
}
