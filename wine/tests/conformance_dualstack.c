/* IPv4 and IPv6 on one port (conformance.exe): IPv6 sockets are the OS's, IPv4 ones
 * virtual with the DLL, and a dual-stack IPv6 socket (IPV6_V6ONLY off) takes IPv4 ports
 * too, as sock.c's test_reuseaddr and test_ipv6only pin it (TCP). Each pair binds one port
 * (a fixed one of the 4731x range), first one socket, then the other. */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <stdio.h>
#include <string.h>
#include "conformance.h"

/* One side of a pair: IPv6 (dual-stack) when `ip` has a colon, else IPv4; `option` 0,
 * SO_REUSEADDR or SO_EXCLUSIVEADDRUSE, set before the bind. */
typedef struct { const char *ip; int option; } side;

/* A TCP socket for `s`, bound to its address and `port`; the bind's outcome in *outcome. */
static SOCKET bound_side(side s, unsigned short port, const char **outcome) {
    int v6 = strchr(s.ip, ':') != NULL;
    SOCKET sock = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, IPPROTO_TCP);
    DWORD off = 0, on = 1;
    if (v6) setsockopt(sock, IPPROTO_IPV6, IPV6_V6ONLY, (const char *)&off, sizeof off);
    if (s.option) setsockopt(sock, SOL_SOCKET, s.option, (const char *)&on, sizeof on);
    int result;
    if (v6) {
        struct sockaddr_in6 a;
        memset(&a, 0, sizeof a);
        a.sin6_family = AF_INET6;
        a.sin6_port = htons(port);
        inet_pton(AF_INET6, s.ip, &a.sin6_addr);
        result = bind(sock, (struct sockaddr *)&a, sizeof a);
    } else {
        struct sockaddr_in a = address(s.ip, port);
        result = bind(sock, (struct sockaddr *)&a, sizeof a);
    }
    *outcome = rc(result);
    return sock;
}

void dual_stack_checks(void) {
    static const struct {
        const char *id;
        side first, second;
        int close_first;  /* the first socket is closed before the second binds */
    } pairs[] = {
        /* [::] exclusive first: no IPv4 bind on its port (test_ipv6only's last check). */
        { "bind.dual-exclusive-then-v4", { "::", SO_EXCLUSIVEADDRUSE }, { "0.0.0.0", SO_REUSEADDR }, 0 },
        /* A plain [::] shares its port with IPv4, even an exclusive 0.0.0.0. */
        { "bind.dual-then-v4-exclusive", { "::", 0 }, { "0.0.0.0", SO_EXCLUSIVEADDRUSE }, 0 },
        /* IPv4 first, then an exclusive [::]: refused. */
        { "bind.v4-then-dual-exclusive", { "127.0.0.1", 0 }, { "::", SO_EXCLUSIVEADDRUSE }, 0 },
        /* An IPv4-mapped address is that IPv4 address, both ways. */
        { "bind.mapped-then-v4", { "::ffff:127.0.0.1", 0 }, { "127.0.0.1", 0 }, 0 },
        { "bind.v4-then-mapped", { "127.0.0.1", 0 }, { "::ffff:127.0.0.1", 0 }, 0 },
        /* ::1 takes no IPv4 port. */
        { "bind.v6-loopback-then-v4-exclusive", { "::1", 0 }, { "0.0.0.0", SO_EXCLUSIVEADDRUSE }, 0 },
        /* Closed, a dual-stack socket holds nothing any more. */
        { "bind.dual-exclusive-closed-then-v4", { "::", SO_EXCLUSIVEADDRUSE }, { "0.0.0.0", 0 }, 1 },
    };
    for (unsigned i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        unsigned short port = (unsigned short)(47311 + i);
        const char *first, *second;
        SOCKET a = bound_side(pairs[i].first, port, &first);
        if (pairs[i].close_first) closesocket(a);
        SOCKET b = bound_side(pairs[i].second, port, &second);
        check(pairs[i].id, "%s then %s", first, second);
        closesocket(b);
        if (!pairs[i].close_first) closesocket(a);
    }
}
