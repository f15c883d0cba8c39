/* lantest.exe: one copy of a LAN program, driven over stdin/stdout by wine/lan_test.py.
 * It uses Winsock the way FlatOut 2 does: WSAStartup twice, UDP sockets on fixed ports
 * (23757 discovery bound to 0.0.0.0 with SO_BROADCAST, 23756 game), overlapped
 * WSARecvFrom with events, WSAWaitForMultipleEvents, WSAGetOverlappedResult, WSAResetEvent.
 *
 *   lantest.exe            full run: READY line, wait for "go IP..." on stdin, exchange, RESULT line
 *   lantest.exe --control  bind 23757, READY, wait for "quit" (for the run without the DLL)
 *
 * On "go <broadcaster-ip> <ip> <ip> ...": sends one unicast to every other ip:23756, the
 * broadcaster also one broadcast to 255.255.255.255:23757, then receives until it has a
 * unicast from every other copy and the broadcast (bounded by a 20 s timeout). */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <iphlpapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "say.h"

#define GAME_PORT 23756
#define DISCOVERY_PORT 23757
#define MAX_PEERS 16

static const char *ip_text(struct in_addr a) { return inet_ntoa(a); }

static SOCKET open_bound(unsigned long address, unsigned short port, int *error) {
    SOCKET s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    BOOL on = TRUE;
    setsockopt(s, SOL_SOCKET, SO_BROADCAST, (const char *)&on, sizeof on);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = address;
    *error = bind(s, (struct sockaddr *)&a, sizeof a) == 0 ? 0 : WSAGetLastError();
    return s;
}

typedef struct receive {
    SOCKET socket;
    WSAOVERLAPPED overlapped;
    WSABUF buffer;
    char data[2048];
    struct sockaddr_in from;
    int from_length;
    DWORD flags;
} receive;

/* Posts a receive; returns 1 when it completed at once (the datagram is ready). */
static int post(receive *r) {
    HANDLE event = r->overlapped.hEvent;
    memset(&r->overlapped, 0, sizeof r->overlapped);
    r->overlapped.hEvent = event;
    r->buffer.buf = r->data;
    r->buffer.len = sizeof r->data - 1;
    r->from_length = sizeof r->from;
    r->flags = 0;
    DWORD received = 0;
    if (WSARecvFrom(r->socket, &r->buffer, 1, &received, &r->flags, (struct sockaddr *)&r->from, &r->from_length, &r->overlapped, NULL) == 0)
        return 1;
    int e = WSAGetLastError();
    if (e != WSA_IO_PENDING) { say("RESULT fail=WSARecvFrom error=%d", e); exit(4); }
    return 0;
}

