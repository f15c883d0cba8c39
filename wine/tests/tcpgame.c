/* tcpgame.exe: one copy of a TCP LAN game, driven over stdin/stdout by wine/tcpgame_test.py.
 * Modelled on the lobby games that find a host by UDP broadcast and then play over TCP on
 * one fixed port: every copy binds UDP 6111 (discovery, SO_BROADCAST) and listens on TCP
 * 6112, whether it hosts or not.
 *
 *   tcpgame.exe             READY line; then "host N" or "join" on stdin; a RESULT line
 *                           ("sink" / "stream BYTES": one long stream from a player to a host)
 *   tcpgame.exe --control   bind both ports, READY, wait for "quit" (run without the DLL)
 *
 * The host answers every discovery broadcast, accepts N-1 players with WSAEventSelect
 * (FD_ACCEPT, FD_READ, FD_WRITE, FD_CLOSE) and WSAWaitForMultipleEvents, and answers each
 * player's HELLO frame (the address it claims, 64 KB of its bytes) with WELCOME (the address
 * accept reported, the checksum of what came, 64 KB of its own). A player broadcasts until
 * a host answers, connects non-blocking (FD_CONNECT), sends HELLO blocking, and reads the
 * answer with overlapped WSARecv on an I/O completion port. Everything is bounded: a
 * copy gives up after 30 s and says why. */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "say.h"

#define DISCOVERY_PORT 6111
#define GAME_PORT 6112
#define PAYLOAD 65536
#define MAX_PLAYERS 16
#define GIVE_UP_MS 30000

typedef struct {
    char tag[8];            /* "HELLO" / "WELCOME" */
    char address[16];       /* HELLO: the player's own address; WELCOME: accept's peer */
    unsigned int checksum;  /* WELCOME: of the HELLO's payload */
} frame_head;
#define FRAME (sizeof(frame_head) + PAYLOAD)

static void fill(unsigned char *p, unsigned seed) {
    for (int i = 0; i < PAYLOAD; i++) p[i] = (unsigned char)(seed * 31 + i * 7 + (i >> 8));
}

