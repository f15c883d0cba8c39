/* THE list of hooked functions: one line each, used for everything that needs it —
 * the prototypes of the Swift detours (vl_hook_<name>, @_cdecl in WinsockDetours), the
 * runtime table (name, module, ordinal, libffi signature, detour address) that tests
 * dispatch through, and on Windows the stdcall entry points and import patching.
 *
 * X(module, ordinal, kind, return type, name, signature, (parameters), (arguments))
 * module: the DLL that exports it (kernel32's: the one that starts processes, and those that take any handle, a
 * socket among them). ordinal: the export ordinal in ws2_32.dll (0 = exported by name only).
 * kind: which calls the DLL hands to the original function instead (Linux ignores it):
 *   PLAIN always ours; SOCKET ours when `s` is a virtual socket; DESTINED like SOCKET, and
 *   for other sockets refused (WSAENETUNREACH) when `to` is on the virtual LAN, so nothing
 *   aimed at it leaves the machine; EXTENSION like SOCKET, and for other sockets the
 *   extension functions the DLL has (ConnectEx, AcceptEx, WSARecvMsg) come back as its
 *   own, one per provider as on Windows: ours on a virtual socket, else the system's
 *   (ConnectEx behind that same guard);
 *   BIND like SOCKET, and for other sockets an IPv6 bind is first checked against the
 *   copy's virtual IPv4 ports (a dual-stack socket takes IPv4 ports too) and remembered;
 *   CREATE ours for IPv4 UDP and TCP; SELECT ours when a set holds a virtual socket (POLL: when the array does); RESULT ours for a virtual socket
 *   or one closed while virtual; RESOLVE ours unless we do not know the name (or address); ADDRINFO
 *   ours for the address lists we made; IPV4 ours when the question is about IPv4 (an
 *   AF_INET or AF_UNSPEC family, an IPv4 destination), the rest is the OS's.
 * signature: "<ret>:<args>", one letter per value:
 *   v void, i int32, u uint32, h uint16, p pointer, a pointer to a sockaddr (the trace
 *   shows the address), s SOCKET (pointer-sized unsigned). */
#ifndef VL_HOOK_TABLE_H
#define VL_HOOK_TABLE_H
#include "winsock_abi.h"

