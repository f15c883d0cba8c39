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
/* Closes a backing socket after its aborted overlapped sends reached the layer (win32_streams.c). */
void vl_win32_close_after_operations(SOCKET s);
void vl_win32_fill_sockets(vl_platform *p);
void vl_win32_fill_processes(vl_platform *p);
/* This DLL's module (DllMain sets it). */
extern HMODULE vl_win32_module;
void vl_win32_fill_streams(vl_platform *p);
#endif