int main(int argc, char **argv) {
    int control = argc > 1 && strcmp(argv[1], "--control") == 0;
    WSADATA data;
    if (WSAStartup(MAKEWORD(2, 2), &data) != 0 || WSAStartup(MAKEWORD(2, 2), &data) != 0) {
        say("RESULT fail=WSAStartup");
        return 2;
    }
    int error;
    SOCKET discovery = open_bound(INADDR_ANY, DISCOVERY_PORT, &error);
    if (error) {
        say("RESULT bind23757=%d", error);
        return 3;
    }
    if (control) {
        say("READY control");
        char line[64];
        while (fgets(line, sizeof line, stdin) && strncmp(line, "quit", 4) != 0) {}
        return 0;
    }

    /* Who am I: host name, its address, the adapter table. */
    char name[256] = "";
    gethostname(name, sizeof name);
    struct hostent *host = gethostbyname(name);
    struct in_addr own = { 0 };
    if (host && host->h_addr_list[0]) memcpy(&own, host->h_addr_list[0], 4);
    char adapter_ip[16] = "none", mac[18] = "none";
    ULONG size = 0;
    GetAdaptersInfo(NULL, &size);
    IP_ADAPTER_INFO *adapters = malloc(size ? size : 1);
    if (size && GetAdaptersInfo(adapters, &size) == NO_ERROR) {
        snprintf(adapter_ip, sizeof adapter_ip, "%s", adapters->IpAddressList.IpAddress.String);
        snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", adapters->Address[0], adapters->Address[1],
                 adapters->Address[2], adapters->Address[3], adapters->Address[4], adapters->Address[5]);
    }
    SOCKET game = open_bound(own.s_addr, GAME_PORT, &error);
    if (error) {
        say("RESULT bind23756=%d", error);
        return 3;
    }
    struct sockaddr_in bound;
    int bound_length = sizeof bound;
    getsockname(game, (struct sockaddr *)&bound, &bound_length);
    char sockname[32];
    snprintf(sockname, sizeof sockname, "%s:%u", ip_text(bound.sin_addr), ntohs(bound.sin_port));
    struct sockaddr_in discovery_bound;
    bound_length = sizeof discovery_bound;
    getsockname(discovery, (struct sockaddr *)&discovery_bound, &bound_length);
    char own_text[16];
    snprintf(own_text, sizeof own_text, "%s", ip_text(own));
    /* getaddrinfo(gethostname()) too, as newer code asks. */
    char addrinfo_ip[16] = "none";
    struct addrinfo hints, *found = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_DGRAM;
    if (getaddrinfo(name, "23756", &hints, &found) == 0 && found) {
        snprintf(addrinfo_ip, sizeof addrinfo_ip, "%s", ip_text(((struct sockaddr_in *)found->ai_addr)->sin_addr));
        freeaddrinfo(found);
    }
    say("READY host=%s hostip=%s adapterip=%s addrinfoip=%s mac=%s gamesock=%s discoverysock=%s:%u", name, own_text, adapter_ip,
        addrinfo_ip, mac, sockname, ip_text(discovery_bound.sin_addr), ntohs(discovery_bound.sin_port));

    /* "go <broadcaster> <ip>..." */
    char line[1024];
    if (!fgets(line, sizeof line, stdin) || strncmp(line, "go ", 3) != 0) {
        say("RESULT fail=no-go");
        return 5;
    }
    char *words[MAX_PEERS + 2];
    int count = 0;
    for (char *w = strtok(line + 3, " \r\n"); w && count < MAX_PEERS + 1; w = strtok(NULL, " \r\n")) words[count++] = w;
    if (count < 2) { say("RESULT fail=bad-go"); return 5; }
    int broadcaster = strcmp(words[0], own_text) == 0;
    int peers = count - 1;

    receive game_receive, discovery_receive;
    memset(&game_receive, 0, sizeof game_receive);
    memset(&discovery_receive, 0, sizeof discovery_receive);
    game_receive.socket = game;
    discovery_receive.socket = discovery;
    game_receive.overlapped.hEvent = WSACreateEvent();
    discovery_receive.overlapped.hEvent = WSACreateEvent();
    int ready[2] = { post(&game_receive), post(&discovery_receive) };

    /* Send: a unicast to every other copy, and the broadcast when it is ours to send. */
    char message[64];
    snprintf(message, sizeof message, "U %s", own_text);
    for (int i = 1; i < count; i++) {
        if (strcmp(words[i], own_text) == 0) continue;
        struct sockaddr_in to;
        memset(&to, 0, sizeof to);
        to.sin_family = AF_INET;
        to.sin_port = htons(GAME_PORT);
        to.sin_addr.s_addr = inet_addr(words[i]);
        if (sendto(game, message, (int)strlen(message), 0, (struct sockaddr *)&to, sizeof to) < 0) {
            say("RESULT fail=sendto error=%d", WSAGetLastError());
            return 6;
        }
    }
    if (broadcaster) {
        snprintf(message, sizeof message, "B %s", own_text);
        struct sockaddr_in to;
        memset(&to, 0, sizeof to);
        to.sin_family = AF_INET;
        to.sin_port = htons(DISCOVERY_PORT);
        to.sin_addr.s_addr = INADDR_BROADCAST;
        if (sendto(discovery, message, (int)strlen(message), 0, (struct sockaddr *)&to, sizeof to) < 0) {
            say("RESULT fail=broadcast error=%d", WSAGetLastError());
            return 6;
        }
    }

    int unicasts = 0, broadcasts = 0, wrong_source = 0, immediate = 0, waited = 0;
    WSAEVENT events[2] = { game_receive.overlapped.hEvent, discovery_receive.overlapped.hEvent };
    receive *receives[2] = { &game_receive, &discovery_receive };
    while (unicasts < peers - 1 || broadcasts < 1) {
        int which = -1;
        if (ready[0] || ready[1]) {
            which = ready[0] ? 0 : 1;
            immediate++;
        } else {
            DWORD w = WSAWaitForMultipleEvents(2, events, FALSE, 20000, FALSE);
            if (w == WSA_WAIT_TIMEOUT) break;
            if (w >= WSA_WAIT_EVENT_0 + 2) { say("RESULT fail=wait error=%d", WSAGetLastError()); return 7; }
            which = (int)(w - WSA_WAIT_EVENT_0);
            waited++;
        }
        receive *r = receives[which];
        DWORD bytes = 0, flags = 0;
        if (!WSAGetOverlappedResult(r->socket, &r->overlapped, &bytes, FALSE, &flags)) {
            say("RESULT fail=WSAGetOverlappedResult error=%d", WSAGetLastError());
            return 7;
        }
        WSAResetEvent(r->overlapped.hEvent);
        r->data[bytes] = 0;
        /* The payload names its sender: the source address must be exactly that. */
        if (strcmp(r->data + 2, ip_text(r->from.sin_addr)) != 0) wrong_source++;
        if (r->data[0] == 'U' && which == 0) unicasts++;
        if (r->data[0] == 'B' && which == 1) broadcasts++;
        ready[which] = post(r);
    }
    int ok = unicasts == peers - 1 && broadcasts == 1 && wrong_source == 0;
    say("RESULT %s hostip=%s unicast=%d/%d broadcast=%d wrongsource=%d immediate=%d waited=%d",
        ok ? "ok" : "fail=incomplete", own_text, unicasts, peers - 1, broadcasts, wrong_source, immediate, waited);
    closesocket(game);
    closesocket(discovery);
    WSACleanup();
    WSACleanup();
    return ok ? 0 : 8;
}
