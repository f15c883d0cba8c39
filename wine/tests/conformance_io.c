/* conformance.exe, the kernel32 side of sockets: completion ports, GetOverlappedResult,
 * ReadFile and WriteFile on UDP sockets (the same line format as conformance.c). Every
 * wait is bounded: a completion that never comes is an outcome ("258": WAIT_TIMEOUT). */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>
#include <stdio.h>
#include <string.h>
#include "conformance.h"

/* What one GetQueuedCompletionStatus returned, as text: ok, the error when not ok, the
 * bytes, the key and whether the OVERLAPPED is the one expected. */
static const char *dequeued(HANDLE port, DWORD timeout, const OVERLAPPED *expected) {
    static char text[4][96];
    static int next;
    char *t = text[next++ % 4];
    DWORD bytes = 0;
    ULONG_PTR key = 0;
    OVERLAPPED *overlapped = NULL;
    BOOL ok = GetQueuedCompletionStatus(port, &bytes, &key, &overlapped, timeout);
    DWORD error = ok ? 0 : GetLastError();
    if (!ok && !overlapped) snprintf(t, 96, "none error=%lu", error);
    else snprintf(t, 96, "ok=%d error=%lu bytes=%lu key=%lu same=%d", ok, error, bytes, (unsigned long)key, overlapped == expected);
    return t;
}

/* WSARecvFrom posted with an OVERLAPPED: "0" done at once, "-1/997" pending. */
static int post_receive(SOCKET s, WSABUF *buffer, OVERLAPPED *overlapped) {
    DWORD received = 0, flags = 0;
    memset(overlapped, 0, sizeof *overlapped);
    return WSARecvFrom(s, buffer, 1, &received, &flags, NULL, NULL, (LPWSAOVERLAPPED)overlapped, NULL);
}

static void drain(SOCKET s) {
    char scratch[64];
    while (readable(s) && recvfrom(s, scratch, sizeof scratch, 0, NULL, NULL) >= 0) {}
}

