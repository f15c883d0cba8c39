/* The module-coverage test program: runs the same lobby (lobby.c) from the module named
 * by -via:
 *   exe      lobby.c linked into this exe (ws2_32 imports of the exe)
 *   dll      netdll.dll, a DLL this exe imports (its own ws2_32 imports)
 *   late     netlate.dll, loaded with LoadLibrary after start
 *   wsock32  netwsock.dll, which imports only wsock32.dll
 *   getproc  this exe's lobby through pointers from GetProcAddress, taken BEFORE the hook
 *            DLL is loaded (-load DLL loads it afterwards; run without the injector)
 * -probe: instead of the lobby, aim once at the virtual LAN (TCP connect, unicast,
 * broadcast, multicast) and report each result (the leak test).
 * modtest -via MODE [-host | -probe] [-clients N] [-port P] [-load PATH] */
#include <winsock2.h>
#include <windows.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include "lobby.h"

int lobby_run(int is_host, int clients, unsigned short port, const char *via);         /* lobby.c, direct */
int lobby_run_pointers(int is_host, int clients, unsigned short port, const char *via); /* lobby.c, pointers */
__declspec(dllimport) int netdll_run(int is_host, int clients, unsigned short port, const char *via);
__declspec(dllimport) int netwsock_run(int is_host, int clients, unsigned short port, const char *via);
extern lobby_winsock lobby_ws;

static void resolve(lobby_winsock *ws) {
    HMODULE m = LoadLibraryA("ws2_32.dll");
#define R(name) ws->name = (void *)GetProcAddress(m, #name);
    R(WSAStartup) R(WSACleanup) R(WSAGetLastError) R(socket) R(bind) R(connect) R(setsockopt) R(sendto) R(send)
    R(recvfrom) R(select) R(closesocket) R(gethostname) R(htons) R(inet_ntoa) R(inet_addr) R(ioctlsocket) R(WSAIoctl) R(listen) R(gethostbyname) R(getsockopt)
#undef R
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *via = "exe", *load = NULL;
    int is_host = 0, clients = 3;
    unsigned short port = 31000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-via") && i + 1 < argc) via = argv[++i];
        else if (!strcmp(argv[i], "-host")) is_host = 1;
        else if (!strcmp(argv[i], "-probe")) is_host = LOBBY_PROBE;
        else if (!strcmp(argv[i], "-clients") && i + 1 < argc) clients = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-port") && i + 1 < argc) port = (unsigned short)atoi(argv[++i]);
        else if (!strcmp(argv[i], "-load") && i + 1 < argc) load = argv[++i];
    }
    if (!strcmp(via, "exe")) return lobby_run(is_host, clients, port, via);
    if (!strcmp(via, "dll")) return netdll_run(is_host, clients, port, via);
    if (!strcmp(via, "wsock32")) return netwsock_run(is_host, clients, port, via);
    if (!strcmp(via, "late")) {
        HMODULE late = LoadLibraryA("netlate.dll");
        lobby_run_fn run = late ? (lobby_run_fn)GetProcAddress(late, "netlate_run") : NULL;
        if (!run) { printf("RESULT fail via=late load=%lu\n", GetLastError()); return 4; }
        return run(is_host, clients, port, via);
    }
    if (!strcmp(via, "getproc")) {
        resolve(&lobby_ws);
        if (load && !LoadLibraryA(load)) { printf("RESULT fail via=getproc load=%lu\n", GetLastError()); return 4; }
        return lobby_run_pointers(is_host, clients, port, via);
    }
    printf("RESULT fail unknown via=%s\n", via);
    return 2;
}
