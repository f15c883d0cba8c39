/* mcastgame.exe: one copy of a game that finds its peers by multicast, driven over stdin by
 * wine/mcast_test.py. Every copy binds UDP 5500 on 0.0.0.0 (no SO_REUSEADDR), as such games
 * do, and answers commands one line each:
 *
 *   join       IP_ADD_MEMBERSHIP 239.255.80.1 on the default interface -> "JOINED rc=<error>"
 *   leave      IP_DROP_MEMBERSHIP                                    -> "LEFT rc=<error>"
 *   announce   one "HELLO <own address>" to 239.255.80.1:5500         -> "SENT rc=<error>"
 *   drain      every datagram queued now (the sends before it have returned, and a send
 *              over loopback queues at the receiver before it returns) -> "HEARD <n> <sources>"
 *   await N    the same, waiting up to 10 s for N HELLOs in all (across hosts)
 *   quit
 *
 * A bind failure is "RESULT bind=<error>" and exit 3 (the control without the DLL). */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "say.h"

#define PORT 5500
#define GROUP "239.255.80.1"

static int membership(SOCKET s, int option) {
    struct ip_mreq m;
    m.imr_multiaddr.s_addr = inet_addr(GROUP);
    m.imr_interface.s_addr = htonl(INADDR_ANY);
    return setsockopt(s, IPPROTO_IP, option, (const char *)&m, sizeof m) == 0 ? 0 : WSAGetLastError();
}

/* Takes what is queued, and with want > 0 waits (select, at most 10 s) until that many
 * HELLOs came: datagrams that cross hosts through the bridges arrive after the sends have
 * returned. Each source once per datagram, in arrival order. */
static void collect(SOCKET s, int want) {
    char sources[1024] = "", buffer[256];
    int heard = 0, error = 0;
    DWORD deadline = GetTickCount() + 10000;
    for (;;) {
        struct sockaddr_in from;
        int length = sizeof from;
        int r = recvfrom(s, buffer, sizeof buffer - 1, 0, (struct sockaddr *)&from, &length);
        if (r < 0) {
            error = WSAGetLastError();
            int left = (int)(deadline - GetTickCount());
            if (error != WSAEWOULDBLOCK || heard >= want || left <= 0) break;
            fd_set readable;
            FD_ZERO(&readable);
            FD_SET(s, &readable);
            struct timeval wait = {left / 1000, (left % 1000) * 1000};
            select(0, &readable, NULL, NULL, &wait);
            continue;
        }
        buffer[r] = 0;
        /* Only the group's datagrams count: they are all HELLOs. */
        if (strncmp(buffer, "HELLO ", 6) != 0) continue;
        heard++;
        if (strlen(sources) + 20 < sizeof sources) {
            strcat(sources, " ");
            strcat(sources, inet_ntoa(from.sin_addr));
        }
    }
    say("HEARD %d%s%s", heard, sources, error == WSAEWOULDBLOCK ? "" : " error");
}

int main(void) {
    WSADATA data;
    WSAStartup(MAKEWORD(2, 2), &data);
    SOCKET s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(PORT);
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0) {
        say("RESULT bind=%d", WSAGetLastError());
        return 3;
    }
    u_long on = 1;
    ioctlsocket(s, FIONBIO, &on);
    char name[256], own[16] = "?";
    gethostname(name, sizeof name);
    struct hostent *h = gethostbyname(name);
    if (h) strcpy(own, inet_ntoa(*(struct in_addr *)h->h_addr_list[0]));
    say("READY %s", own);
    char command[64];
    while (fgets(command, sizeof command, stdin)) {
        if (strncmp(command, "join", 4) == 0) say("JOINED rc=%d", membership(s, IP_ADD_MEMBERSHIP));
        else if (strncmp(command, "leave", 5) == 0) say("LEFT rc=%d", membership(s, IP_DROP_MEMBERSHIP));
        else if (strncmp(command, "announce", 8) == 0) {
            char hello[32];
            snprintf(hello, sizeof hello, "HELLO %s", own);
            struct sockaddr_in to;
            memset(&to, 0, sizeof to);
            to.sin_family = AF_INET;
            to.sin_port = htons(PORT);
            to.sin_addr.s_addr = inet_addr(GROUP);
            int r = sendto(s, hello, (int)strlen(hello), 0, (struct sockaddr *)&to, sizeof to);
            say("SENT rc=%d", r == (int)strlen(hello) ? 0 : WSAGetLastError());
        } else if (strncmp(command, "drain", 5) == 0) collect(s, 0);
        else if (strncmp(command, "await ", 6) == 0) collect(s, atoi(command + 6));
        else break;
    }
    closesocket(s);
    return 0;
}
