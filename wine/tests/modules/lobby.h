/* The lobby every module of the module-coverage test carries (lobby.c). */
#ifndef LOBBY_H
#define LOBBY_H
#include <winsock2.h>

#ifdef LOBBY_DLL
#define LOBBY_EXPORT __declspec(dllexport)
#else
#define LOBBY_EXPORT
#endif

/* Winsock through pointers (the GetProcAddress mode): filled before the hook DLL loads. */
typedef struct lobby_winsock {
    int (WSAAPI *WSAStartup)(WORD, LPWSADATA);
    int (WSAAPI *WSACleanup)(void);
    int (WSAAPI *WSAGetLastError)(void);
    SOCKET (WSAAPI *socket)(int, int, int);
    int (WSAAPI *bind)(SOCKET, const struct sockaddr *, int);
    int (WSAAPI *connect)(SOCKET, const struct sockaddr *, int);
    int (WSAAPI *listen)(SOCKET, int);
    int (WSAAPI *getsockopt)(SOCKET, int, int, char *, int *);
    struct hostent *(WSAAPI *gethostbyname)(const char *);
    int (WSAAPI *setsockopt)(SOCKET, int, int, const char *, int);
    int (WSAAPI *sendto)(SOCKET, const char *, int, int, const struct sockaddr *, int);
    int (WSAAPI *send)(SOCKET, const char *, int, int);
    int (WSAAPI *recvfrom)(SOCKET, char *, int, int, struct sockaddr *, int *);
    int (WSAAPI *select)(int, fd_set *, fd_set *, fd_set *, const struct timeval *);
    int (WSAAPI *closesocket)(SOCKET);
    int (WSAAPI *gethostname)(char *, int);
    u_short (WSAAPI *htons)(u_short);
    char *(WSAAPI *inet_ntoa)(struct in_addr);
    unsigned long (WSAAPI *inet_addr)(const char *);
    int (WSAAPI *ioctlsocket)(SOCKET, long, u_long *);
    int (WSAAPI *WSAIoctl)(SOCKET, DWORD, LPVOID, DWORD, LPVOID, DWORD, LPDWORD, LPWSAOVERLAPPED, LPWSAOVERLAPPED_COMPLETION_ROUTINE);
} lobby_winsock;

/* is_host: 1 host, 0 client, LOBBY_PROBE the leak probe. */
enum { LOBBY_PROBE = 2 };
typedef int (*lobby_run_fn)(int is_host, int clients, unsigned short port, const char *via);
#endif