void completion_port_checks(void) {
    SOCKET s = bound("0.0.0.0", 0);
    HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    check("iocp.create", "%s", port ? "port" : "none");
    if (!port) { closesocket(s); return; }
    HANDLE joined = CreateIoCompletionPort((HANDLE)s, port, 77, 0);
    check("iocp.associate", "same=%d error=%lu", joined == port, joined ? 0 : GetLastError());
    HANDLE other = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    HANDLE again = CreateIoCompletionPort((HANDLE)s, other, 78, 0);
    check("iocp.associate-again", "result=%s error=%lu", again == other ? "port" : again ? "other" : "none", again ? 0 : GetLastError());
    SOCKET t = bound("0.0.0.0", 0);
    HANDLE bogus = CreateIoCompletionPort((HANDLE)t, (HANDLE)(ULONG_PTR)0x7ff8, 1, 0);
    check("iocp.associate-not-a-handle", "result=%s error=%lu", bogus ? "port" : "none", bogus ? 0 : GetLastError());
    HANDLE not_port = CreateEventA(NULL, TRUE, FALSE, NULL);
    bogus = CreateIoCompletionPort((HANDLE)t, not_port, 1, 0);
    check("iocp.associate-an-event", "result=%s error=%lu", bogus ? "port" : "none", bogus ? 0 : GetLastError());
    CloseHandle(not_port);
    closesocket(t);
    check("iocp.nothing-queued", "%s", dequeued(port, 0, NULL));

    char data[64];
    WSABUF buffer = { sizeof data, data };
    OVERLAPPED overlapped;
    check("iocp.recv-pending", "%s", rc(post_receive(s, &buffer, &overlapped)));
    send_to(s, self(s), "port", 4);
    check("iocp.recv-completes", "%s data=%.4s", dequeued(port, 2000, &overlapped), data);

    send_to(s, self(s), "now", 3);
    readable(s);
    check("iocp.recv-at-once", "%s", rc(post_receive(s, &buffer, &overlapped)));
    check("iocp.recv-at-once-posts", "%s", dequeued(port, 1000, &overlapped));

    OVERLAPPED sending;
    memset(&sending, 0, sizeof sending);
    DWORD sent = 0;
    struct sockaddr_in to = self(s);
    WSABUF out = { 5, "sent!" };
    int r = WSASendTo(s, &out, 1, &sent, 0, (struct sockaddr *)&to, sizeof to, (LPWSAOVERLAPPED)&sending, NULL);
    check("iocp.send", "%s sent=%lu", rc(r), sent);
    check("iocp.send-posts", "%s", dequeued(port, 1000, &sending));
    drain(s);

    WSABUF small = { 2, data };
    check("iocp.truncated-pending", "%s", rc(post_receive(s, &small, &overlapped)));
    send_to(s, self(s), "toolong", 7);
    check("iocp.truncated", "%s", dequeued(port, 2000, &overlapped));

    post_receive(s, &buffer, &overlapped);
    BOOL cancelled = CancelIoEx((HANDLE)s, &overlapped);
    check("iocp.cancelled", "cancel=%d %s", cancelled, dequeued(port, 2000, &overlapped));

    /* An event handle with its low bit set: the event is signalled, nothing is queued. */
    HANDLE event = CreateEventA(NULL, TRUE, FALSE, NULL);
    memset(&overlapped, 0, sizeof overlapped);
    overlapped.hEvent = (HANDLE)((ULONG_PTR)event | 1);
    DWORD received = 0, flags = 0;
    const char *posted = rc(WSARecvFrom(s, &buffer, 1, &received, &flags, NULL, NULL, (LPWSAOVERLAPPED)&overlapped, NULL));
    send_to(s, self(s), "bit", 3);
    DWORD w = WaitForSingleObject(event, 2000);
    check("iocp.event-low-bit", "%s wait=%lu %s", posted, w, dequeued(port, 300, &overlapped));
    CloseHandle(event);

    check("iocp.skip-on-success", "ok=%d", SetFileCompletionNotificationModes((HANDLE)s, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS));
    send_to(s, self(s), "skip", 4);
    readable(s);
    check("iocp.skip-at-once", "%s", rc(post_receive(s, &buffer, &overlapped)));
    check("iocp.skip-nothing-queued", "%s", dequeued(port, 300, &overlapped));
    check("iocp.skip-pending", "%s", rc(post_receive(s, &buffer, &overlapped)));
    send_to(s, self(s), "late", 4);
    check("iocp.skip-pending-posts", "%s", dequeued(port, 2000, &overlapped));

    OVERLAPPED two[2];
    post_receive(s, &buffer, &two[0]);
    send_to(s, self(s), "one", 3);
    char second_data[8];
    WSABUF second = { sizeof second_data, second_data };
    readable(s);
    Sleep(0);
    post_receive(s, &second, &two[1]);
    send_to(s, self(s), "two", 3);
    OVERLAPPED_ENTRY entries[4];
    ULONG removed = 0, total = 0;
    for (int i = 0; i < 2 && total < 2; i++) {
        removed = 0;
        if (!GetQueuedCompletionStatusEx(port, entries + total, 4 - total, &removed, 2000, FALSE)) break;
        total += removed;
    }
    check("iocp.status-ex", "count=%lu key=%lu bytes=%lu,%lu", total, total ? (unsigned long)entries[0].lpCompletionKey : 0,
          total ? entries[0].dwNumberOfBytesTransferred : 0, total > 1 ? entries[1].dwNumberOfBytesTransferred : 0);

    check("iocp.close-pending", "%s", rc(post_receive(s, &buffer, &overlapped)));
    closesocket(s);
    check("iocp.close-posts", "%s", dequeued(port, 2000, &overlapped));
    CloseHandle(other);
    CloseHandle(port);
}