#define VL_HOOKS(X) \
    X(WS2_32, 115, PLAIN, int32_t, WSAStartup, "i:hp", (uint16_t version, VL_WSADATA *data), (version, data)) \
    X(WS2_32, 116, PLAIN, int32_t, WSACleanup, "i:", (void), ()) \
    X(WS2_32, 111, PLAIN, int32_t, WSAGetLastError, "i:", (void), ()) \
    X(WS2_32, 112, PLAIN, void, WSASetLastError, "v:i", (int32_t error), (error)) \
    X(WS2_32, 23, CREATE, VL_SOCKET, socket, "s:iii", (int32_t af, int32_t type, int32_t protocol), (af, type, protocol)) \
    X(WS2_32, 0, CREATE, VL_SOCKET, WSASocketA, "s:iiipuu", (int32_t af, int32_t type, int32_t protocol, void *info, uint32_t group, uint32_t flags), (af, type, protocol, info, group, flags)) \
    X(WS2_32, 0, CREATE, VL_SOCKET, WSASocketW, "s:iiipuu", (int32_t af, int32_t type, int32_t protocol, void *info, uint32_t group, uint32_t flags), (af, type, protocol, info, group, flags)) \
    X(WS2_32, 3, SOCKET, int32_t, closesocket, "i:s", (VL_SOCKET s), (s)) \
    X(WS2_32, 2, BIND, int32_t, bind, "i:sai", (VL_SOCKET s, const VL_SOCKADDR_IN *name, int32_t namelen), (s, name, namelen)) \
    X(WS2_32, 13, SOCKET, int32_t, listen, "i:si", (VL_SOCKET s, int32_t backlog), (s, backlog)) \
    X(WS2_32, 22, SOCKET, int32_t, shutdown, "i:si", (VL_SOCKET s, int32_t how), (s, how)) \
    X(WS2_32, 1, SOCKET, VL_SOCKET, accept, "s:sap", (VL_SOCKET s, VL_SOCKADDR_IN *address, int32_t *addrlen), (s, address, addrlen)) \
    X(WS2_32, 0, SOCKET, VL_SOCKET, WSAAccept, "s:sappp", (VL_SOCKET s, VL_SOCKADDR_IN *address, int32_t *addrlen, void *condition, uintptr_t data), (s, address, addrlen, condition, data)) \
    X(WS2_32, 4, DESTINED, int32_t, connect, "i:sai", (VL_SOCKET s, const VL_SOCKADDR_IN *to, int32_t tolen), (s, to, tolen)) \
    X(WS2_32, 0, DESTINED, int32_t, WSAConnect, "i:saipppp", (VL_SOCKET s, const VL_SOCKADDR_IN *to, int32_t tolen, VL_WSABUF *callerData, VL_WSABUF *calleeData, void *sqos, void *gqos), (s, to, tolen, callerData, calleeData, sqos, gqos)) \
    X(WS2_32, 20, DESTINED, int32_t, sendto, "i:spiiai", (VL_SOCKET s, const char *buf, int32_t len, int32_t flags, const VL_SOCKADDR_IN *to, int32_t tolen), (s, buf, len, flags, to, tolen)) \
    X(WS2_32, 17, SOCKET, int32_t, recvfrom, "i:spiiap", (VL_SOCKET s, char *buf, int32_t len, int32_t flags, VL_SOCKADDR_IN *from, int32_t *fromlen), (s, buf, len, flags, from, fromlen)) \
    X(WS2_32, 19, SOCKET, int32_t, send, "i:spii", (VL_SOCKET s, const char *buf, int32_t len, int32_t flags), (s, buf, len, flags)) \
    X(WS2_32, 16, SOCKET, int32_t, recv, "i:spii", (VL_SOCKET s, char *buf, int32_t len, int32_t flags), (s, buf, len, flags)) \
    X(WS2_32, 0, DESTINED, int32_t, WSASendTo, "i:spupuaipp", (VL_SOCKET s, VL_WSABUF *buffers, uint32_t count, uint32_t *sent, uint32_t flags, const VL_SOCKADDR_IN *to, int32_t tolen, VL_OVERLAPPED *overlapped, void *routine), (s, buffers, count, sent, flags, to, tolen, overlapped, routine)) \
    X(WS2_32, 0, SOCKET, int32_t, WSARecvFrom, "i:spuppappp", (VL_SOCKET s, VL_WSABUF *buffers, uint32_t count, uint32_t *received, uint32_t *flags, VL_SOCKADDR_IN *from, int32_t *fromlen, VL_OVERLAPPED *overlapped, void *routine), (s, buffers, count, received, flags, from, fromlen, overlapped, routine)) \
    X(WS2_32, 0, SOCKET, int32_t, WSASend, "i:spupupp", (VL_SOCKET s, VL_WSABUF *buffers, uint32_t count, uint32_t *sent, uint32_t flags, VL_OVERLAPPED *overlapped, void *routine), (s, buffers, count, sent, flags, overlapped, routine)) \
    X(MSWSOCK, 0, SOCKET, int32_t, WSARecvEx, "i:spip", (VL_SOCKET s, char *buf, int32_t len, int32_t *flags), (s, buf, len, flags)) \
    X(WS2_32, 0, SOCKET, int32_t, WSASendMsg, "i:spuppp", (VL_SOCKET s, VL_WSAMSG *message, uint32_t flags, uint32_t *sent, VL_OVERLAPPED *overlapped, void *routine), (s, message, flags, sent, overlapped, routine)) \
    X(WS2_32, 0, SOCKET, int32_t, WSARecv, "i:spupppp", (VL_SOCKET s, VL_WSABUF *buffers, uint32_t count, uint32_t *received, uint32_t *flags, VL_OVERLAPPED *overlapped, void *routine), (s, buffers, count, received, flags, overlapped, routine)) \
    X(WS2_32, 0, SOCKET, int32_t, WSAGetOverlappedResult, "i:sppip", (VL_SOCKET s, VL_OVERLAPPED *overlapped, uint32_t *transferred, int32_t wait, uint32_t *flags), (s, overlapped, transferred, wait, flags)) \
    X(WS2_32, 0, PLAIN, VL_WSAEVENT, WSACreateEvent, "p:", (void), ()) \
    X(WS2_32, 0, PLAIN, int32_t, WSACloseEvent, "i:p", (VL_WSAEVENT event), (event)) \
    X(WS2_32, 0, PLAIN, int32_t, WSASetEvent, "i:p", (VL_WSAEVENT event), (event)) \
    X(WS2_32, 0, PLAIN, int32_t, WSAResetEvent, "i:p", (VL_WSAEVENT event), (event)) \
    X(WS2_32, 0, PLAIN, uint32_t, WSAWaitForMultipleEvents, "u:upiui", (uint32_t count, const VL_WSAEVENT *events, int32_t waitAll, uint32_t timeout, int32_t alertable), (count, events, waitAll, timeout, alertable)) \
    X(WS2_32, 0, SOCKET, int32_t, WSAEventSelect, "i:spi", (VL_SOCKET s, VL_WSAEVENT event, int32_t events), (s, event, events)) \
    X(WS2_32, 101, SOCKET, int32_t, WSAAsyncSelect, "i:spui", (VL_SOCKET s, void *window, uint32_t message, int32_t events), (s, window, message, events)) \
    X(WS2_32, 18, SELECT, int32_t, select, "i:ipppp", (int32_t nfds, VL_FD_SET *readfds, VL_FD_SET *writefds, VL_FD_SET *exceptfds, const VL_TIMEVAL *timeout), (nfds, readfds, writefds, exceptfds, timeout)) \
    X(WS2_32, 0, POLL, int32_t, WSAPoll, "i:pui", (VL_WSAPOLLFD *fds, uint32_t count, int32_t timeout), (fds, count, timeout)) \
    X(WS2_32, 10, SOCKET, int32_t, ioctlsocket, "i:sip", (VL_SOCKET s, int32_t cmd, uint32_t *argp), (s, cmd, argp)) \
    X(WS2_32, 0, EXTENSION, int32_t, WSAIoctl, "i:supupuppp", (VL_SOCKET s, uint32_t code, void *in, uint32_t inlen, void *out, uint32_t outlen, uint32_t *returned, VL_OVERLAPPED *overlapped, void *routine), (s, code, in, inlen, out, outlen, returned, overlapped, routine)) \
    X(WS2_32, 6, SOCKET, int32_t, getsockname, "i:sap", (VL_SOCKET s, VL_SOCKADDR_IN *name, int32_t *namelen), (s, name, namelen)) \
    X(WS2_32, 5, SOCKET, int32_t, getpeername, "i:sap", (VL_SOCKET s, VL_SOCKADDR_IN *name, int32_t *namelen), (s, name, namelen)) \
    X(WS2_32, 21, SOCKET, int32_t, setsockopt, "i:siipi", (VL_SOCKET s, int32_t level, int32_t name, const char *value, int32_t length), (s, level, name, value, length)) \
    X(WS2_32, 7, SOCKET, int32_t, getsockopt, "i:siipp", (VL_SOCKET s, int32_t level, int32_t name, char *value, int32_t *length), (s, level, name, value, length)) \
    X(WS2_32, 57, PLAIN, int32_t, gethostname, "i:pi", (char *name, int32_t length), (name, length)) \
    X(WS2_32, 52, RESOLVE, VL_HOSTENT *, gethostbyname, "p:p", (const char *name), (name)) \
    X(WS2_32, 51, RESOLVE, VL_HOSTENT *, gethostbyaddr, "p:pii", (const char *addr, int32_t len, int32_t type), (addr, len, type)) \
    X(WS2_32, 0, RESOLVE, int32_t, getaddrinfo, "i:pppp", (const char *node, const char *service, const VL_ADDRINFO *hints, VL_ADDRINFO **result), (node, service, hints, result)) \
    X(WS2_32, 0, ADDRINFO, void, freeaddrinfo, "v:p", (VL_ADDRINFO *info), (info)) \
    X(IPHLPAPI, 0, PLAIN, uint32_t, GetAdaptersInfo, "u:pp", (VL_IP_ADAPTER_INFO *info, uint32_t *size), (info, size)) \
    X(IPHLPAPI, 0, IPV4, uint32_t, GetAdaptersAddresses, "u:uuppp", (uint32_t family, uint32_t flags, void *reserved, void *addresses, uint32_t *size), (family, flags, reserved, addresses, size)) \
    X(IPHLPAPI, 0, PLAIN, uint32_t, GetIpAddrTable, "u:ppi", (void *table, uint32_t *size, int32_t order), (table, size, order)) \
    X(IPHLPAPI, 0, PLAIN, uint32_t, GetBestInterface, "u:up", (uint32_t destination, uint32_t *index), (destination, index)) \
    X(IPHLPAPI, 0, IPV4, uint32_t, GetBestInterfaceEx, "u:ap", (const VL_SOCKADDR_IN *to, uint32_t *index), (to, index)) \
    X(IPHLPAPI, 0, PLAIN, uint32_t, GetNumberOfInterfaces, "u:p", (uint32_t *count), (count)) \
    X(IPHLPAPI, 0, PLAIN, uint32_t, ConvertInterfaceIndexToLuid, "u:up", (uint32_t index, void *luid), (index, luid)) \
    X(IPHLPAPI, 0, PLAIN, uint32_t, ConvertInterfaceLuidToIndex, "u:pp", (const void *luid, uint32_t *index), (luid, index)) \
    X(IPHLPAPI, 0, PLAIN, uint32_t, ConvertInterfaceLuidToGuid, "u:pp", (const void *luid, void *guid), (luid, guid)) \
    X(IPHLPAPI, 0, PLAIN, uint32_t, ConvertInterfaceGuidToLuid, "u:pp", (const void *guid, void *luid), (guid, luid)) \
    X(IPHLPAPI, 0, PLAIN, uint32_t, ConvertInterfaceLuidToAlias, "u:pps", (const void *luid, uint16_t *alias, uintptr_t length), (luid, alias, length)) \
    X(IPHLPAPI, 0, PLAIN, uint32_t, ConvertInterfaceAliasToLuid, "u:pp", (const uint16_t *alias, void *luid), (alias, luid)) \
    X(IPHLPAPI, 0, PLAIN, char *, if_indextoname, "p:up", (uint32_t index, char *name), (index, name)) \
    X(IPHLPAPI, 0, PLAIN, uint32_t, if_nametoindex, "u:p", (const char *name), (name)) \
    X(IPHLPAPI, 0, PLAIN, uint32_t, GetIfEntry2, "u:p", (void *row), (row)) \
    X(IPHLPAPI, 0, PLAIN, uint32_t, GetIfTable2, "u:p", (void **table), (table)) \
    X(IPHLPAPI, 0, PLAIN, uint32_t, GetIfTable, "u:ppi", (void *table, uint32_t *size, int32_t order), (table, size, order)) \
    X(IPHLPAPI, 0, PLAIN, uint32_t, GetIfEntry, "u:p", (void *row), (row)) \
    X(IPHLPAPI, 0, PLAIN, uint32_t, GetIpForwardTable, "u:ppi", (void *table, uint32_t *size, int32_t order), (table, size, order)) \
    X(IPHLPAPI, 0, IPV4, uint32_t, GetIpForwardTable2, "u:up", (uint32_t family, void **table), (family, table)) \
    X(IPHLPAPI, 0, PLAIN, uint32_t, GetBestRoute, "u:uup", (uint32_t destination, uint32_t source, void *row), (destination, source, row)) \
    X(IPHLPAPI, 0, PLAIN, uint32_t, GetInterfaceInfo, "u:pp", (void *table, uint32_t *size), (table, size)) \
    X(IPHLPAPI, 0, PLAIN, uint32_t, GetAdapterIndex, "u:pp", (const uint16_t *name, uint32_t *index), (name, index)) \
    X(IPHLPAPI, 0, PLAIN, uint32_t, GetNetworkParams, "u:pp", (void *info, uint32_t *size), (info, size)) \
    X(IPHLPAPI, 0, IPV4, uint32_t, GetUnicastIpAddressTable, "u:up", (uint32_t family, void **table), (family, table)) \
    X(KERNEL32, 0, PLAIN, int32_t, CreateProcessInternalW, "i:pppppiuppppp", (void *token, const uint16_t *application, uint16_t *commandLine, void *processAttributes, void *threadAttributes, int32_t inherit, uint32_t flags, void *environment, const uint16_t *directory, void *startup, VL_PROCESS_INFORMATION *information, void **newToken), (token, application, commandLine, processAttributes, threadAttributes, inherit, flags, environment, directory, startup, information, newToken)) \
    X(KERNEL32, 0, SOCKET, int32_t, CancelIoEx, "i:sp", (VL_SOCKET s, VL_OVERLAPPED *overlapped), (s, overlapped)) \
    X(KERNEL32, 0, SOCKET, int32_t, CancelIo, "i:s", (VL_SOCKET s), (s)) \
    X(KERNEL32, 0, RESULT, int32_t, GetOverlappedResult, "i:sppi", (VL_SOCKET s, VL_OVERLAPPED *overlapped, uint32_t *transferred, int32_t wait), (s, overlapped, transferred, wait)) \
    X(KERNEL32, 0, RESULT, int32_t, GetOverlappedResultEx, "i:sppui", (VL_SOCKET s, VL_OVERLAPPED *overlapped, uint32_t *transferred, uint32_t milliseconds, int32_t alertable), (s, overlapped, transferred, milliseconds, alertable)) \
    X(KERNEL32, 0, SOCKET, int32_t, CloseHandle, "i:s", (VL_SOCKET s), (s)) \
    X(KERNEL32, 0, SOCKET, uint32_t, WaitForSingleObject, "u:su", (VL_SOCKET s, uint32_t milliseconds), (s, milliseconds)) \
    X(KERNEL32, 0, SOCKET, uint32_t, WaitForSingleObjectEx, "u:sui", (VL_SOCKET s, uint32_t milliseconds, int32_t alertable), (s, milliseconds, alertable)) \
    X(KERNEL32, 0, SOCKET, int32_t, DuplicateHandle, "i:psppuiu", (void *sourceProcess, VL_SOCKET s, void *targetProcess, void **target, uint32_t access, int32_t inherit, uint32_t options), (sourceProcess, s, targetProcess, target, access, inherit, options)) \
    X(WS2_32, 0, SOCKET, int32_t, WSADuplicateSocketA, "i:sup", (VL_SOCKET s, uint32_t process, void *info), (s, process, info)) \
    X(WS2_32, 0, SOCKET, int32_t, WSADuplicateSocketW, "i:sup", (VL_SOCKET s, uint32_t process, void *info), (s, process, info)) \
    X(KERNEL32, 0, SOCKET, void *, CreateIoCompletionPort, "p:spsu", (VL_SOCKET s, void *port, uintptr_t key, uint32_t threads), (s, port, key, threads)) \
    X(KERNEL32, 0, SOCKET, int32_t, SetFileCompletionNotificationModes, "i:su", (VL_SOCKET s, uint32_t modes), (s, modes)) \
    X(KERNEL32, 0, SOCKET, int32_t, ReadFile, "i:spupp", (VL_SOCKET s, void *buffer, uint32_t length, uint32_t *read, VL_OVERLAPPED *overlapped), (s, buffer, length, read, overlapped)) \
    X(KERNEL32, 0, SOCKET, int32_t, WriteFile, "i:spupp", (VL_SOCKET s, const void *buffer, uint32_t length, uint32_t *written, VL_OVERLAPPED *overlapped), (s, buffer, length, written, overlapped))

