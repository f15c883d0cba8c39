/* One small LAN lobby, the same source compiled into several modules (the exe, a DLL the
 * exe imports, a DLL loaded later, a DLL that imports only wsock32, and calls through
 * pointers taken with GetProcAddress), so a test can show that the hook DLL sees the
 * calls of each. Every copy binds the same fixed UDP port; the host answers broadcast
 * FINDs with HERE and PINGs with PONGs; a client finds the host by broadcast, pings it
 * five times by unicast, connects to the host's TCP port and says DONE. Every copy also
 * listens on the same fixed port in TCP. Every wait is bounded. Prints one RESULT line.
 *
 * W(name) is the call: directly through the module's imports, or (LOBBY_VIA_POINTERS)
 * through the pointer table the exe filled in before the hook DLL was loaded. LOBBY_NAME
 * names the entry point each module exports. */
#include <winsock2.h>
#include <mswsock.h>
#include <windows.h>
#include <stdio.h>
#include <string.h>
#include "lobby.h"
#include <ws2tcpip.h>

#ifdef LOBBY_VIA_POINTERS
lobby_winsock lobby_ws;
#define W(name) lobby_ws.name
#else
#define W(name) name
#endif

enum { PINGS = 5 };

/* The next datagram starting with `prefix` within timeout_ms (others, such as the other
 * copies' FIND broadcasts, are read and skipped); its length, or -1. */
static int receive(SOCKET s, const char *prefix, char *buffer, int capacity, struct sockaddr_in *from, int timeout_ms) {
    DWORD deadline = GetTickCount() + (DWORD)timeout_ms;
    for (;;) {
        int left = (int)(deadline - GetTickCount());
        if (left <= 0) return -1;
        fd_set readable;
        FD_ZERO(&readable);
        FD_SET(s, &readable);
        struct timeval t = { left / 1000, (left % 1000) * 1000 };
        if (W(select)(0, &readable, NULL, NULL, &t) <= 0) return -1;
        int length = sizeof *from;
        int n = W(recvfrom)(s, buffer, capacity - 1, 0, (struct sockaddr *)from, &length);
        if (n < 0) continue;
        buffer[n] = 0;
        if (strncmp(buffer, prefix, strlen(prefix)) == 0) return n;
    }
}

static void send_text(SOCKET s, const char *text, unsigned long address, unsigned short port) {
    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_port = W(htons)(port);
    to.sin_addr.s_addr = address;
    W(sendto)(s, text, (int)strlen(text), 0, (struct sockaddr *)&to, sizeof to);
}

/* A TCP connect to a copy's listener on the virtual LAN (the host's, from a client; the
 * host's own, by its LAN address, from the host). */
