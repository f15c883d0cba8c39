/* fo2sim.exe: a stand-in for FlatOut 2's LAN networking (../../shared/notes/flatout2.md),
 * faithful to what the game does on the wire and with Winsock:
 *   - WSAStartup twice; UDP sockets bound to 0.0.0.0:23756 (game) and 0.0.0.0:23757
 *     (discovery), both SO_BROADCAST;
 *   - discovery: a 36-byte request from port 23757 to 255.255.255.255:23757; the host
 *     answers by broadcast with a session description embedding its IPv4 (learned from
 *     gethostbyname(gethostname()) and GetAdaptersInfo) and a UTF-16LE server name;
 *   - join by unicast to the host's 23756; the host sends the player list; then every
 *     peer sends game packets to every other peer (u16 length prefix, "FO14" at offset
 *     10), round by round (lock step), for -rounds=N rounds;
 *   - receives: overlapped WSARecvFrom with events, WSAWaitForMultipleEvents over several
 *     events, WSAResetEvent, WSAGetOverlappedResult; the immediate-success return too;
 *   - packets carrying its own MAC are dropped.
 * Command line: -lan -host | -join[=<ip>]  -name=<text> -players=<n, host> -rounds=<n>
 *               -tick=<ms between rounds, like a frame rate; 0 = as fast as possible>
 *               -timeout=<seconds>
 * Prints progress lines and, at exit, one machine-readable line:
 *   RESULT role=host|client ok=0|1 lobby=0|1 ip=<own ip> players=<n> sent=<n> received=<n>
 *          lost=<n> ownmac=<n> dropped=<peers that went silent> immediate=<n> waited=<n>
 *          resent=<times it repeated its packets while waiting> */
#include <winsock2.h>
#include <iphlpapi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../tests/say.h"

#define GAME_PORT 23756
#define DISCOVERY_PORT 23757
#define MAX_PLAYERS 8
#define MAX_ROUNDS 10000
#define SILENT_PEER_MS 6000
#define RETRY_MS 500

static const unsigned char request_template[36] = {
    0x22, 0x00, 0x99, 0x72, 0xcc, 0x8f, 0x00, 0x00, 0x00, 0x00, 'F', 'O', '1', '4',
    0, 0, 0, 0, 0, 0, 0, 0, 0x18, 0x0c, 0x00, 0x00, 0x22, 0x00,
    0x2e, 0x55, 0x19, 0xb4, 0xe1, 0x4f, 0x81, 0x4a };

enum { PACKET_JOIN = 'J', PACKET_LIST = 'L', PACKET_ROUND = 'R' };

static struct {
    int host, rounds, players, timeout_s, tick_ms;
    char name[32];
    unsigned long join_ip;           /* -join=<ip>: skip discovery */
    unsigned long own_ip;            /* network order */
    unsigned char mac[6];
    SOCKET game, discovery;
} config = { 0, 20, 2, 120, 0, "FO2SIM", 0, 0, { 0 }, INVALID_SOCKET, INVALID_SOCKET };

typedef struct peer {
    unsigned long ip;
    int dead;
    DWORD last_heard;
    unsigned char got[MAX_ROUNDS / 8 + 1];
} peer;

static peer peers[MAX_PLAYERS];
static int peer_count;               /* the others, from the player list (host: joined clients) */
static int list_known;
static unsigned long host_ip;
static int lobby_seen;
static long sent, received, ownmac_drops, immediate, waited, resent;

static const char *ip_text(unsigned long ip) {
    struct in_addr a;
    a.s_addr = ip;
    return inet_ntoa(a);
}

static peer *find_peer(unsigned long ip) {
    for (int i = 0; i < peer_count; i++) if (peers[i].ip == ip) return &peers[i];
    return NULL;
}

