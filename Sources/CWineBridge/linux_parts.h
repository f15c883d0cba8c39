/* What the Linux backend's files share (linux_platform.c assembles the table). Private to
 * CWineBridge: not in include/. */
#ifndef VL_LINUX_PARTS_H
#define VL_LINUX_PARTS_H
#include <stdint.h>
#include "platform.h"

/* errno -> Winsock error. */
int32_t vl_linux_wsa_error(int e);
/* The platform's clock (now_ms): monotonic milliseconds, wrapping. */
uint32_t vl_linux_now_ms(void);
void vl_linux_set_last_error(int32_t e);
/* Winsock's stream flags (MSG_OOB, MSG_PEEK, MSG_WAITALL) -> Linux's. */
int vl_linux_stream_flags(int32_t flags);
/* A detached thread running `body`. */
void vl_linux_start_detached(void *(*body)(void *));
/* Overlapped sends and receives still waiting on the socket end with WSA_OPERATION_ABORTED. */
void vl_linux_cancel_io(int fd);
uintptr_t vl_linux_current_thread(void);
/* The listener's next connection onto `into` (dup3: it takes that descriptor's number and
 * blocking mode); WSAEWOULDBLOCK when none waits. */
int32_t vl_linux_accept_into(VL_SOCKET s, VL_SOCKET into, uint16_t *real_peer_port);
/* Whether a connection the listener deferred waits (its next accept takes it), and
 * dropping it (the listener closes). */
int vl_linux_has_deferred(VL_SOCKET s);
void vl_linux_drop_deferred(int listener);
/* getpeername's port of a connected stream. */
int32_t vl_linux_peer_port(VL_SOCKET s, uint16_t *real_peer_port);

void vl_linux_fill_sockets(vl_platform *p);
void vl_linux_fill_accepts(vl_platform *p);
void vl_linux_fill_emulation(vl_platform *p);
void vl_linux_fill_stream_io(vl_platform *p);
void vl_linux_emulation_init(void);
#endif
