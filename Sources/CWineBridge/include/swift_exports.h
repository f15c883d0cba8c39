/* Every Swift function the C side calls (each an @_cdecl in the Swift module named),
 * declared once. The hook table's detours (vl_hook_<name>) are declared by hook_table.h. */
#ifndef VL_SWIFT_EXPORTS_H
#define VL_SWIFT_EXPORTS_H
#include <stdint.h>
#include "winsock_abi.h"

/* WinsockDetours, Hooks.swift: questions the DLL asks before handing a call to ws2_32. */
int32_t vl_is_virtual_socket(VL_SOCKET s);
int32_t vl_was_virtual_socket(VL_SOCKET s);
/* 1 when socket(af, type, protocol), or WSASocket with `info` (may be NULL), makes a virtual
 * socket (IPv4 UDP or TCP, with the zeros Winsock fills in), or one more handle of one. */
int32_t vl_wants_virtual_socket(int32_t af, int32_t type, int32_t protocol, const void *info);
void vl_process_detach(int32_t exiting);

/* WinsockDetours, Hooks+Control.swift: 1 when ConnectEx of a bound virtual TCP socket
 * aims outside the LAN and the socket was handed to the OS (the system's ConnectEx then). */
int32_t vl_connect_ex_leaves_lan(VL_SOCKET s, const VL_SOCKADDR_IN *name, int32_t length);

/* WinsockDetours, Hooks+Processes.swift: this process joins the instance the process that
 * started it is part of (slot `index` of `generation`); 1 when it did. */
int32_t vl_join_instance(uint32_t index, uint32_t generation);

/* WinsockDetours, DestinationGuard.swift: 1 (and the last error set) when a socket that is
 * not virtual aims at the virtual LAN, its broadcast or multicast. */
int32_t vl_refuse_real_send(const char *function, VL_SOCKET s, const void *to, int32_t length);

/* WinsockDetours, VirtualHost+DualStack.swift: the bind of a socket that is not virtual.
 * Before: the Winsock error (0: none) when an IPv6 socket would take an IPv4 port a
 * virtual socket of this copy holds. After a successful one: remember it if it is
 * dual-stack. */
int32_t vl_dual_stack_bind_refused(VL_SOCKET s, const void *name, int32_t length);
void vl_dual_stack_bound(VL_SOCKET s);

/* WinsockDetours, Log.swift: the log's one line format and its level (VirtualIPCore's
 * LogLevel: error 0, warning 1, info 2, debug 3, trace 4). */
enum { VL_LOG_ERROR = 0, VL_LOG_WARNING = 1, VL_LOG_INFO = 2, VL_LOG_DEBUG = 3, VL_LOG_TRACE = 4 };
int32_t vl_log_enabled(int32_t level);
void vl_log_write(int32_t level, const char *text, uint32_t length);
/* The same line whenever there is a log, whatever its level (the hooks' installation). */
void vl_log_note(int32_t level, const char *text, uint32_t length);

/* HookEngine, InlineHook.swift: one inline hook's trampoline and patch bytes. */
int32_t vl_hook_engine_build(const uint8_t *target, uint32_t available, const void *entry,
                             uint8_t *trampoline, uint32_t trampoline_capacity,
                             uint8_t *patch, uint32_t patch_capacity);
#endif