static SOCKET open_socket(unsigned short port) {
    SOCKET s = WSASocketA(AF_INET, SOCK_DGRAM, IPPROTO_UDP, NULL, 0, WSA_FLAG_OVERLAPPED);
    BOOL on = TRUE;
    setsockopt(s, SOL_SOCKET, SO_BROADCAST, (const char *)&on, sizeof on);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (s == INVALID_SOCKET || bind(s, (struct sockaddr *)&a, sizeof a) != 0) {
        say("RESULT role=%s ok=0 error=bind%u:%d", config.host ? "host" : "client", port, WSAGetLastError());
        exit(3);
    }
    return s;
}

static void send_to(SOCKET s, unsigned long ip, unsigned short port, const unsigned char *data, int length) {
    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = ip;
    if (sendto(s, (const char *)data, length, 0, (struct sockaddr *)&to, sizeof to) != length)
        say("warning: sendto %s:%u failed: %d", ip_text(ip), port, WSAGetLastError());
}

/* Game packet: u16 length-2, type, 0, MAC (6), "FO14" at 10, u32 round, payload. */
static int game_packet(unsigned char *p, int type, unsigned long round, const void *payload, int payload_length) {
    int length = 18 + payload_length;
    p[0] = (unsigned char)((length - 2) & 0xff);
    p[1] = (unsigned char)((length - 2) >> 8);
    p[2] = (unsigned char)type;
    p[3] = 0;
    memcpy(p + 4, config.mac, 6);
    memcpy(p + 10, "FO14", 4);
    memcpy(p + 14, &round, 4);
    if (payload_length) memcpy(p + 18, payload, payload_length);
    return length;
}

static void send_response(void) {
    unsigned char p[256];
    memcpy(p, request_template, 36);
    p[22] = 0x19; /* a response, same shape as the request */
    int n = 36;
    for (const char *c = config.name; *c; c++) { p[n++] = (unsigned char)*c; p[n++] = 0; } /* UTF-16LE */
    p[n++] = 0; p[n++] = 0;
    memcpy(p + n, config.mac, 6); /* server data: the host's MAC */
    n += 6;
    memcpy(p + n, &config.own_ip, 4);              /* -15..-12: the host's IPv4 */
    p[n + 4] = MAX_PLAYERS;                         /* -11 max players */
    p[n + 5] = (unsigned char)((peer_count + 1) * 0x10); /* -10 current players x 0x10 */
    p[n + 6] = 0;
    p[n + 7] = 1;                                   /* -8 car type */
    p[n + 8] = 0x61;                                /* -7 race */
    p[n + 9] = p[n + 10] = p[n + 11] = 0;
    p[n + 12] = 1;                                  /* -3 track type */
    p[n + 13] = 3;                                  /* -2 map id */
    p[n + 14] = 3 << 4;                             /* -1 laps */
    n += 15;
    p[0] = (unsigned char)((n - 2) & 0xff);
    p[1] = (unsigned char)((n - 2) >> 8);
    send_to(config.discovery, INADDR_BROADCAST, DISCOVERY_PORT, p, n);
    sent++;
}

static void send_list(unsigned long to) {
    unsigned char list[1 + 4 * (MAX_PLAYERS + 1)];
    list[0] = (unsigned char)(peer_count + 1);
    memcpy(list + 1, &config.own_ip, 4);
    for (int i = 0; i < peer_count; i++) memcpy(list + 5 + 4 * i, &peers[i].ip, 4);
    unsigned char p[64];
    send_to(config.game, to, GAME_PORT, p, game_packet(p, PACKET_LIST, 0, list, 1 + 4 * (peer_count + 1)));
    sent++;
}

static void send_round(unsigned long round) {
    unsigned char filler[80];
    memset(filler, (int)(round & 0xff), sizeof filler);
    unsigned char p[128];
    int n = game_packet(p, PACKET_ROUND, round, filler, sizeof filler);
    for (int i = 0; i < peer_count; i++) {
        if (peers[i].dead) continue;
        send_to(config.game, peers[i].ip, GAME_PORT, p, n);
        sent++;
    }
}