/* ---- GetOverlappedResult(Ex), ReadFile, WriteFile ---- */
void file_checks(void) {
    SOCKET a = bound("0.0.0.0", 0), b = bound("0.0.0.0", 0);
    char data[64];
    WSABUF buffer = { sizeof data, data };
    OVERLAPPED overlapped;
    memset(&overlapped, 0, sizeof overlapped);
    overlapped.hEvent = CreateEventA(NULL, TRUE, FALSE, NULL);
    DWORD received = 0, flags = 0, transferred = 99;
    WSARecvFrom(b, &buffer, 1, &received, &flags, NULL, NULL, (LPWSAOVERLAPPED)&overlapped, NULL);
    BOOL ok = GetOverlappedResult((HANDLE)b, &overlapped, &transferred, FALSE);
    check("file.result-incomplete", "ok=%d error=%lu", ok, ok ? 0 : GetLastError());
    ok = GetOverlappedResultEx((HANDLE)b, &overlapped, &transferred, 100, FALSE);
    check("file.result-ex-timeout", "ok=%d error=%lu", ok, ok ? 0 : GetLastError());
    send_to(a, self(b), "result", 6);
    ok = GetOverlappedResultEx((HANDLE)b, &overlapped, &transferred, 2000, FALSE);
    check("file.result-ex-done", "ok=%d error=%lu transferred=%lu data=%.6s", ok, ok ? 0 : GetLastError(), transferred, data);
    ok = GetOverlappedResult((HANDLE)b, &overlapped, &transferred, TRUE);
    check("file.result-again", "ok=%d transferred=%lu", ok, transferred);

    /* No event: the wait is on the socket handle itself, signalled when the I/O ends. */
    OVERLAPPED bare;
    memset(&bare, 0, sizeof bare);
    memset(data, 0, sizeof data);
    WSARecvFrom(b, &buffer, 1, &received, &flags, NULL, NULL, (LPWSAOVERLAPPED)&bare, NULL);
    send_to(a, self(b), "handle", 6);
    ok = GetOverlappedResultEx((HANDLE)b, &bare, &transferred, 2000, FALSE);
    check("file.result-ex-no-event", "ok=%d error=%lu transferred=%lu data=%.6s", ok, ok ? 0 : GetLastError(), transferred, data);
    memset(&bare, 0, sizeof bare);
    WSARecvFrom(b, &buffer, 1, &received, &flags, NULL, NULL, (LPWSAOVERLAPPED)&bare, NULL);
    watchdog waker;  /* its wake-up datagram (after 3 s) is what the wait waits for */
    HANDLE waker_thread;
    arm(&waker, &waker_thread, b, 0);
    DWORD wsa_flags = 0;
    ok = WSAGetOverlappedResult(b, (LPWSAOVERLAPPED)&bare, &transferred, TRUE, &wsa_flags);
    int wsa_error = ok ? 0 : WSAGetLastError();
    disarm(&waker, waker_thread);
    /* (the count is not printed: plain Wine's wait on the handle can end before it is written) */
    check("file.wsa-result-no-event-waits", "ok=%d error=%d woken=%d", ok, wsa_error, waker.fired);

    struct sockaddr_in to_b = self(b), to_a = self(a);
    connect(a, (struct sockaddr *)&to_b, sizeof to_b);
    connect(b, (struct sockaddr *)&to_a, sizeof to_a);
    DWORD written = 0, read = 0;
    ok = WriteFile((HANDLE)a, "file", 4, &written, NULL);
    check("file.write", "ok=%d error=%lu written=%lu", ok, ok ? 0 : GetLastError(), written);
    memset(data, 0, sizeof data);
    ok = readable(b) ? ReadFile((HANDLE)b, data, sizeof data, &read, NULL) : -1;
    check("file.read", "ok=%d error=%lu read=%lu data=%.8s", ok, ok == 0 ? GetLastError() : 0, read, data);
    WriteFile((HANDLE)a, "longer", 6, &written, NULL);
    read = 0;
    ok = readable(b) ? ReadFile((HANDLE)b, data, 2, &read, NULL) : -1;
    check("file.read-short", "ok=%d error=%lu read=%lu", ok, ok == 0 ? GetLastError() : 0, read);
    check("file.read-short-rest-gone", "%s", readable(b) ? "readable" : "nothing");

    ResetEvent(overlapped.hEvent);
    memset(data, 0, sizeof data);
    read = 99;
    ok = ReadFile((HANDLE)b, data, sizeof data, &read, &overlapped);
    check("file.read-overlapped", "ok=%d error=%lu", ok, ok ? 0 : GetLastError());
    WriteFile((HANDLE)a, "later", 5, &written, NULL);
    DWORD w = WaitForSingleObject(overlapped.hEvent, 2000);
    ok = GetOverlappedResult((HANDLE)b, &overlapped, &transferred, FALSE);
    check("file.read-overlapped-done", "wait=%lu ok=%d transferred=%lu data=%.8s", w, ok, transferred, data);

    OVERLAPPED writing;
    memset(&writing, 0, sizeof writing);
    writing.hEvent = CreateEventA(NULL, TRUE, FALSE, NULL);
    written = 99;
    ok = WriteFile((HANDLE)a, "ovl", 3, &written, &writing);
    w = WaitForSingleObject(writing.hEvent, 2000);
    check("file.write-overlapped", "ok=%d error=%lu wait=%lu", ok, ok ? 0 : GetLastError(), w);
    ok = GetOverlappedResult((HANDLE)a, &writing, &transferred, TRUE);
    check("file.write-overlapped-result", "ok=%d transferred=%lu", ok, transferred);
    drain(b);
    ok = WriteFile((HANDLE)a, "", 0, &written, NULL);
    check("file.write-empty", "ok=%d error=%lu written=%lu", ok, ok ? 0 : GetLastError(), written);
    check("file.write-empty-arrives", "%s", readable(b) ? "readable" : "nothing");
    drain(b);

    SOCKET lone = bound("0.0.0.0", 0);
    ok = WriteFile((HANDLE)lone, "x", 1, &written, NULL);
    check("file.write-unconnected", "ok=%d error=%lu", ok, ok ? 0 : GetLastError());
    nonblocking(lone, 1);
    watchdog guard;
    HANDLE thread;
    arm(&guard, &thread, lone, 0);
    ok = ReadFile((HANDLE)lone, data, sizeof data, &read, NULL);
    DWORD error = ok ? 0 : GetLastError();
    disarm(&guard, thread);
    /* once woken, what Wine answers varies (the wake datagram, or ERROR_IO_PENDING) */
    if (guard.fired) check("file.read-nonblocking-empty", "blocked until woken");
    else check("file.read-nonblocking-empty", "ok=%d error=%lu", ok, error);
    closesocket(lone);
    CloseHandle(writing.hEvent);
    CloseHandle(overlapped.hEvent);
    closesocket(a);
    closesocket(b);
}