static void tcp_probe(unsigned long address, unsigned short port, int *socket_error, int *connect_error) {
    SOCKET t = W(socket)(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    *socket_error = t == INVALID_SOCKET ? W(WSAGetLastError)() : 0;
    *connect_error = -1;
    if (t == INVALID_SOCKET) return;
    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_port = W(htons)(port);
    to.sin_addr.s_addr = address;
    *connect_error = W(connect)(t, (struct sockaddr *)&to, sizeof to) == 0 ? 0 : W(WSAGetLastError)();
    W(closesocket)(t);
}

/* Everything a game aims at the virtual LAN, once each, from a real-looking program: a TCP
 * connect to a virtual address, UDP unicast, the limited broadcast and a multicast group.
 * The leak test counts the frames this puts on a real link (0 through the hook DLL). */
static int probe(SOCKET s, unsigned long target, unsigned short port, const char *via) {
    SOCKET t = W(socket)(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_port = W(htons)(port);
    to.sin_addr.s_addr = target;
    /* Non-blocking, so a control run without the DLL does not wait out the SYN retries. */
    u_long on = 1;
    W(ioctlsocket)(t, FIONBIO, &on);
    int tcp = W(connect)(t, (struct sockaddr *)&to, sizeof to) == 0 ? 0 : W(WSAGetLastError)();
    const char *tcp_select = "none";  /* what select said of it: connected (w), failed (e), under way (-) */
    if (tcp == WSAEWOULDBLOCK) {
        /* The connect's outcome, as a program waits for it (the control's SYN and ARP go out meanwhile). */
        fd_set w, e;
        FD_ZERO(&w); FD_SET(t, &w);
        FD_ZERO(&e); FD_SET(t, &e);
        struct timeval t500 = { 0, 500000 };
        W(select)(0, NULL, &w, &e, &t500);
        tcp_select = w.fd_count ? "w" : e.fd_count ? "e" : "-";  /* select leaves only the ready sockets in a set */
    }
    int tcp_error = -1, length = sizeof tcp_error;
    W(getsockopt)(t, SOL_SOCKET, SO_ERROR, (char *)&tcp_error, &length);
    W(closesocket)(t);
    int connectex = -1;
#ifndef LOBBY_WSOCK32  /* wsock32 has no WSAIoctl */
    /* ConnectEx, as a program gets it from WSAIoctl, on a bound TCP socket. */
    SOCKET x = W(socket)(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    struct sockaddr_in any;
    memset(&any, 0, sizeof any);
    any.sin_family = AF_INET;
    W(bind)(x, (struct sockaddr *)&any, sizeof any);
    GUID id = WSAID_CONNECTEX;
    LPFN_CONNECTEX connect_ex = NULL;
    DWORD got = 0;
    if (W(WSAIoctl)(x, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof id, &connect_ex, sizeof connect_ex, &got, NULL, NULL) == 0) {
        OVERLAPPED o;
        memset(&o, 0, sizeof o);
        o.hEvent = CreateEventA(NULL, TRUE, FALSE, NULL);
        connectex = connect_ex(x, (struct sockaddr *)&to, sizeof to, NULL, 0, NULL, &o) ? 0 : W(WSAGetLastError)();
        if (connectex == WSA_IO_PENDING) Sleep(500);  /* the control's SYN and ARP go out meanwhile */
        CloseHandle(o.hEvent);
    }
    W(closesocket)(x);
#endif
    /* Joining a group: on a real interface that is an IGMP report on the link. */
    struct ip_mreq membership;
    membership.imr_multiaddr.s_addr = W(inet_addr)("239.255.80.1");
    membership.imr_interface.s_addr = INADDR_ANY;
    int join = W(setsockopt)(s, IPPROTO_IP, IP_ADD_MEMBERSHIP, (const char *)&membership, sizeof membership) == 0
             ? 0 : W(WSAGetLastError)();
    int results[3];
    unsigned long targets[3] = { target, INADDR_BROADCAST, W(inet_addr)("239.255.80.1") };
    for (int i = 0; i < 3; i++) {
        to.sin_addr.s_addr = targets[i];
        results[i] = W(sendto)(s, "PROBE", 5, 0, (struct sockaddr *)&to, sizeof to) == 5 ? 0 : W(WSAGetLastError)();
    }
    printf("RESULT probe via=%s tcpconnect=%d tcpselect=%s tcperror=%d connectex=%d join=%d unicast=%d broadcast=%d multicast=%d\n", via,
           tcp, tcp_select, tcp_error, connectex, join, results[0], results[1], results[2]);
    return 0;
}

static int host(SOCKET s, int clients, unsigned short port, const char *via) {
    char buffer[256], name[64] = "?";
    W(gethostname)(name, sizeof name);
    int done = 0, pongs = 0, finds = 0;
    unsigned long seen[64];
    int deadline_rounds = 600;  /* 600 x 100 ms */
    printf("READY host %s via=%s\n", name, via);
    fflush(stdout);
    while (done < clients && deadline_rounds-- > 0) {
        struct sockaddr_in from;
        if (receive(s, "", buffer, sizeof buffer, &from, 100) < 0) continue;
        char reply[96];
        if (strcmp(buffer, "FIND") == 0) {
            finds++;
            snprintf(reply, sizeof reply, "HERE %s", name);
            W(sendto)(s, reply, (int)strlen(reply), 0, (struct sockaddr *)&from, sizeof from);
        } else if (strncmp(buffer, "PING ", 5) == 0) {
            pongs++;
            snprintf(reply, sizeof reply, "PONG %s", buffer + 5);
            W(sendto)(s, reply, (int)strlen(reply), 0, (struct sockaddr *)&from, sizeof from);
        } else if (strcmp(buffer, "DONE") == 0) {
            int known = 0;
            for (int i = 0; i < done; i++) known |= seen[i] == from.sin_addr.s_addr;
            if (!known && done < 64) seen[done++] = from.sin_addr.s_addr;
            W(sendto)(s, "BYE", 3, 0, (struct sockaddr *)&from, sizeof from);
        }
    }
    int tcp_socket = -1, tcp_connect = -1;
    struct hostent *own = W(gethostbyname)(name);
    if (own) tcp_probe(*(unsigned long *)own->h_addr_list[0], port, &tcp_socket, &tcp_connect);
    printf("RESULT %s role=host via=%s name=%s clients=%d/%d finds=%d pongs=%d tcpsocket=%d tcpconnect=%d\n",
           done == clients ? "ok" : "fail", via, name, done, clients, finds, pongs, tcp_socket, tcp_connect);
    return done == clients ? 0 : 1;
}

static int client(SOCKET s, unsigned short port, const char *via) {
    char buffer[256], name[64] = "?";
    W(gethostname)(name, sizeof name);
    printf("READY client %s via=%s\n", name, via);
    fflush(stdout);
    struct sockaddr_in from, host_address;
    memset(&host_address, 0, sizeof host_address);
    char host_name[64] = "";
    for (int round = 0; round < 100 && !host_name[0]; round++) {  /* 100 x 200 ms */
        send_text(s, "FIND", INADDR_BROADCAST, port);
        if (receive(s, "HERE ", buffer, sizeof buffer, &from, 200) > 0) {
            snprintf(host_name, sizeof host_name, "%s", buffer + 5);
            host_address = from;
        }
    }
    int pongs = 0;
    for (int ping = 1; host_name[0] && ping <= PINGS; ping++) {
        char text[32];
        snprintf(text, sizeof text, "PING %d", ping);
        for (int tries = 0; tries < 20; tries++) {
            send_text(s, text, host_address.sin_addr.s_addr, port);
            char expected[32];
            snprintf(expected, sizeof expected, "PONG %d", ping);
            if (receive(s, expected, buffer, sizeof buffer, &from, 300) > 0 && strcmp(buffer, expected) == 0
                && from.sin_addr.s_addr == host_address.sin_addr.s_addr) {
                pongs++;
                break;
            }
        }
    }
    /* wsock32's own WSARecvEx (mswsock's too), on the socket connected to the host: one
     * more ping answered through it. Then unconnected again (AF_UNSPEC) for the rest. */
    const char *recv_ex = "-";
#ifdef LOBBY_WSOCK32
    recv_ex = "fail";
    if (host_name[0] && W(connect)(s, (struct sockaddr *)&host_address, sizeof host_address) == 0) {
        for (int tries = 0; tries < 20 && strcmp(recv_ex, "ok") != 0; tries++) {
            W(send)(s, "PING 99", 7, 0);
            fd_set readable;
            FD_ZERO(&readable);
            FD_SET(s, &readable);
            struct timeval t = { 0, 300000 };
            int flags = 0, n = 0;
            /* Only the host can reach a connected socket: skip other pongs until ours. */
            while (W(select)(0, &readable, NULL, NULL, &t) > 0 && (n = WSARecvEx(s, buffer, sizeof buffer - 1, &flags)) > 0) {
                buffer[n] = 0;
                if (strcmp(buffer, "PONG 99") == 0) { recv_ex = "ok"; break; }
            }
        }
        struct sockaddr unspecified;
        memset(&unspecified, 0, sizeof unspecified);
        W(connect)(s, &unspecified, sizeof unspecified);
    }
#endif
    /* Before DONE: the host listens until every client is done. */
    int tcp_socket = -1, tcp_connect = -1;
    if (host_name[0]) tcp_probe(host_address.sin_addr.s_addr, port, &tcp_socket, &tcp_connect);
    int bye = 0;
    for (int tries = 0; host_name[0] && tries < 20 && !bye; tries++) {
        send_text(s, "DONE", host_address.sin_addr.s_addr, port);
        bye = receive(s, "BYE", buffer, sizeof buffer, &from, 300) > 0;
    }
    int ok = host_name[0] && pongs == PINGS && bye && strcmp(recv_ex, "fail") != 0;
    printf("RESULT %s role=client via=%s name=%s host=%s hostip=%s pongs=%d/%d recvex=%s tcpsocket=%d tcpconnect=%d\n",
           ok ? "ok" : "fail", via, name, host_name[0] ? host_name : "-",
           host_name[0] ? W(inet_ntoa)(host_address.sin_addr) : "-", pongs, PINGS, recv_ex, tcp_socket, tcp_connect);
    return ok ? 0 : 1;
}

#ifndef LOBBY_NAME
#define LOBBY_NAME lobby_run
#endif

LOBBY_EXPORT int LOBBY_NAME(int is_host, int clients, unsigned short port, const char *via) {
    WSADATA data;
    int e = W(WSAStartup)(MAKEWORD(2, 2), &data);
    if (e) { printf("RESULT fail via=%s startup=%d\n", via, e); return 2; }
    SOCKET s = W(socket)(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    BOOL on = TRUE;
    W(setsockopt)(s, SOL_SOCKET, SO_BROADCAST, (const char *)&on, sizeof on);
    struct sockaddr_in any;
    memset(&any, 0, sizeof any);
    any.sin_family = AF_INET;
    any.sin_port = W(htons)(port);
    if (s == INVALID_SOCKET || W(bind)(s, (struct sockaddr *)&any, sizeof any) != 0) {
        printf("RESULT fail via=%s bind%u=%d\n", via, port, W(WSAGetLastError)());
        return 3;
    }
    /* The same fixed port in TCP, in every copy, as lobby games listen. */
    SOCKET listener = W(socket)(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (is_host != LOBBY_PROBE && (W(bind)(listener, (struct sockaddr *)&any, sizeof any) != 0 || W(listen)(listener, 8) != 0)) {
        printf("RESULT fail via=%s listen%u=%d\n", via, port, W(WSAGetLastError)());
        return 3;
    }
    int status = is_host == LOBBY_PROBE ? probe(s, W(inet_addr)("192.168.80.200"), port, via)
               : is_host ? host(s, clients, port, via) : client(s, port, via);
    W(closesocket)(listener);
    W(closesocket)(s);
    W(WSACleanup)();
    return status;
}