static void on_discovery(const unsigned char *p, int n) {
    if (n < 36 || memcmp(p + 10, "FO14", 4) != 0) return;
    if (n == 36 && p[22] == 0x18) {             /* a request */
        if (config.host) send_response();
        return;
    }
    if (n < 36 + 2 + 6 + 15) return;
    if (memcmp(p + n - 21, config.mac, 6) == 0) { ownmac_drops++; return; }  /* our own answer, looped back */
    if (config.host || lobby_seen) return;
    memcpy(&host_ip, p + n - 15, 4);
    lobby_seen = 1;
    say("lobby: %s at %s, %d/%d players", "found", ip_text(host_ip), p[n - 10] / 0x10, p[n - 11]);
}

static void on_game(const unsigned char *p, int n, unsigned long from, int *started) {
    if (n < 18 || memcmp(p + 10, "FO14", 4) != 0) return;
    if (memcmp(p + 4, config.mac, 6) == 0) { ownmac_drops++; return; }   /* our own: ignore */
    unsigned long round;
    memcpy(&round, p + 14, 4);
    if (p[2] == PACKET_JOIN && config.host) {
        if (!find_peer(from) && peer_count < MAX_PLAYERS - 1 && !*started) {
            peers[peer_count].ip = from;
            peers[peer_count].last_heard = GetTickCount();
            peer_count++;
            say("join: %s (%d/%d)", ip_text(from), peer_count + 1, config.players);
        }
        if (peer_count + 1 >= config.players) {
            if (!*started) {
                for (int i = 0; i < peer_count; i++) send_list(peers[i].ip);
                list_known = 1;
            } else if (find_peer(from)) {
                send_list(from);            /* a retried join: the list again */
            }
        }
    } else if (p[2] == PACKET_LIST && !config.host && !list_known && from == host_ip && n >= 19) {
        int count = p[18];
        peer_count = 0;
        for (int i = 0; i < count && i < MAX_PLAYERS && 19 + 4 * i + 4 <= n; i++) {
            unsigned long ip;
            memcpy(&ip, p + 19 + 4 * i, 4);
            if (ip == config.own_ip) continue;
            peers[peer_count].ip = ip;
            peers[peer_count].last_heard = GetTickCount();
            peer_count++;
        }
        list_known = 1;
        say("players: %d", count);
    } else if (p[2] == PACKET_ROUND && round < MAX_ROUNDS) {
        peer *q = find_peer(from);
        if (!q) return;                     /* not (yet) a known player: a real game ignores it too */
        q->last_heard = GetTickCount();
        if (!(q->got[round / 8] & (1 << (round % 8)))) {
            q->got[round / 8] |= (unsigned char)(1 << (round % 8));
            received++;
        }
    }
}

typedef struct receiver {
    SOCKET socket;
    WSAOVERLAPPED overlapped;
    WSABUF buffer;
    unsigned char data[2048];
    struct sockaddr_in from;
    int from_length;
    DWORD flags;
    int ready;
} receiver;

static void post(receiver *r) {
    HANDLE event = r->overlapped.hEvent;
    memset(&r->overlapped, 0, sizeof r->overlapped);
    r->overlapped.hEvent = event;
    r->buffer.buf = (char *)r->data;
    r->buffer.len = sizeof r->data;
    r->from_length = sizeof r->from;
    r->flags = 0;
    DWORD bytes = 0;
    r->ready = WSARecvFrom(r->socket, &r->buffer, 1, &bytes, &r->flags, (struct sockaddr *)&r->from, &r->from_length, &r->overlapped, NULL) == 0;
    if (!r->ready && WSAGetLastError() != WSA_IO_PENDING) {
        say("RESULT role=%s ok=0 error=WSARecvFrom:%d", config.host ? "host" : "client", WSAGetLastError());
        exit(4);
    }
}

static int round_complete(unsigned long round) {
    for (int i = 0; i < peer_count; i++)
        if (!peers[i].dead && !(peers[i].got[round / 8] & (1 << (round % 8)))) return 0;
    return 1;
}