/* ---- the program's WSAEventSelect and an overlapped receive on the same socket ---- */
void coexist_checks(void) {
    SOCKET s = bound("0.0.0.0", 0);
    WSAEVENT game = WSACreateEvent();
    check("coexist.select", "%s", rc(WSAEventSelect(s, game, FD_READ)));
    char data[16] = "";
    WSABUF buffer = { sizeof data, data };
    WSAOVERLAPPED overlapped;
    memset(&overlapped, 0, sizeof overlapped);
    overlapped.hEvent = WSACreateEvent();
    DWORD received = 0, flags = 0;
    int r = WSARecvFrom(s, &buffer, 1, &received, &flags, NULL, NULL, &overlapped, NULL);
    check("coexist.overlapped-pending", "%s", rc(r));
    send_to(s, self(s), "one", 3);
    DWORD w = WaitForSingleObject(overlapped.hEvent, 2000);
    check("coexist.overlapped-completes", "wait=%lu bytes=%lu data=%.3s", w, (unsigned long)overlapped.InternalHigh, data);
    WSANETWORKEVENTS happened;
    WSAEnumNetworkEvents(s, game, &happened);  /* whether "one" was also recorded depends on timing */
    send_to(s, self(s), "two", 3);
    w = WaitForSingleObject(game, 2000);
    memset(&happened, 0, sizeof happened);
    r = WSAEnumNetworkEvents(s, game, &happened);
    check("coexist.event-still-signalled", "wait=%lu %s events=0x%lx", w, rc(r), happened.lNetworkEvents);
    char two[8] = "";
    r = recvfrom(s, two, sizeof two, 0, NULL, NULL);
    check("coexist.recv", "%s data=%.3s", rc(r), two);
    WSAEventSelect(s, NULL, 0);
    WSACloseEvent(overlapped.hEvent);
    WSACloseEvent(game);
    closesocket(s);
}

