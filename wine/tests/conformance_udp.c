/* conformance.exe, UDP on one socket talking to itself: sendto/recvfrom, non-blocking mode
 * and FIONREAD, connected UDP, socket options and every other option's default. */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <iphlpapi.h>
#include <mswsock.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conformance.h"

/* ---- sendto / recvfrom on one socket talking to itself ---- */
void datagrams(void) {
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
    /* Non-blocking, the same question is answered at once (Windows WSAEINVAL). */
    s = udp();
    u_long on = 1;
    ioctlsocket(s, FIONBIO, &on);
    check("dgram.recv-unbound-nonblocking", "%s", rc(recv(s, buffer, sizeof buffer, 0)));
    closesocket(s);
}

/* ---- non-blocking mode, FIONREAD ---- */
void nonblocking_mode(void) {
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
    /* SO_RCVTIMEO bounds a blocking receive: WSAETIMEDOUT after it when nothing comes (the
     * wait is not skipped), the datagram when one is there. */
    DWORD timeout = 200, started = GetTickCount();
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (char *)&timeout, sizeof timeout);
    int r1 = recvfrom(s, buffer, sizeof buffer, 0, NULL, NULL);
    check("nbio.rcvtimeo-nothing", "%s waited=%d", rc(r1), GetTickCount() - started >= 100);
    send_to(s, to, "123", 3);
    readable(s);
    check("nbio.rcvtimeo-datagram", "%s", rc(recvfrom(s, buffer, sizeof buffer, 0, NULL, NULL)));
    check("nbio.unknown-ioctl", "%s", rc(ioctlsocket(s, 0x4004667e, &value)));
    check("nbio.fionread-null", "%s", rc(ioctlsocket(s, FIONREAD, NULL)));
    closesocket(s);
}

/* ---- connected UDP ---- */
void connected(void) {
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
void int_option(const char *id, SOCKET s, int level, int name) {
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

void options(void) {
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
void option_sweep(void) {
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
