/* launcher.exe: processes that start processes, as launchers and games do.
 *   launcher.exe PROGRAM [ARGS...]   starts PROGRAM with CreateProcessW (stdio inherited),
 *                                    waits, exits with its exit code (a game's launcher)
 *   launcher.exe --host-child        a game that starts its own server process: it starts
 *                                    `launcher.exe --serve`, waits until that one has bound
 *                                    UDP and TCP 23800, then reaches it at 127.0.0.1 and at
 *                                    its own address, and tries to bind 23800 itself; prints
 *                                    RESULT ok ... or RESULT fail ...
 *   launcher.exe --serve EVENT       the server: binds UDP and TCP 23800 on 0.0.0.0, sets
 *                                    the named event, echoes 2 datagrams, accepts 1
 *                                    connection and sends it one byte, then exits.
 * Every wait is bounded (10 s). */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

enum { PORT = 23800 };

static int start(const wchar_t *line, PROCESS_INFORMATION *process) {
    STARTUPINFOW startup;
    memset(&startup, 0, sizeof startup);
    startup.cb = sizeof startup;
    static wchar_t copy[32768];
    wcsncpy(copy, line, 32767);
    return CreateProcessW(NULL, copy, NULL, NULL, TRUE, 0, NULL, NULL, &startup, process);
}

/* The rest of our own command line after the program's name: what to start. */
static const wchar_t *after_program(const wchar_t *line) {
    int quoted = 0;
    for (; *line && (quoted || (*line != L' ' && *line != L'\t')); line++)
        if (*line == L'"') quoted = !quoted;
    while (*line == L' ' || *line == L'\t') line++;
    return line;
}

static int launch(void) {
    PROCESS_INFORMATION process;
    if (!start(after_program(GetCommandLineW()), &process)) {
        fprintf(stderr, "launcher: cannot start the program (error %lu)\n", GetLastError());
        return 121;
    }
    WaitForSingleObject(process.hProcess, INFINITE);
    DWORD code = 0;
    GetExitCodeProcess(process.hProcess, &code);
    return (int)code;
}

static SOCKET bound(int type, DWORD timeout) {
    SOCKET s = socket(AF_INET, type, 0);
    struct sockaddr_in at = { AF_INET, htons(PORT), { { .S_addr = INADDR_ANY } }, { 0 } };
    if (bind(s, (struct sockaddr *)&at, sizeof at) != 0) {
        closesocket(s);
        return INVALID_SOCKET;
    }
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (char *)&timeout, sizeof timeout);
    return s;
}

static int serve(const char *event_name) {
    SOCKET udp = bound(SOCK_DGRAM, 10000), tcp = bound(SOCK_STREAM, 10000);
    if (udp == INVALID_SOCKET || tcp == INVALID_SOCKET || listen(tcp, 1) != 0) return 3;
    HANDLE ready = OpenEventA(EVENT_MODIFY_STATE, FALSE, event_name);
    if (!ready || !SetEvent(ready)) return 4;
    for (int i = 0; i < 2; i++) {
        char data[64];
        struct sockaddr_in from;
        int length = sizeof from;
        int n = recvfrom(udp, data, sizeof data, 0, (struct sockaddr *)&from, &length);
        if (n <= 0) return 5;
        sendto(udp, data, n, 0, (struct sockaddr *)&from, length);
    }
    fd_set readable;
    FD_ZERO(&readable);
    FD_SET(tcp, &readable);
    struct timeval ten = { 10, 0 };
    if (select(0, &readable, NULL, NULL, &ten) != 1) return 6;
    SOCKET c = accept(tcp, NULL, NULL);
    send(c, "!", 1, 0);
    shutdown(c, SD_SEND);
    char rest;
    recv(c, &rest, 1, 0);  /* the client's close */
    closesocket(c);
    return 0;
}