/* ---- WSASendMsg (export and WSAIoctl pointer), WSARecvMsg overlapped ---- */
void message_checks(void) {
    SOCKET s = bound("0.0.0.0", 0);
    GUID send_id = WSAID_WSASENDMSG, receive_id = WSAID_WSARECVMSG;
    LPFN_WSASENDMSG send_fn = NULL;
    LPFN_WSARECVMSG receive_fn = NULL;
    DWORD returned = 0;
    int r = WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &send_id, sizeof send_id, &send_fn, sizeof send_fn, &returned, NULL, NULL);
    check("sendmsg.pointer", "%s returned=%lu", rc(r), returned);
    WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &receive_id, sizeof receive_id, &receive_fn, sizeof receive_fn, &returned, NULL, NULL);
    if (!send_fn || !receive_fn) { closesocket(s); return; }

    struct sockaddr_in to = self(s);
    char part1[] = "send", part2[] = "msg";
    WSABUF parts[2] = { { 4, part1 }, { 3, part2 } };
    WSAMSG message;
    memset(&message, 0, sizeof message);
    message.name = (struct sockaddr *)&to;
    message.namelen = sizeof to;
    message.lpBuffers = parts;
    message.dwBufferCount = 2;
    DWORD sent = 0;
    WSASetLastError(12345);
    r = send_fn(s, &message, 0, &sent, NULL, NULL);
    check("sendmsg.two-buffers", "%s sent=%lu last=%d", rc(r), sent, WSAGetLastError());
    char data[16] = "";
    check("sendmsg.arrives", "%s data=%.7s", rc(recv_ready(s, data, sizeof data, 0, NULL, NULL)), data);
    r = WSASendMsg(s, &message, 0, &sent, NULL, NULL);
    check("sendmsg.export", "%s sent=%lu", rc(r), sent);
    recv_ready(s, data, sizeof data, 0, NULL, NULL);

    message.name = NULL;
    message.namelen = 0;
    check("sendmsg.no-name-unconnected", "%s", rc(send_fn(s, &message, 0, &sent, NULL, NULL)));
    check("sendmsg.no-message", "%s", rc(send_fn(s, NULL, 0, &sent, NULL, NULL)));
    message.name = (struct sockaddr *)&to;
    message.namelen = sizeof to;
    check("sendmsg.oob-flag", "%s", rc(send_fn(s, &message, MSG_OOB, &sent, NULL, NULL)));
    recv_ready(s, data, sizeof data, 0, NULL, NULL);

    /* IP_PKTINFO control data choosing loopback as the source */
    char control[WSA_CMSG_SPACE(sizeof(IN_PKTINFO))];
    memset(control, 0, sizeof control);
    WSACMSGHDR *header = (WSACMSGHDR *)control;
    header->cmsg_len = WSA_CMSG_LEN(sizeof(IN_PKTINFO));
    header->cmsg_level = IPPROTO_IP;
    header->cmsg_type = IP_PKTINFO;
    ((IN_PKTINFO *)WSA_CMSG_DATA(header))->ipi_addr.s_addr = inet_addr("127.0.0.1");
    message.Control.buf = control;
    message.Control.len = sizeof control;
    r = send_fn(s, &message, 0, &sent, NULL, NULL);
    check("sendmsg.pktinfo-source", "%s sent=%lu", rc(r), sent);
    recv_ready(s, data, sizeof data, 0, NULL, NULL);
    message.Control.buf = NULL;
    message.Control.len = 0;

    WSAOVERLAPPED overlapped;
    memset(&overlapped, 0, sizeof overlapped);
    overlapped.hEvent = WSACreateEvent();
    r = send_fn(s, &message, 0, &sent, &overlapped, NULL);
    DWORD w = WaitForSingleObject(overlapped.hEvent, 2000);
    check("sendmsg.overlapped", "%s wait=%lu bytes=%lu", rc(r), w, (unsigned long)overlapped.InternalHigh);
    recv_ready(s, data, sizeof data, 0, NULL, NULL);

    /* WSARecvMsg overlapped, IP_PKTINFO on: the message is completed with the datagram */
    DWORD on = 1;
    setsockopt(s, IPPROTO_IP, IP_PKTINFO, (const char *)&on, sizeof on);
    char in_data[16] = "", in_control[64];
    memset(in_control, 0, sizeof in_control);
    struct sockaddr_in from;
    WSABUF in = { sizeof in_data, in_data };
    WSAMSG incoming = message_into(&from, &in, in_control, sizeof in_control);
    WSAResetEvent(overlapped.hEvent);
    DWORD received = 0;
    r = receive_fn(s, &incoming, &received, &overlapped, NULL);
    check("recvmsg.overlapped-pending", "%s", rc(r));
    send_to(s, to, "later", 5);
    w = WaitForSingleObject(overlapped.hEvent, 2000);
    DWORD transferred = 0, flags = 0;
    BOOL ok = WSAGetOverlappedResult(s, &overlapped, &transferred, FALSE, &flags);
    header = (WSACMSGHDR *)in_control;
    char where[16] = "-";
    if (incoming.Control.len >= sizeof *header && header->cmsg_type == IP_PKTINFO)
        snprintf(where, sizeof where, "%s", inet_ntoa(((IN_PKTINFO *)WSA_CMSG_DATA(header))->ipi_addr));
    check("recvmsg.overlapped-done", "wait=%lu ok=%d transferred=%lu data=%.5s namelen=%d from=%s control=%lu type=%d to=%s",
          w, ok, transferred, in_data, incoming.namelen, inet_ntoa(from.sin_addr), incoming.Control.len,
          incoming.Control.len >= sizeof *header ? header->cmsg_type : -1, where);
    send_to(s, to, "now", 3);
    readable(s);
    memset(in_data, 0, sizeof in_data);
    incoming.Control.len = sizeof in_control;
    received = 0;
    r = receive_fn(s, &incoming, &received, &overlapped, NULL);
    check("recvmsg.overlapped-at-once", "%s received=%lu data=%.3s control=%lu", rc(r), received, in_data, incoming.Control.len);
    WSACloseEvent(overlapped.hEvent);
    closesocket(s);
}

