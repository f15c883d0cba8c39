/* What the Win32 backend's files share (win32_platform.c assembles the table). Private to
 * CWineBridge: not in include/. */
#ifndef VL_WIN32_PARTS_H
#define VL_WIN32_PARTS_H
#include <stdint.h>
#include <winsock2.h>
#include <mswsock.h>
#include "platform.h"

/* The original ws2_32's last error. */
int32_t vl_win32_last_error(void);
/* The system's AcceptEx for a listener's provider (win32_streams.c). */
LPFN_ACCEPTEX vl_win32_real_accept_ex(SOCKET listener);
/* The extension functions as WSAIoctl hands them out for every socket of their provider,
 * virtual or not (win32_sockets.c), and the system's ConnectEx behind the destination
 * guard (win32_hooks.c). */
int32_t WINAPI vl_win32_recv_msg(VL_SOCKET s, VL_WSAMSG *message, uint32_t *received, VL_OVERLAPPED *overlapped, void *routine);
BOOL WINAPI vl_win32_accept_ex(SOCKET listener, SOCKET acceptor, void *output, DWORD receiveLength, DWORD localLength,
                               DWORD remoteLength, DWORD *received, OVERLAPPED *overlapped);
int32_t WINAPI vl_win32_connect_ex(VL_SOCKET s, const VL_SOCKADDR_IN *name, int32_t length, const void *data, uint32_t dataLength,
                                   uint32_t *sent, VL_OVERLAPPED *overlapped);
BOOL PASCAL vl_system_connect_ex(SOCKET s, const struct sockaddr *to, int tolen, PVOID data, DWORD length,
                                 LPDWORD sent, LPOVERLAPPED overlapped);
/* Closes a backing socket after its aborted overlapped sends reached the layer (win32_streams.c). */
void vl_win32_close_after_operations(SOCKET s);
void vl_win32_fill_sockets(vl_platform *p);
void vl_win32_fill_processes(vl_platform *p);
/* This DLL's module (DllMain sets it). */
extern HMODULE vl_win32_module;
void vl_win32_fill_streams(vl_platform *p);
#endif
