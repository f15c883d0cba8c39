/* IPv4 and IPv6 on one port (conformance.exe): IPv6 sockets are the OS's, IPv4 ones
 * virtual with the DLL, and a dual-stack IPv6 socket (IPV6_V6ONLY off) takes IPv4 ports
 * too, as sock.c's test_reuseaddr and test_ipv6only pin it (TCP). Each pair binds one port
 * (a fixed one of the 4731x range), first one socket, then the other. */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <stdio.h>
#include <string.h>
#include "conformance.h"

/* An IPv6 TCP socket, dual-stack, with SO_EXCLUSIVEADDRUSE when asked, bound to `ip`:port
 * ("::", "::1" or "::ffff:127.0.0.1"); the bind's outcome in *outcome. */
static SOCKET bound6(const char *ip, unsigned short port, int exclusive, const char **outcome) {
    SOCKET s = socket(AF_INET6, SOCK_STREAM, IPPROTO_TCP);
    DWORD off = 0, on = 1;
    setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, (const char *)&off, sizeof off);
    if (exclusive) setsockopt(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, (const char *)&on, sizeof on);
    struct sockaddr_in6 a;
    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    inet_pton(AF_INET6, ip, &a.sin6_addr);
    *outcome = rc(bind(s, (struct sockaddr *)&a, sizeof a));
    return s;
}

/* An IPv4 TCP socket (SO_REUSEADDR or SO_EXCLUSIVEADDRUSE when asked) bound to ip:port. */
static SOCKET bound4(const char *ip, unsigned short port, int option, const char **outcome) {
    SOCKET s = tcp();
    DWORD on = 1;
    if (option) setsockopt(s, SOL_SOCKET, option, (const char *)&on, sizeof on);
    struct sockaddr_in a = address(ip, port);
    *outcome = rc(bind(s, (struct sockaddr *)&a, sizeof a));
    return s;
}

void dual_stack_checks(void) {
    const char *first, *second;
    /* [::] exclusive first: no IPv4 bind on its port (test_ipv6only's last check). */
    SOCKET v6 = bound6("::", 47311, 1, &first);
    SOCKET v4 = bound4("0.0.0.0", 47311, SO_REUSEADDR, &second);
    check("bind.dual-exclusive-then-v4", "%s then %s", first, second);
    closesocket(v4);
    closesocket(v6);
    /* A plain [::] shares its port with IPv4, even an exclusive 0.0.0.0. */
    v6 = bound6("::", 47312, 0, &first);
    v4 = bound4("0.0.0.0", 47312, SO_EXCLUSIVEADDRUSE, &second);
    check("bind.dual-then-v4-exclusive", "%s then %s", first, second);
    closesocket(v4);
    closesocket(v6);
    /* IPv4 first, then an exclusive [::]: refused. */
    v4 = bound4("127.0.0.1", 47313, 0, &first);
    v6 = bound6("::", 47313, 1, &second);
    check("bind.v4-then-dual-exclusive", "%s then %s", first, second);
    closesocket(v6);
    closesocket(v4);
    /* An IPv4-mapped address is that IPv4 address, both ways. */
    v6 = bound6("::ffff:127.0.0.1", 47314, 0, &first);
    v4 = bound4("127.0.0.1", 47314, 0, &second);
    check("bind.mapped-then-v4", "%s then %s", first, second);
    closesocket(v4);
    closesocket(v6);
    v4 = bound4("127.0.0.1", 47315, 0, &first);
    v6 = bound6("::ffff:127.0.0.1", 47315, 0, &second);
    check("bind.v4-then-mapped", "%s then %s", first, second);
    closesocket(v6);
    closesocket(v4);
    /* ::1 takes no IPv4 port. */
    v6 = bound6("::1", 47316, 0, &first);
    v4 = bound4("0.0.0.0", 47316, SO_EXCLUSIVEADDRUSE, &second);
    check("bind.v6-loopback-then-v4-exclusive", "%s then %s", first, second);
    closesocket(v4);
    closesocket(v6);
    /* Closed, a dual-stack socket holds nothing any more. */
    v6 = bound6("::", 47317, 1, &first);
    closesocket(v6);
    v4 = bound4("0.0.0.0", 47317, 0, &second);
    check("bind.dual-exclusive-closed-then-v4", "%s then %s", first, second);
    closesocket(v4);
}