/* ---- select and WSAPoll over a virtual socket and a TCP one together ---- */
void mixed_wait_checks(void) {
    SOCKET u = bound("0.0.0.0", 0);
    SOCKET listener = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    struct sockaddr_in local = address("127.0.0.1", 0);
    int length = sizeof local;
    bind(listener, (struct sockaddr *)&local, sizeof local);
    listen(listener, 4);
    getsockname(listener, (struct sockaddr *)&local, &length);

    fd_set set;
    struct timeval short_wait = { 0, 200000 };
    FD_ZERO(&set); FD_SET(u, &set); FD_SET(listener, &set);
    int r = select(0, &set, NULL, NULL, &short_wait);
    check("mixed.select-nothing", "%s", rc(r));

    SOCKET client = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    r = connect(client, (struct sockaddr *)&local, sizeof local);
    struct timeval second = { 1, 0 };
    FD_ZERO(&set); FD_SET(u, &set); FD_SET(listener, &set);
    r = select(0, &set, NULL, NULL, &second);
    check("mixed.select-tcp-ready", "%s listener=%d udp=%d", rc(r), FD_ISSET(listener, &set) != 0, FD_ISSET(u, &set) != 0);
    SOCKET accepted = accept(listener, NULL, NULL);

    send_to(u, self(u), "poll", 4);
    readable(u);
    FD_ZERO(&set); FD_SET(u, &set); FD_SET(listener, &set);
    fd_set writers;
    FD_ZERO(&writers); FD_SET(client, &writers); FD_SET(u, &writers);
    r = select(0, &set, &writers, NULL, &second);
    check("mixed.select-both", "%s udp-read=%d listener=%d client-write=%d udp-write=%d", rc(r), FD_ISSET(u, &set) != 0,
          FD_ISSET(listener, &set) != 0, FD_ISSET(client, &writers) != 0, FD_ISSET(u, &writers) != 0);

    WSAPOLLFD fds[3] = { { u, POLLRDNORM, 0 }, { listener, POLLRDNORM, 0 }, { client, POLLWRNORM, 0 } };
    r = WSAPoll(fds, 3, 1000);
    check("mixed.poll", "%s udp=0x%x listener=0x%x client=0x%x", rc(r), fds[0].revents, fds[1].revents, fds[2].revents);
    char buffer[8];
    recvfrom(u, buffer, sizeof buffer, 0, NULL, NULL);
    fds[0].revents = fds[1].revents = fds[2].revents = 0;
    fds[2].events = POLLRDNORM;
    r = WSAPoll(fds, 3, 200);
    check("mixed.poll-nothing", "%s udp=0x%x listener=0x%x client=0x%x", rc(r), fds[0].revents, fds[1].revents, fds[2].revents);
    send(accepted, "tcp", 3, 0);
    r = WSAPoll(fds, 3, 1000);
    check("mixed.poll-tcp-data", "%s udp=0x%x client=0x%x", rc(r), fds[0].revents, fds[2].revents);
    WSAPOLLFD bad = { (SOCKET)0x7ff0, POLLRDNORM, 0 };
    WSAPOLLFD two[2] = { { u, POLLRDNORM, 0 }, bad };
    r = WSAPoll(two, 2, 0);
    check("mixed.poll-not-a-socket", "%s revents=0x%x", rc(r), two[1].revents);
    FD_ZERO(&set); FD_SET(u, &set); FD_SET((SOCKET)0x7ff0, &set);
    struct timeval zero = { 0, 0 };
    check("mixed.select-not-a-socket", "%s", rc(select(0, &set, NULL, NULL, &zero)));
    closesocket(accepted);
    closesocket(client);
    closesocket(listener);
    closesocket(u);
}

