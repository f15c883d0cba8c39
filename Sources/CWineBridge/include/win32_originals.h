/* The original ws2_32 (and kernel32) functions the Win32 platform backend calls (captured before the
 * game's imports are patched). DLL build only. */
#ifndef VL_WIN32_ORIGINALS_H
#define VL_WIN32_ORIGINALS_H
#if defined(_WIN32)
#include <winsock2.h>

typedef struct vl_originals {
    int (WSAAPI *WSAStartup)(WORD, LPWSADATA);
    int (WSAAPI *WSACleanup)(void);
    SOCKET (WSAAPI *socket)(int, int, int);
    int (WSAAPI *bind)(SOCKET, const struct sockaddr *, int);
    int (WSAAPI *getsockname)(SOCKET, struct sockaddr *, int *);
    int (WSAAPI *ioctlsocket)(SOCKET, long, u_long *);
    int (WSAAPI *closesocket)(SOCKET);
    int (WSAAPI *shutdown)(SOCKET, int);
    int (WSAAPI *listen)(SOCKET, int);
    SOCKET (WSAAPI *WSAAccept)(SOCKET, struct sockaddr *, LPINT, LPCONDITIONPROC, DWORD_PTR);
    int (WSAAPI *connect)(SOCKET, const struct sockaddr *, int);
    int (WSAAPI *getpeername)(SOCKET, struct sockaddr *, int *);
    int (WSAAPI *WSASend)(SOCKET, LPWSABUF, DWORD, LPDWORD, DWORD, LPWSAOVERLAPPED, LPWSAOVERLAPPED_COMPLETION_ROUTINE);
    int (WSAAPI *WSARecv)(SOCKET, LPWSABUF, DWORD, LPDWORD, LPDWORD, LPWSAOVERLAPPED, LPWSAOVERLAPPED_COMPLETION_ROUTINE);
    int (WSAAPI *sendto)(SOCKET, const char *, int, int, const struct sockaddr *, int);
    int (WSAAPI *recvfrom)(SOCKET, char *, int, int, struct sockaddr *, int *);
    int (WSAAPI *select)(int, fd_set *, fd_set *, fd_set *, const struct timeval *);
    int (WSAAPI *WSAPoll)(WSAPOLLFD *, ULONG, INT);
    int (WSAAPI *setsockopt)(SOCKET, int, int, const char *, int);
    int (WSAAPI *getsockopt)(SOCKET, int, int, char *, int *);
    int (WSAAPI *WSASendTo)(SOCKET, LPWSABUF, DWORD, LPDWORD, DWORD, const struct sockaddr *, int, LPWSAOVERLAPPED, LPWSAOVERLAPPED_COMPLETION_ROUTINE);
    int (WSAAPI *WSARecvFrom)(SOCKET, LPWSABUF, DWORD, LPDWORD, LPDWORD, struct sockaddr *, LPINT, LPWSAOVERLAPPED, LPWSAOVERLAPPED_COMPLETION_ROUTINE);
    int (WSAAPI *WSAEventSelect)(SOCKET, WSAEVENT, long);
    int (WSAAPI *WSAAsyncSelect)(SOCKET, HWND, u_int, long);
    BOOL (WSAAPI *WSAGetOverlappedResult)(SOCKET, LPWSAOVERLAPPED, LPDWORD, BOOL, LPDWORD);
    WSAEVENT (WSAAPI *WSACreateEvent)(void);
    BOOL (WSAAPI *WSACloseEvent)(WSAEVENT);
    BOOL (WSAAPI *WSASetEvent)(WSAEVENT);
    BOOL (WSAAPI *WSAResetEvent)(WSAEVENT);
    DWORD (WSAAPI *WSAWaitForMultipleEvents)(DWORD, const WSAEVENT *, BOOL, DWORD, BOOL);
    int (WSAAPI *WSAGetLastError)(void);
    void (WSAAPI *WSASetLastError)(int);
    HANDLE (WINAPI *CreateIoCompletionPort)(HANDLE, HANDLE, ULONG_PTR, DWORD);
    BOOL (WINAPI *CancelIoEx)(HANDLE, LPOVERLAPPED);
    BOOL (WINAPI *SetFileCompletionNotificationModes)(HANDLE, UCHAR);
    int (WSAAPI *WSAIoctl)(SOCKET, DWORD, LPVOID, DWORD, LPVOID, DWORD, LPDWORD, LPWSAOVERLAPPED, LPWSAOVERLAPPED_COMPLETION_ROUTINE);
    SOCKET (WSAAPI *WSASocketA)(int, int, int, LPWSAPROTOCOL_INFOA, GROUP, DWORD);
    SOCKET (WSAAPI *WSASocketW)(int, int, int, LPWSAPROTOCOL_INFOW, GROUP, DWORD);
    int (WSAAPI *WSADuplicateSocketA)(SOCKET, DWORD, LPWSAPROTOCOL_INFOA);
    int (WSAAPI *WSADuplicateSocketW)(SOCKET, DWORD, LPWSAPROTOCOL_INFOW);
    BOOL (WINAPI *DuplicateHandle)(HANDLE, HANDLE, HANDLE, LPHANDLE, DWORD, BOOL, DWORD);
    BOOL (WINAPI *CreateProcessInternalW)(HANDLE, LPCWSTR, LPWSTR, LPSECURITY_ATTRIBUTES, LPSECURITY_ATTRIBUTES, BOOL, DWORD, LPVOID,
                                          LPCWSTR, LPSTARTUPINFOW, LPPROCESS_INFORMATION, PHANDLE);
} vl_originals;

extern vl_originals vl_original;
void vl_win32_platform_init(void);
/* The system's own extension function (AcceptEx, ConnectEx...) for a socket, or NULL. */
void *vl_system_extension(SOCKET s, const GUID *id);
#endif
#endif
