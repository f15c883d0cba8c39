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
 * answer with overlapped WSARecv on an I/O completion port. "host-iocp N" is the same host
 * as an IOCP server (every AcceptEx posted at once, GetAcceptExSockaddrs for the player's
 * address, overlapped WSARecv/WSASend and discovery on one completion port); "join-ex"
 * connects with ConnectEx, the HELLO going with the handshake. Everything is bounded: a
 * copy gives up after 30 s and says why. */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
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

/* The WELCOME for a whole HELLO; 1 when the player claims another address than `taker`
 * (accept, AcceptEx) reported. */
static int answer(player *p, const char *taker) {
    frame_head *hello = (frame_head *)p->in, *welcome = (frame_head *)p->out;
    int wrong = memcmp(hello->tag, "HELLO", 6) != 0 || strcmp(hello->address, p->peer) != 0;
    if (wrong) say("ERROR player claims %.15s, %s says %s", hello->address, taker, p->peer);
    strcpy(welcome->tag, "WELCOME");
    strcpy(welcome->address, p->peer);
    welcome->checksum = checksum(p->in + sizeof(frame_head));
    fill(p->out + sizeof(frame_head), seed_of(own_address));
    p->answered = 1;
    return wrong;
}

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
            if (p->got == (int)FRAME && !p->answered) errors += answer(p, "accept");
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

/* ---- the host as an IOCP server ---- */

enum { ACCEPTED, RECEIVED, SENT, DISCOVERY };
typedef struct { WSAOVERLAPPED o; int kind, index; } operation;  /* o first: the port hands it back */

static void *extension(SOCKET s, GUID id) {
    void *pointer = NULL;
    DWORD returned = 0;
    WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof id, &pointer, sizeof pointer, &returned, NULL, NULL);
    return pointer;
}

/* Posts an overlapped operation; 0 when it is under way or done. */
static int posted(int r) { return r == 0 || WSAGetLastError() == WSA_IO_PENDING ? 0 : WSAGetLastError(); }