/* ---- handles: duplicating a socket, CloseHandle on one ---- */
void handle_checks(void) {
    SOCKET s = bound("0.0.0.0", 0);
    WSAPROTOCOL_INFOA info;
    int r = WSADuplicateSocketA(s, GetCurrentProcessId(), &info);
    check("handle.wsaduplicatesocket", "%s", rc(r));
    /* The copy is the same socket: its name, and a datagram to the original's port. */
    SOCKET dup = r == 0 ? WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, &info, 0, 0) : INVALID_SOCKET;
    struct sockaddr_in name, dup_name;
    int length = sizeof name, dup_length = sizeof dup_name;
    getsockname(s, (struct sockaddr *)&name, &length);
    int named = dup != INVALID_SOCKET && getsockname(dup, (struct sockaddr *)&dup_name, &dup_length) == 0;
    send_to(s, self(s), "copy", 4);
    char data[8] = "";
    int got = dup != INVALID_SOCKET && readable(dup) ? recv(dup, data, sizeof data, 0) : -1;
    check("handle.wsaduplicatesocket-copy", "valid=%d same-name=%d received=%d data=%.4s", dup != INVALID_SOCKET,
          named && memcmp(&name, &dup_name, sizeof name) == 0, got, got > 0 ? data : "");
    if (dup != INVALID_SOCKET) closesocket(dup);
    HANDLE copy = NULL;
    BOOL ok = DuplicateHandle(GetCurrentProcess(), (HANDLE)s, GetCurrentProcess(), &copy, 0, FALSE, DUPLICATE_SAME_ACCESS);
    check("handle.duplicatehandle", "ok=%d error=%lu", ok, ok ? 0 : GetLastError());
    length = sizeof dup_name;
    check("handle.duplicatehandle-name", "%s same-name=%d", rc(ok ? getsockname((SOCKET)copy, (struct sockaddr *)&dup_name, &length) : -1),
          ok && memcmp(&name, &dup_name, sizeof name) == 0);
    if (ok) CloseHandle(copy);
    ok = CloseHandle((HANDLE)s);
    check("handle.closehandle", "ok=%d error=%lu", ok, ok ? 0 : GetLastError());
    check("handle.closesocket-after-closehandle", "%s", rc(closesocket(s)));
    check("handle.sendto-after-closehandle", "%s", rc(send_to(s, address("127.0.0.1", 9), "x", 1)));
}

