/* conformance.exe, the calls around the data: select, WSAEventSelect, WSAAsyncSelect,
 * WSARecv/WSASend and WSAPoll, WSAIoctl, WSARecvMsg, overlapped receives, the virtual LAN's
 * identity, and errors (last error after success, closed sockets, shutdown). */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <iphlpapi.h>
#include <mswsock.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conformance.h"

/* ---- select ---- */
void selecting(void) {
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
void event_select_checks(void) {
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
void async_select_checks(void) {
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
void wsa_calls(void) {
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
void ioctls(void) {
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
void recvmsg_checks(void) {
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

void overlapped_checks(void) {
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
void identity_checks(void) {
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
void errors(void) {
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