/* One datagram to `to`:PORT; its echo's source as "a.b.c.d:port", or the error. */
static void echo_from(SOCKET s, struct in_addr to, char *answer, size_t size) {
    struct sockaddr_in at = { AF_INET, htons(PORT), to, { 0 } };
    sendto(s, "ping", 4, 0, (struct sockaddr *)&at, sizeof at);
    char data[64];
    struct sockaddr_in from;
    int length = sizeof from;
    if (recvfrom(s, data, sizeof data, 0, (struct sockaddr *)&from, &length) != 4) {
        snprintf(answer, size, "error%d", WSAGetLastError());
        return;
    }
    snprintf(answer, size, "%s:%u", inet_ntoa(from.sin_addr), ntohs(from.sin_port));
}

static int host_child(void) {
    char event_name[64];
    snprintf(event_name, sizeof event_name, "virtuallan-launcher-%lu", GetCurrentProcessId());
    HANDLE ready = CreateEventA(NULL, TRUE, FALSE, event_name);
    wchar_t program[MAX_PATH], line[MAX_PATH + 64];
    GetModuleFileNameW(NULL, program, MAX_PATH);
    swprintf(line, sizeof line / sizeof *line, L"\"%ls\" --serve %hs", program, event_name);
    PROCESS_INFORMATION server;
    if (!start(line, &server)) { printf("RESULT fail start=%lu\n", GetLastError()); return 1; }
    HANDLE waits[2] = { ready, server.hProcess };
    if (WaitForMultipleObjects(2, waits, FALSE, 10000) != WAIT_OBJECT_0) {
        DWORD code = 0;
        GetExitCodeProcess(server.hProcess, &code);
        printf("RESULT fail server-not-ready exit=%lu\n", code);
        return 1;
    }
    char name[256];
    gethostname(name, sizeof name);
    struct hostent *me = gethostbyname(name);
    struct in_addr own = *(struct in_addr *)me->h_addr_list[0], loopback = { { .S_addr = htonl(INADDR_LOOPBACK) } };
    SOCKET s = socket(AF_INET, SOCK_DGRAM, 0);
    DWORD timeout = 10000;
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (char *)&timeout, sizeof timeout);
    char at_loopback[64], at_own[64];
    echo_from(s, loopback, at_loopback, sizeof at_loopback);
    echo_from(s, own, at_own, sizeof at_own);
    SOCKET mine = bound(SOCK_DGRAM, 0);
    int bind_error = mine == INVALID_SOCKET ? WSAGetLastError() : 0;
    SOCKET c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in to = { AF_INET, htons(PORT), loopback, { 0 } };
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, (char *)&timeout, sizeof timeout);
    char byte = 0;
    int connected = connect(c, (struct sockaddr *)&to, sizeof to) == 0 && recv(c, &byte, 1, 0) == 1 && byte == '!';
    closesocket(c);
    DWORD code = 1;
    WaitForSingleObject(server.hProcess, 10000);
    GetExitCodeProcess(server.hProcess, &code);
    char expected_own[64];
    snprintf(expected_own, sizeof expected_own, "%s:%u", inet_ntoa(own), PORT);
    int ok = strcmp(at_loopback, "127.0.0.1:23800") == 0 && strcmp(at_own, expected_own) == 0 && bind_error == WSAEADDRINUSE
             && connected && code == 0;
    printf("RESULT %s own=%s loopback-echo=%s own-echo=%s bind=%d tcp=%d server-exit=%lu\n", ok ? "ok" : "fail", inet_ntoa(own),
           at_loopback, at_own, bind_error, connected, code);
    return ok ? 0 : 1;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    WSADATA data;
    int host = argc == 2 && strcmp(argv[1], "--host-child") == 0, server = argc == 3 && strcmp(argv[1], "--serve") == 0;
    if ((host || server) && WSAStartup(MAKEWORD(2, 2), &data) != 0) return 2;
    if (host) return host_child();
    if (server) return serve(argv[2]);
    if (argc < 2) {
        fprintf(stderr, "usage: launcher.exe PROGRAM [ARGS...] | --host-child\n");
        return 120;
    }
    return launch();
}