static int host_iocp(SOCKET discovery, SOCKET listener, int expected) {
    LPFN_ACCEPTEX accept_ex = extension(listener, (GUID)WSAID_ACCEPTEX);
    LPFN_GETACCEPTEXSOCKADDRS names = extension(listener, (GUID)WSAID_GETACCEPTEXSOCKADDRS);
    if (!accept_ex || !names) { say("RESULT fail no-acceptex error=%d", WSAGetLastError()); return 1; }
    player *players = calloc(MAX_PLAYERS, sizeof *players);
    operation *ops = calloc(3 * MAX_PLAYERS + 1, sizeof *ops);
    static char addresses[MAX_PLAYERS][2 * (sizeof(struct sockaddr_in) + 16)], scratch[64];
    const DWORD name_size = sizeof(struct sockaddr_in) + 16;
    int done = 0, errors = 0, accepted = 0;
    long bytes_in = 0, bytes_out = 0;
    HANDLE port = CreateIoCompletionPort((HANDLE)listener, NULL, 1, 0);
    CreateIoCompletionPort((HANDLE)discovery, port, 0, 0);
    for (int i = 0; i < expected && i < MAX_PLAYERS; i++) {
        players[i].s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
        operation *a = &ops[3 * i + ACCEPTED];
        a->kind = ACCEPTED, a->index = i;
        DWORD got = 0;
        if (accept_ex(listener, players[i].s, addresses[i], 0, name_size, name_size, &got, &a->o) || WSAGetLastError() != WSA_IO_PENDING) {
            say("ERROR AcceptEx %d: %d", i, WSAGetLastError());
            errors++;
        }
    }
    char request[64];
    struct sockaddr_in from;
    int from_length = sizeof from;
    WSABUF request_buffer = { sizeof request, request };
    operation *d = &ops[3 * MAX_PLAYERS];
    d->kind = DISCOVERY;
    DWORD flags = 0, bytes = 0;
    errors += posted(WSARecvFrom(discovery, &request_buffer, 1, &bytes, &flags, (struct sockaddr *)&from, &from_length, &d->o, NULL)) != 0;
    DWORD start = GetTickCount();
    while (done < expected && !errors && GetTickCount() - start < GIVE_UP_MS) {
        ULONG_PTR key = 0;
        OVERLAPPED *o = NULL;
        BOOL ok = GetQueuedCompletionStatus(port, &bytes, &key, &o, 1000);
        if (!o) continue;
        operation *x = (operation *)o;
        player *p = &players[x->index];
        switch (x->kind) {
        case DISCOVERY:
            if (ok && bytes == 10 && memcmp(request, "VLDISCOVER", 10) == 0)
                sendto(discovery, "VLHOST", 6, 0, (struct sockaddr *)&from, from_length);
            from_length = sizeof from;
            flags = 0;
            errors += posted(WSARecvFrom(discovery, &request_buffer, 1, &bytes, &flags, (struct sockaddr *)&from, &from_length, &d->o, NULL)) != 0;
            break;
        case ACCEPTED: {
            if (!ok) { say("ERROR AcceptEx %d ended with %lu", x->index, GetLastError()); errors++; break; }
            accepted++;
            setsockopt(p->s, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, (char *)&listener, sizeof listener);
            struct sockaddr *local = NULL, *remote = NULL;
            int local_length = 0, remote_length = 0;
            names(addresses[x->index], 0, name_size, name_size, &local, &local_length, &remote, &remote_length);
            strcpy(p->peer, remote_length == sizeof(struct sockaddr_in) ? inet_ntoa(((struct sockaddr_in *)remote)->sin_addr) : "?");
            CreateIoCompletionPort((HANDLE)p->s, port, 2 + x->index, 0);
        }   /* fall through: the first receive */
        case RECEIVED:
            if (x->kind == RECEIVED) {
                if (!ok || bytes == 0) {
                    p->closed = 1;
                    if (p->sent == (int)FRAME) done++;
                    else { say("ERROR player %s left early (%lu)", p->peer, ok ? 0 : GetLastError()); errors++; }
                    break;
                }
                if (p->got < (int)FRAME) { p->got += (int)bytes; bytes_in += bytes; }
            }
            if (p->got == (int)FRAME && !p->answered) {
                errors += answer(p, "AcceptEx");
                operation *w = &ops[3 * x->index + SENT];
                w->kind = SENT, w->index = x->index;
                WSABUF out = { (ULONG)FRAME, (char *)p->out };
                errors += posted(WSASend(p->s, &out, 1, &bytes, 0, &w->o, NULL)) != 0;
            }
            {   /* the rest of the HELLO, or (answered) the player's close */
                operation *r = &ops[3 * x->index + RECEIVED];
                r->kind = RECEIVED, r->index = x->index;
                WSABUF in = p->got < (int)FRAME ? (WSABUF){ (ULONG)FRAME - p->got, (char *)p->in + p->got } : (WSABUF){ sizeof scratch, scratch };
                flags = 0;
                errors += posted(WSARecv(p->s, &in, 1, &bytes, &flags, &r->o, NULL)) != 0;
            }
            break;
        case SENT:
            if (!ok) { say("ERROR WSASend to %s ended with %lu", p->peer, GetLastError()); errors++; break; }
            p->sent += (int)bytes;
            bytes_out += bytes;
            if (p->sent < (int)FRAME) {
                WSABUF rest = { (ULONG)FRAME - p->sent, (char *)p->out + p->sent };
                errors += posted(WSASend(p->s, &rest, 1, &bytes, 0, &x->o, NULL)) != 0;
            }
            break;
        }
    }
    say("RESULT %s players=%d done=%d errors=%d in=%ld out=%ld", done == expected && !errors ? "ok" : "fail", accepted, done,
        errors, bytes_in, bytes_out);
    return done == expected && !errors ? 0 : 1;
}

/* ---- a player ---- */

/* The host's TCP game port. */
static struct sockaddr_in game_port_of(struct in_addr host_address) {
    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_port = htons(GAME_PORT);
    to.sin_addr = host_address;
    return to;
}

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

/* ConnectEx with the whole HELLO as its first bytes (the rest sent after, if it took part). */
static int connect_ex(SOCKET s, struct sockaddr_in to, const unsigned char *hello, HANDLE *port) {
    LPFN_CONNECTEX function = extension(s, (GUID)WSAID_CONNECTEX);
    struct sockaddr_in any;
    memset(&any, 0, sizeof any);
    any.sin_family = AF_INET;
    bind(s, (struct sockaddr *)&any, sizeof any);
    *port = CreateIoCompletionPort((HANDLE)s, NULL, 42, 0);
    WSAOVERLAPPED o;
    memset(&o, 0, sizeof o);
    DWORD sent = 0;
    if (!function || (!function(s, (struct sockaddr *)&to, sizeof to, (void *)hello, (DWORD)FRAME, &sent, &o)
                      && WSAGetLastError() != WSA_IO_PENDING)) {
        say("RESULT fail connectex=%d", WSAGetLastError());
        return 0;
    }
    ULONG_PTR key = 0;
    LPOVERLAPPED done = NULL;
    if (!GetQueuedCompletionStatus(*port, &sent, &key, &done, 10000) || key != 42 || done != &o) {
        say("RESULT fail connectex-completion error=%lu", GetLastError());
        return 0;
    }
    setsockopt(s, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, NULL, 0);
    for (int r; sent < FRAME; sent += r)
        if ((r = send(s, (const char *)hello + sent, (int)(FRAME - sent), 0)) <= 0) { say("RESULT fail send=%d", WSAGetLastError()); return 0; }
    return 1;
}