static void parse(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-host") == 0) config.host = 1;
        else if (strcmp(a, "-join") == 0 || strcmp(a, "-lan") == 0) {}
        else if (strncmp(a, "-join=", 6) == 0) config.join_ip = inet_addr(a + 6);
        else if (strncmp(a, "-name=", 6) == 0) snprintf(config.name, sizeof config.name, "%s", a + 6);
        else if (strncmp(a, "-rounds=", 8) == 0) config.rounds = atoi(a + 8);
        else if (strncmp(a, "-players=", 9) == 0) config.players = atoi(a + 9);
        else if (strncmp(a, "-timeout=", 9) == 0) config.timeout_s = atoi(a + 9);
        else if (strncmp(a, "-tick=", 6) == 0) config.tick_ms = atoi(a + 6);
        else { fprintf(stderr, "fo2sim: unknown switch %s\n", a); exit(1); }
    }
    if (config.rounds < 1 || config.rounds > MAX_ROUNDS || config.players < 2 || config.players > MAX_PLAYERS) {
        fprintf(stderr, "fo2sim: -rounds=1..%d and -players=2..%d\n", MAX_ROUNDS, MAX_PLAYERS);
        exit(1);
    }
}

int main(int argc, char **argv) {
    parse(argc, argv);
    WSADATA data;
    if (WSAStartup(MAKEWORD(2, 2), &data) != 0 || WSAStartup(MAKEWORD(2, 2), &data) != 0) { say("RESULT ok=0 error=WSAStartup"); return 2; }

    /* Own address and MAC, the way the game learns them. */
    char hostname[256] = "";
    gethostname(hostname, sizeof hostname);
    struct hostent *h = gethostbyname(hostname);
    if (h && h->h_addr_list[0]) memcpy(&config.own_ip, h->h_addr_list[0], 4);
    ULONG size = 0;
    GetAdaptersInfo(NULL, &size);
    IP_ADAPTER_INFO *adapters = malloc(size ? size : 1);
    if (size && GetAdaptersInfo(adapters, &size) == NO_ERROR) {
        memcpy(config.mac, adapters->Address, 6);
        if (inet_addr(adapters->IpAddressList.IpAddress.String) != config.own_ip)
            say("warning: gethostbyname says %s, the adapter %s", ip_text(config.own_ip), adapters->IpAddressList.IpAddress.String);
    }
    config.game = open_socket(GAME_PORT);
    config.discovery = open_socket(DISCOVERY_PORT);
    say("ready %s %s %s", config.host ? "host" : "client", hostname, ip_text(config.own_ip));

    receiver game_rx, discovery_rx;
    memset(&game_rx, 0, sizeof game_rx);
    memset(&discovery_rx, 0, sizeof discovery_rx);
    game_rx.socket = config.game;
    discovery_rx.socket = config.discovery;
    game_rx.overlapped.hEvent = WSACreateEvent();
    discovery_rx.overlapped.hEvent = WSACreateEvent();
    WSAEVENT idle = WSACreateEvent();          /* never set: a third event, as the game waits on several */
    post(&game_rx);
    post(&discovery_rx);
    receiver *receivers[2] = { &game_rx, &discovery_rx };
    WSAEVENT events[3] = { game_rx.overlapped.hEvent, discovery_rx.overlapped.hEvent, idle };

    if (config.host) lobby_seen = 1, host_ip = config.own_ip;
    if (config.join_ip) lobby_seen = 1, host_ip = config.join_ip;
    DWORD start = GetTickCount(), last_retry = 0, round_started = 0;
    int started = 0, dropped = 0;
    unsigned long round = 0;
    int done = 0;
    while (!done && GetTickCount() - start < (DWORD)config.timeout_s * 1000) {
        DWORD now = GetTickCount();
        /* Retries of the connection steps, as the game repeats them. */
        if (now - last_retry >= RETRY_MS || last_retry == 0) {
            last_retry = now;
            if (!config.host && !lobby_seen) { send_to(config.discovery, INADDR_BROADCAST, DISCOVERY_PORT, request_template, 36); sent++; }
            else if (!config.host && !list_known) {
                unsigned char p[64];
                send_to(config.game, host_ip, GAME_PORT, p, game_packet(p, PACKET_JOIN, 0, config.name, (int)strlen(config.name) + 1));
                sent++;
            } else if (started && round < (unsigned long)config.rounds && now - round_started >= RETRY_MS) {
                /* Waiting on a slow (or gone) player: repeat our packets, as games keep sending;
                 * it keeps us heard, and a peer that hears nobody at all is the one gone. Lock
                 * step keeps every peer within one round of us, so this round and the one before
                 * are all anyone can still be missing: a lost datagram cannot stall the race. */
                send_round(round);
                if (round > 0) send_round(round - 1);
                resent++;
            }
        }
        if (list_known && !started) {
            started = 1;
            round_started = now;
            send_round(0);
            say("race: %d players, %d rounds", peer_count + 1, config.rounds);
        }
        DWORD wait_ms = 250;
        if (started) {
            for (int i = 0; i < peer_count; i++)
                if (!peers[i].dead && now - peers[i].last_heard > SILENT_PEER_MS) {
                    peers[i].dead = 1;
                    dropped++;
                    say("player %s went silent: dropped", ip_text(peers[i].ip));
                }
            while (round < (unsigned long)config.rounds && round_complete(round)) {
                DWORD due = round_started + (DWORD)config.tick_ms;
                if (config.tick_ms && (long)(due - GetTickCount()) > 0) { /* the next frame is not due yet */
                    wait_ms = due - GetTickCount();
                    break;
                }
                round++;
                round_started = GetTickCount();
                if (round < (unsigned long)config.rounds) send_round(round);
            }
            if (round >= (unsigned long)config.rounds) { done = 1; break; }
        }
        int which;
        if (game_rx.ready || discovery_rx.ready) {
            which = game_rx.ready ? 0 : 1;
            immediate++;
        } else {
            DWORD w = WSAWaitForMultipleEvents(3, events, FALSE, wait_ms < 250 ? wait_ms : 250, FALSE);
            if (w == WSA_WAIT_TIMEOUT) continue;
            if (w >= WSA_WAIT_EVENT_0 + 3) { say("RESULT ok=0 error=wait:%d", WSAGetLastError()); return 7; }
            which = (int)(w - WSA_WAIT_EVENT_0);
            waited++;
        }
        receiver *r = receivers[which];
        DWORD bytes = 0, flags = 0;
        WSAResetEvent(r->overlapped.hEvent);
        if (!WSAGetOverlappedResult(r->socket, &r->overlapped, &bytes, FALSE, &flags)) {
            int e = WSAGetLastError();
            if (e == WSA_IO_INCOMPLETE) continue;
            say("warning: WSAGetOverlappedResult: %d", e);
        } else if (which == 0) {
            on_game(r->data, (int)bytes, r->from.sin_addr.s_addr, &started);
        } else {
            on_discovery(r->data, (int)bytes);
        }
        post(r);
    }
    long expected = 0;
    for (int i = 0; i < peer_count; i++) {
        if (peers[i].dead) continue;
        expected += config.rounds;
    }
    long got_from_live = 0;
    for (int i = 0; i < peer_count; i++)
        if (!peers[i].dead)
            for (int k = 0; k < config.rounds; k++) got_from_live += (peers[i].got[k / 8] >> (k % 8)) & 1;
    long lost = expected - got_from_live;
    int ok = done && lobby_seen && list_known && lost == 0;
    say("RESULT role=%s ok=%d lobby=%d ip=%s players=%d sent=%ld received=%ld lost=%ld ownmac=%ld dropped=%d immediate=%ld waited=%ld resent=%ld",
        config.host ? "host" : "client", ok, lobby_seen, ip_text(config.own_ip), list_known ? peer_count + 1 : 0,
        sent, received, lost, ownmac_drops, dropped, immediate, waited, resent);
    closesocket(config.game);
    closesocket(config.discovery);
    WSACleanup();
    WSACleanup();
    return ok ? 0 : 1;
}
