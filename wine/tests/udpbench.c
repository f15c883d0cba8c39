/* udpbench.exe: UDP ping-pong latency and one-way throughput between two processes,
 * for wine/bench (run once through the hook DLL, once without it).
 *   udpbench.exe server PORT
 *   udpbench.exe client SERVER-IP PORT ROUND-TRIPS DATAGRAMS
 *   udpbench.exe idle SECONDS   (two overlapped receives pending, nothing arrives)
 * The client prints: RESULT rtt_p50_us=.. rtt_p99_us=.. pps=.. received=N/M; idle prints
 * RESULT cpu_ms=.. (the whole process's CPU time over those seconds). */
#include <winsock2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double now_us(void) {
    LARGE_INTEGER c, f;
    QueryPerformanceCounter(&c);
    QueryPerformanceFrequency(&f);
    return (double)c.QuadPart * 1e6 / (double)f.QuadPart;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static SOCKET open_bound(unsigned short port) {
    SOCKET s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    int size = 4 << 20;
    setsockopt(s, SOL_SOCKET, SO_RCVBUF, (const char *)&size, sizeof size);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0) { printf("RESULT error=bind:%d\n", WSAGetLastError()); exit(3); }
    return s;
}

int main(int argc, char **argv) {
    WSADATA data;
    WSAStartup(MAKEWORD(2, 2), &data);
    char buffer[2048];
    if (argc == 3 && strcmp(argv[1], "idle") == 0) {
        SOCKET s = open_bound(0);
        WSAOVERLAPPED pending[2];
        WSABUF one = { sizeof buffer, buffer };
        for (int i = 0; i < 2; i++) {
            DWORD received = 0, flags = 0;
            memset(&pending[i], 0, sizeof pending[i]);
            pending[i].hEvent = WSACreateEvent();
            if (WSARecv(s, &one, 1, &received, &flags, &pending[i], NULL) == 0 || WSAGetLastError() != WSA_IO_PENDING) {
                printf("RESULT error=not-pending:%d\n", WSAGetLastError());
                return 3;
            }
        }
        FILETIME created, exited, kernel0, user0, kernel1, user1;
        GetProcessTimes(GetCurrentProcess(), &created, &exited, &kernel0, &user0);
        Sleep((DWORD)atoi(argv[2]) * 1000);  /* the measurement: what the process uses meanwhile */
        GetProcessTimes(GetCurrentProcess(), &created, &exited, &kernel1, &user1);
        ULONGLONG used = (((ULONGLONG)kernel1.dwHighDateTime << 32 | kernel1.dwLowDateTime) - ((ULONGLONG)kernel0.dwHighDateTime << 32 | kernel0.dwLowDateTime))
                       + (((ULONGLONG)user1.dwHighDateTime << 32 | user1.dwLowDateTime) - ((ULONGLONG)user0.dwHighDateTime << 32 | user0.dwLowDateTime));
        printf("RESULT cpu_ms=%.3f\n", (double)used / 10000.0);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "server") == 0) {
        SOCKET s = open_bound((unsigned short)atoi(argv[2]));
        printf("ready\n");
        fflush(stdout);
        long counted = 0;
        double first = 0, last = 0;
        for (;;) {
            struct sockaddr_in from;
            int length = sizeof from;
            int n = recvfrom(s, buffer, sizeof buffer, 0, (struct sockaddr *)&from, &length);
            if (n <= 0) continue;
            if (buffer[0] == 'P') sendto(s, buffer, n, 0, (struct sockaddr *)&from, length);
            else if (buffer[0] == 'T') { if (!counted++) first = now_us(); last = now_us(); }
            else if (buffer[0] == 'E') {
                int reply = snprintf(buffer, sizeof buffer, "C %ld %.0f", counted, last - first);
                sendto(s, buffer, reply, 0, (struct sockaddr *)&from, length);
            } else if (buffer[0] == 'Q') return 0;
        }
    }
    if (argc != 6 || strcmp(argv[1], "client") != 0) { fprintf(stderr, "usage: see udpbench.c\n"); return 1; }
    SOCKET s = open_bound(0);
    DWORD timeout = 2000;
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (const char *)&timeout, sizeof timeout);
    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_port = htons((unsigned short)atoi(argv[3]));
    to.sin_addr.s_addr = inet_addr(argv[2]);
    int trips = atoi(argv[4]), datagrams = atoi(argv[5]), warmup = trips / 20 + 10;
    double *samples = malloc(sizeof(double) * (size_t)trips);
    memset(buffer, 'P', 64);
    int got = 0;
    for (int i = 0; i < trips + warmup; i++) {
        double t0 = now_us();
        sendto(s, buffer, 64, 0, (struct sockaddr *)&to, sizeof to);
        if (recv(s, buffer, sizeof buffer, 0) <= 0) { printf("RESULT error=no-echo:%d\n", WSAGetLastError()); return 4; }
        if (i >= warmup) samples[got++] = now_us() - t0;
    }
    qsort(samples, (size_t)got, sizeof *samples, compare);
    memset(buffer, 'T', 1400);
    for (int i = 0; i < datagrams; i++) sendto(s, buffer, 1400, 0, (struct sockaddr *)&to, sizeof to);
    long counted = 0;
    double span = 0;
    for (int attempt = 0; attempt < 20 && !counted; attempt++) {
        buffer[0] = 'E';
        sendto(s, buffer, 1, 0, (struct sockaddr *)&to, sizeof to);
        int n = recv(s, buffer, sizeof buffer - 1, 0);
        if (n > 0 && buffer[0] == 'C') { buffer[n] = 0; sscanf(buffer, "C %ld %lf", &counted, &span); }
    }
    buffer[0] = 'Q';
    sendto(s, buffer, 1, 0, (struct sockaddr *)&to, sizeof to);
    printf("RESULT rtt_p50_us=%.1f rtt_p99_us=%.1f pps=%.0f received=%ld/%d\n", samples[got / 2], samples[(got * 99) / 100],
           span > 0 ? (double)(counted - 1) * 1e6 / span : 0.0, counted, datagrams);
    return 0;
}