/* A non-blocking connect (FD_CONNECT), then the HELLO sent blocking. */
static int connect_with_events(SOCKET s, struct sockaddr_in to, const unsigned char *hello, HANDLE *port) {
    WSAEVENT connected = WSACreateEvent();
    WSAEventSelect(s, connected, FD_CONNECT);
    int r = connect(s, (struct sockaddr *)&to, sizeof to);
    if (r != 0 && WSAGetLastError() != WSAEWOULDBLOCK) { say("RESULT fail connect=%d", WSAGetLastError()); return 0; }
    WSANETWORKEVENTS n;
    DWORD w = WSAWaitForMultipleEvents(1, &connected, FALSE, 10000, FALSE);
    WSAEnumNetworkEvents(s, connected, &n);
    if (w != WSA_WAIT_EVENT_0 || !(n.lNetworkEvents & FD_CONNECT) || n.iErrorCode[FD_CONNECT_BIT]) {
        say("RESULT fail fd-connect wait=%lu events=0x%lx error=%d", w, n.lNetworkEvents, n.iErrorCode[FD_CONNECT_BIT]);
        return 0;
    }
    WSAEventSelect(s, NULL, 0);
    u_long blocking = 0;
    ioctlsocket(s, FIONBIO, &blocking);
    for (int sent = 0; sent < (int)FRAME;) {
        r = send(s, (const char *)hello + sent, (int)FRAME - sent, 0);
        if (r <= 0) { say("RESULT fail send=%d", WSAGetLastError()); return 0; }
        sent += r;
    }
    *port = CreateIoCompletionPort((HANDLE)s, NULL, 42, 0);
    return 1;
}

static int join(SOCKET discovery, int with_connect_ex) {
    struct in_addr host_address;
    if (!find_host(discovery, &host_address)) { say("RESULT fail no-host-answered"); return 1; }
    char host_text[16];
    strcpy(host_text, inet_ntoa(host_address));
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    struct sockaddr_in to = game_port_of(host_address);
    static unsigned char hello[FRAME], welcome[FRAME], expected[PAYLOAD];
    frame_head *head = (frame_head *)hello;
    strcpy(head->tag, "HELLO");
    strcpy(head->address, own_address);
    fill(hello + sizeof(frame_head), seed_of(own_address));
    HANDLE port = NULL;
    int r;
    if (!(with_connect_ex ? connect_ex(s, to, hello, &port) : connect_with_events(s, to, hello, &port))) return 1;

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
    int end = r == 0 ? 0 : WSAGetLastError();
    /* A reset ends the stream with WSAECONNRESET on Windows. Wine 8 says so only to a recv
     * that waits as the reset comes; it keeps the reset as a mark and reads 0 bytes after it
     * (sock.c's test_tcp_reset, todo_wine), a mark WSAPoll shows as POLLERR. A graceful end
     * has none: the mark tells the two apart where the 0 cannot. */
    WSAPOLLFD state = { c, POLLRDNORM, 0 };
    int reset_mark = r == 0 && WSAPoll(&state, 1, 0) == 1 && (state.revents & POLLERR);
    say("RESULT sink bytes=%ld end=%d%s", bytes, end, reset_mark ? " reset-mark" : "");
    return 0;
}

/* Finds the host, sends `total` bytes (blocking), closes its side, waits for the host's. */
static int stream(SOCKET discovery, long total) {
    struct in_addr host_address;
    if (!find_host(discovery, &host_address)) { say("RESULT stream no-host-answered"); return 1; }
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    struct sockaddr_in to = game_port_of(host_address);
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
    if (strncmp(command, "host-iocp ", 10) == 0) return host_iocp(discovery, listener, atoi(command + 10) - 1);
    if (strncmp(command, "join-ex", 7) == 0) return join(discovery, 1);
    if (strncmp(command, "join", 4) == 0) return join(discovery, 0);
    if (strncmp(command, "sink", 4) == 0) return sink(discovery, listener);
    if (strncmp(command, "stream ", 7) == 0) return stream(discovery, atol(command + 7));
    return 0;
}