/* Not exports (WSAIoctl hands out their pointers): WSARecvMsg, ConnectEx, AcceptEx and
 * GetAcceptExSockaddrs on a virtual socket, in Swift. ConnectEx and AcceptEx return a BOOL. */
int32_t vl_hook_WSARecvMsg(VL_SOCKET s, VL_WSAMSG *message, uint32_t *received, VL_OVERLAPPED *overlapped, void *routine);
int32_t vl_hook_ConnectEx(VL_SOCKET s, const VL_SOCKADDR_IN *name, int32_t length, const void *data, uint32_t dataLength,
                          uint32_t *sent, VL_OVERLAPPED *overlapped);
int32_t vl_hook_AcceptEx(VL_SOCKET listener, VL_SOCKET acceptor, void *output, uint32_t receiveLength, uint32_t localLength,
                         uint32_t remoteLength, uint32_t *received, VL_OVERLAPPED *overlapped);
void vl_hook_GetAcceptExSockaddrs(void *buffer, uint32_t receiveLength, uint32_t localLength, uint32_t remoteLength,
                                  VL_SOCKADDR_IN **local, int32_t *localSize, VL_SOCKADDR_IN **remote, int32_t *remoteSize);

/* Prototypes of the detours (defined in Swift with @_cdecl("vl_hook_<name>")). */
#define VL_DECLARE_HOOK(module, ordinal, kind, ret, name, sig, params, args) ret vl_hook_##name params;
VL_HOOKS(VL_DECLARE_HOOK)
#undef VL_DECLARE_HOOK

typedef struct vl_hook {
    const char *name;
    const char *module;
    uint16_t ordinal;
    const char *signature;
    void *detour;
} vl_hook;

/* The table, in VL_HOOKS order; vl_hook_count entries. */
extern const vl_hook vl_hooks[];
extern const uint32_t vl_hook_count;
/* The entry named `name`, or NULL. */
const vl_hook *vl_find_hook(const char *name);

#endif