static unsigned checksum(const unsigned char *p) {
    unsigned h = 2166136261u;
    for (int i = 0; i < PAYLOAD; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

static unsigned seed_of(const char *address) { return (unsigned)atoi(strrchr(address, '.') + 1); }

static SOCKET bound(int type, unsigned short port, int *error) {
    SOCKET s = socket(AF_INET, type, 0);
    BOOL on = TRUE;
    if (type == SOCK_DGRAM) setsockopt(s, SOL_SOCKET, SO_BROADCAST, (const char *)&on, sizeof on);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    *error = bind(s, (struct sockaddr *)&a, sizeof a) == 0 ? 0 : WSAGetLastError();
    if (!*error && type == SOCK_STREAM && listen(s, 8) != 0) *error = WSAGetLastError();
    return s;
}

static char own_address[16];

static void find_own_address(void) {
    char name[256];
    gethostname(name, sizeof name);
    struct hostent *h = gethostbyname(name);
    strcpy(own_address, h ? inet_ntoa(*(struct in_addr *)h->h_addr_list[0]) : "?");
}

/* ---- the host ---- */

typedef struct {
    SOCKET s;
    WSAEVENT event;
    char peer[16];
    unsigned char in[FRAME], out[FRAME];
    int got, sent, answered, closed;
} player;

static int host(SOCKET discovery, SOCKET listener, int expected) {
    player *players = calloc(MAX_PLAYERS, sizeof *players);
    int count = 0, done = 0, errors = 0;
    long bytes_in = 0, bytes_out = 0;
    WSAEVENT events[2 + MAX_PLAYERS];
    events[0] = WSACreateEvent();
    events[1] = WSACreateEvent();
    WSAEventSelect(discovery, events[0], FD_READ);
    WSAEventSelect(listener, events[1], FD_ACCEPT);
    DWORD start = GetTickCount();
    while (done < expected && GetTickCount() - start < GIVE_UP_MS) {
        DWORD w = WSAWaitForMultipleEvents(2 + count, events, FALSE, 1000, FALSE);
        if (w == WSA_WAIT_TIMEOUT) continue;
        WSANETWORKEVENTS n;
        WSAEnumNetworkEvents(discovery, events[0], &n);
        char request[64];
        struct sockaddr_in from;
        int length = sizeof from, r;
        while ((r = recvfrom(discovery, request, sizeof request, 0, (struct sockaddr *)&from, &length)) > 0) {
            if (r == 10 && memcmp(request, "VLDISCOVER", 10) == 0) sendto(discovery, "VLHOST", 6, 0, (struct sockaddr *)&from, length);
            length = sizeof from;
        }
        WSAEnumNetworkEvents(listener, events[1], &n);
        if (n.lNetworkEvents & FD_ACCEPT) {
            for (;;) {
                length = sizeof from;
                SOCKET c = accept(listener, (struct sockaddr *)&from, &length);
                if (c == INVALID_SOCKET) break;
                if (count == MAX_PLAYERS) { closesocket(c); continue; }
                player *p = &players[count];
                p->s = c;
                strcpy(p->peer, inet_ntoa(from.sin_addr));
                p->event = events[2 + count] = WSACreateEvent();
                WSAEventSelect(c, p->event, FD_READ | FD_WRITE | FD_CLOSE);
                count++;
            }
        }
        for (int i = 0; i < count; i++) {
            player *p = &players[i];
            if (p->closed) continue;
            WSAEnumNetworkEvents(p->s, p->event, &n);
            while (p->got < (int)FRAME && (r = recv(p->s, (char *)p->in + p->got, (int)FRAME - p->got, 0)) > 0) {
                p->got += r;
                bytes_in += r;
            }
            if (p->got == (int)FRAME && !p->answered) {
                frame_head *hello = (frame_head *)p->in, *welcome = (frame_head *)p->out;
                if (memcmp(hello->tag, "HELLO", 6) != 0 || strcmp(hello->address, p->peer) != 0) {
                    say("ERROR player claims %.15s, accept says %s", hello->address, p->peer);
                    errors++;
                }
                strcpy(welcome->tag, "WELCOME");
                strcpy(welcome->address, p->peer);
                welcome->checksum = checksum(p->in + sizeof(frame_head));
                fill(p->out + sizeof(frame_head), seed_of(own_address));
                p->answered = 1;
            }
            while (p->answered && p->sent < (int)FRAME && (r = send(p->s, (char *)p->out + p->sent, (int)FRAME - p->sent, 0)) > 0) {
                p->sent += r;
                bytes_out += r;
            }
            if (n.lNetworkEvents & FD_CLOSE) {
                p->closed = 1;
                if (p->sent == (int)FRAME) done++;
                else { say("ERROR player %s left early", p->peer); errors++; }
            }
        }
    }
    say("RESULT %s players=%d done=%d errors=%d in=%ld out=%ld", done == expected && !errors ? "ok" : "fail", count, done,
        errors, bytes_in, bytes_out);
    return done == expected && !errors ? 0 : 1;
}

/* ---- a player ---- */

static int find_host(SOCKET discovery, struct in_addr *host_address) {
    struct sockaddr_in everyone;
    memset(&everyone, 0, sizeof everyone);
    everyone.sin_family = AF_INET;
    everyone.sin_port = htons(DISCOVERY_PORT);
    everyone.sin_addr.s_addr = INADDR_BROADCAST;
    for (int attempt = 0; attempt < 60; attempt++) {
        sendto(discovery, "VLDISCOVER", 10, 0, (struct sockaddr *)&everyone, sizeof everyone);
        fd_set set;
        FD_ZERO(&set);
        FD_SET(discovery, &set);
        struct timeval wait = { 0, 500000 };
        while (select(0, &set, NULL, NULL, &wait) == 1) {
            char answer[64];
            struct sockaddr_in from;
            int length = sizeof from;
            int r = recvfrom(discovery, answer, sizeof answer, 0, (struct sockaddr *)&from, &length);
            if (r == 6 && memcmp(answer, "VLHOST", 6) == 0) { *host_address = from.sin_addr; return 1; }
            FD_ZERO(&set);
            FD_SET(discovery, &set);
            wait.tv_sec = 0;
            wait.tv_usec = 100000;
        }
    }
    return 0;
}

static int join(SOCKET discovery) {
    struct in_addr host_address;
    if (!find_host(discovery, &host_address)) { say("RESULT fail no-host-answered"); return 1; }
    char host_text[16];
    strcpy(host_text, inet_ntoa(host_address));
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    WSAEVENT connected = WSACreateEvent();
    WSAEventSelect(s, connected, FD_CONNECT);
    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_port = htons(GAME_PORT);
    to.sin_addr = host_address;
    int r = connect(s, (struct sockaddr *)&to, sizeof to);
    if (r != 0 && WSAGetLastError() != WSAEWOULDBLOCK) { say("RESULT fail connect=%d", WSAGetLastError()); return 1; }
    WSANETWORKEVENTS n;
    DWORD w = WSAWaitForMultipleEvents(1, &connected, FALSE, 10000, FALSE);
    WSAEnumNetworkEvents(s, connected, &n);
    if (w != WSA_WAIT_EVENT_0 || !(n.lNetworkEvents & FD_CONNECT) || n.iErrorCode[FD_CONNECT_BIT]) {
        say("RESULT fail fd-connect wait=%lu events=0x%lx error=%d", w, n.lNetworkEvents, n.iErrorCode[FD_CONNECT_BIT]);
        return 1;
    }
    WSAEventSelect(s, NULL, 0);
    u_long blocking = 0;
    ioctlsocket(s, FIONBIO, &blocking);

    static unsigned char hello[FRAME], welcome[FRAME], expected[PAYLOAD];
    frame_head *head = (frame_head *)hello;
    strcpy(head->tag, "HELLO");
    strcpy(head->address, own_address);
    fill(hello + sizeof(frame_head), seed_of(own_address));
    for (int sent = 0; sent < (int)FRAME;) {
        r = send(s, (char *)hello + sent, (int)FRAME - sent, 0);
        if (r <= 0) { say("RESULT fail send=%d", WSAGetLastError()); return 1; }
        sent += r;
    }

    HANDLE port = CreateIoCompletionPort((HANDLE)s, NULL, 42, 0);
    int got = 0;
    while (got < (int)FRAME) {
        WSAOVERLAPPED o;
        memset(&o, 0, sizeof o);
        WSABUF b = { (ULONG)FRAME - got, (char *)welcome + got };
        DWORD bytes = 0, flags = 0;
        r = WSARecv(s, &b, 1, &bytes, &flags, &o, NULL);
        if (r != 0 && WSAGetLastError() != WSA_IO_PENDING) { say("RESULT fail wsarecv=%d", WSAGetLastError()); return 1; }
        ULONG_PTR key = 0;
        LPOVERLAPPED done = NULL;
        if (!GetQueuedCompletionStatus(port, &bytes, &key, &done, 10000) || key != 42 || done != &o) {
            say("RESULT fail completion error=%lu key=%lu", GetLastError(), (unsigned long)key);
            return 1;
        }
        if (bytes == 0) { say("RESULT fail host-closed got=%d", got); return 1; }
        got += (int)bytes;
    }
    frame_head *answer = (frame_head *)welcome;
    fill(expected, seed_of(host_text));
    int ok = memcmp(answer->tag, "WELCOME", 8) == 0 && strcmp(answer->address, own_address) == 0
             && answer->checksum == checksum(hello + sizeof(frame_head))
             && memcmp(welcome + sizeof(frame_head), expected, PAYLOAD) == 0;
    closesocket(s);
    CloseHandle(port);
    say("RESULT %s host=%s seen-as=%.15s sent=%d received=%d", ok ? "ok" : "fail", host_text, answer->address, (int)FRAME, got);
    return ok ? 0 : 1;
}

/* ---- a long stream, for a host that goes away mid-stream (scripts/bridge_test.py) ---- */

/* Answers discovery until one player connects, then reads until the stream ends. */
static int sink(SOCKET discovery, SOCKET listener) {
    DWORD start = GetTickCount();
    SOCKET c = INVALID_SOCKET;
    while (c == INVALID_SOCKET && GetTickCount() - start < GIVE_UP_MS) {
        fd_set set;
        FD_ZERO(&set);
        FD_SET(discovery, &set);
        FD_SET(listener, &set);
        struct timeval wait = { 1, 0 };
        if (select(0, &set, NULL, NULL, &wait) <= 0) continue;
        char request[64];
        struct sockaddr_in from;
        int length = sizeof from;
        if (FD_ISSET(discovery, &set)) {
            int r = recvfrom(discovery, request, sizeof request, 0, (struct sockaddr *)&from, &length);
            if (r == 10 && memcmp(request, "VLDISCOVER", 10) == 0) sendto(discovery, "VLHOST", 6, 0, (struct sockaddr *)&from, length);
        }
        length = sizeof from;
        if (FD_ISSET(listener, &set)) c = accept(listener, (struct sockaddr *)&from, &length);
    }
    if (c == INVALID_SOCKET) { say("RESULT sink no-player"); return 1; }
    say("SINK connected");
    static char buffer[65536];
    long bytes = 0;
    int r, flowing = 0;
    while ((r = recv(c, buffer, sizeof buffer, 0)) > 0) {
        bytes += r;
        if (!flowing && bytes >= 1 << 20) { say("SINK flowing"); flowing = 1; }
    }
    say("RESULT sink bytes=%ld end=%d", bytes, r == 0 ? 0 : WSAGetLastError());
    return 0;
}

/* Finds the host, sends `total` bytes (blocking), closes its side, waits for the host's. */
static int stream(SOCKET discovery, long total) {
    struct in_addr host_address;
    if (!find_host(discovery, &host_address)) { say("RESULT stream no-host-answered"); return 1; }
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_port = htons(GAME_PORT);
    to.sin_addr = host_address;
    if (connect(s, (struct sockaddr *)&to, sizeof to) != 0) { say("RESULT stream connect=%d", WSAGetLastError()); return 1; }
    static char block[16384];
    long sent = 0;
    while (sent < total) {
        int r = send(s, block, (int)(total - sent < (long)sizeof block ? total - sent : (long)sizeof block), 0);
        if (r <= 0) { say("RESULT stream bytes=%ld error=%d", sent, WSAGetLastError()); return 0; }
        sent += r;
    }
    shutdown(s, SD_SEND);
    int r = recv(s, block, sizeof block, 0);
    say("RESULT stream bytes=%ld error=%d", sent, r == 0 ? 0 : WSAGetLastError());
    closesocket(s);
    return 0;
}

int main(int argc, char **argv) {
    WSADATA data;
    WSAStartup(MAKEWORD(2, 2), &data);
    int udp_error, tcp_error;
    SOCKET discovery = bound(SOCK_DGRAM, DISCOVERY_PORT, &udp_error);
    SOCKET listener = bound(SOCK_STREAM, GAME_PORT, &tcp_error);
    if (udp_error || tcp_error) {
        say("RESULT bind%d=%d bind%d=%d", DISCOVERY_PORT, udp_error, GAME_PORT, tcp_error);
        return 3;
    }
    find_own_address();
    say("READY %s %s", argc > 1 && strcmp(argv[1], "--control") == 0 ? "control" : "ip", own_address);
    char command[64];
    if (!fgets(command, sizeof command, stdin)) return 2;
    if (strncmp(command, "host ", 5) == 0) return host(discovery, listener, atoi(command + 5) - 1);
    if (strncmp(command, "join", 4) == 0) return join(discovery);
    if (strncmp(command, "sink", 4) == 0) return sink(discovery, listener);
    if (strncmp(command, "stream ", 7) == 0) return stream(discovery, atol(command + 7));
    return 0;
}