/* ---- the rest of the socket surface on a UDP socket: stream calls, conversions, mswsock ---- */
void surface_checks(void) {
    SOCKET s = bound("0.0.0.0", 0);
    check("surface.listen", "%s", rc(listen(s, 1)));
    check("surface.accept", "%s", rc((int)accept(s, NULL, NULL)));
    check("surface.wsaaccept", "%s", rc((int)WSAAccept(s, NULL, NULL, NULL, 0)));
    u_long n = 0;
    int r = WSAHtonl(s, 0x01020304, &n);
    check("surface.wsahtonl", "%s value=0x%lx", rc(r), n);
    u_short h = 0;
    r = WSANtohs(s, 0x0102, &h);
    check("surface.wsantohs", "%s value=0x%x", rc(r), h);
    struct sockaddr_in group = address("239.255.80.1", port_of(s));
    SOCKET leaf = WSAJoinLeaf(s, (struct sockaddr *)&group, sizeof group, NULL, NULL, NULL, NULL, JL_BOTH);
    check("surface.wsajoinleaf", "%s", leaf == INVALID_SOCKET ? "refused" : "joined");

    /* WSARecvEx (mswsock): a datagram too long for the buffer comes back in part, MSG_PARTIAL */
    send_to(s, self(s), "partial", 7);
    char buffer[16] = "";
    int flags = 0;
    r = readable(s) ? WSARecvEx(s, buffer, 3, &flags) : NOT_READABLE;
    check("surface.wsarecvex-partial", "%s data=%.3s flags=0x%x", rc(r), buffer, flags);
    check("surface.wsarecvex-rest-gone", "%s", readable(s) ? "readable" : "nothing");
    send_to(s, self(s), "whole", 5);
    flags = 0;
    r = readable(s) ? WSARecvEx(s, buffer, sizeof buffer, &flags) : NOT_READABLE;
    check("surface.wsarecvex", "%s data=%.5s flags=0x%x", rc(r), buffer, flags);

    /* last: they shut the socket's directions down */
    check("surface.wsasenddisconnect", "%s", rc(WSASendDisconnect(s, NULL)));
    check("surface.sendto-after-send-disconnect", "%s", rc(send_to(s, self(s), "x", 1)));
    check("surface.wsarecvdisconnect", "%s", rc(WSARecvDisconnect(s, NULL)));
    closesocket(s);
}
