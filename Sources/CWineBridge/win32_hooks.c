/* The DLL's Win32 half: DllMain, one stdcall entry point per hook-table line (handing
 * non-virtual sockets to the original ws2_32), and inline hooks that send every call of a
 * hooked export to those entry points, from whatever module it comes: the first
 * instructions of each export in ws2_32/iphlpapi are replaced by a jump to our entry, and
 * moved into a trampoline that the "original" now is. Imports by name or ordinal, of ws2_32
 * or wsock32 (whose exports forward to ws2_32), in the exe or any DLL loaded now or later,
 * and pointers from GetProcAddress taken before or after we came: all of them reach the
 * patched code. Calls made from inside ws2_32 itself (sendto calling WSASendTo) and from
 * this DLL go straight to the original: the outermost call has already been decided. */
#if defined(_WIN32)
#include <winsock2.h>
#include <mswsock.h>
#include <windows.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "abi_fill.h"
#include "hook_engine.h"
#include "hook_table.h"
#include "swift_exports.h"
#include "platform.h"
#include "win32_originals.h"
#include "win32_parts.h"


vl_originals vl_original;

enum {
#define VL_INDEX(module, ordinal, kind, ret, name, sig, params, args) VL_INDEX_##name,
    VL_HOOKS(VL_INDEX)
#undef VL_INDEX
    VL_HOOK_TOTAL
};

/* Per hook: how to reach the original (the trampoline once hooked) and our entry point. */
static void *original_address[VL_HOOK_TOTAL];
static void *entry_point[VL_HOOK_TOTAL];

#define VL_ORIGINAL(ret, name, params) ((ret (WINAPI *) params)original_address[VL_INDEX_##name])

/* The images whose calls are never ours: the hooked DLLs themselves and this one. */
typedef struct image { const uint8_t *start, *end; } image;
static image below[3];

static image image_of(HMODULE module) {
    image i = { NULL, NULL };
    if (!module) return i;
    const IMAGE_DOS_HEADER *dos = (const IMAGE_DOS_HEADER *)module;
    const IMAGE_NT_HEADERS *nt = (const IMAGE_NT_HEADERS *)((const uint8_t *)module + dos->e_lfanew);
    i.start = (const uint8_t *)module;
    i.end = i.start + nt->OptionalHeader.SizeOfImage;
    return i;
}

static inline int called_from_below(const void *return_address) {
    const uint8_t *a = return_address;
    for (int i = 0; i < 3; i++)
        if (a >= below[i].start && a < below[i].end) return 1;
    return 0;
}

static int select_has_virtual(const VL_FD_SET *a, const VL_FD_SET *b, const VL_FD_SET *c) {
    const VL_FD_SET *sets[3] = { a, b, c };
    for (int i = 0; i < 3; i++)
        if (sets[i])
            for (uint32_t j = 0; j < sets[i]->fd_count && j < VL_FD_SETSIZE; j++)
                if (vl_is_virtual_socket(sets[i]->fd_array[j])) return 1;
    return 0;
}

static int poll_has_virtual(const VL_WSAPOLLFD *fds, uint32_t count) {
    for (uint32_t i = 0; fds && i < count; i++)
        if (vl_is_virtual_socket(fds[i].fd)) return 1;
    return 0;
}


/* CREATE lines: IPv4 UDP and TCP (the layer fills zeros as Winsock does, from a protocol
 * info too), and WSASocket of a copy WSADuplicateSocket made of a virtual socket. */
static int wants_socket(int32_t af, int32_t type, int32_t protocol) { return vl_wants_virtual_socket(af, type, protocol, NULL); }
static int wants_WSASocketA(int32_t af, int32_t type, int32_t protocol, void *info, uint32_t group, uint32_t flags) {
    (void)group; (void)flags;
    return vl_wants_virtual_socket(af, type, protocol, info);
}
static int wants_WSASocketW(int32_t af, int32_t type, int32_t protocol, void *info, uint32_t group, uint32_t flags) {
    return wants_WSASocketA(af, type, protocol, info, group, flags);
}

/* The extension functions a program gets from WSAIoctl are one per provider, as on
 * Windows: whichever socket it asked on, it gets our entry, which keeps a virtual socket's
 * calls ours and hands the others to the system's (ConnectEx behind the destination guard,
 * so they cannot reach the virtual LAN). A program keeps the first pointer it gets. */
static const GUID connect_ex_id = WSAID_CONNECTEX, accept_ex_id = WSAID_ACCEPTEX, recv_msg_id = WSAID_WSARECVMSG;
static const struct { const GUID *id; void *entry; } our_extensions[] = {
    {&connect_ex_id, (void *)vl_win32_connect_ex},
    {&accept_ex_id, (void *)vl_win32_accept_ex},
    {&recv_msg_id, (void *)vl_win32_recv_msg},
};

/* The system's ConnectEx behind the guard (one provider, TCP/IP, in practice: one function). */
BOOL PASCAL vl_system_connect_ex(SOCKET s, const struct sockaddr *to, int tolen, PVOID data, DWORD length,
                                 LPDWORD sent, LPOVERLAPPED overlapped) {
    static LPFN_CONNECTEX found;
    if (!found) found = (LPFN_CONNECTEX)vl_system_extension(s, &connect_ex_id);
    if (!found) { vl_original.WSASetLastError(WSAEOPNOTSUPP); return FALSE; }
    if (vl_refuse_real_send("ConnectEx", (VL_SOCKET)s, to, tolen)) return FALSE;
    return found(s, to, tolen, data, length, sent, overlapped);
}

/* After the original WSAIoctl on a socket that is not virtual: the system's pointer it
 * handed out is swapped for our entry. */
static int32_t guard_extensions(int32_t result, uint32_t code, void *in, uint32_t inlen, void *out, uint32_t outlen) {
    if (result != 0 || code != SIO_GET_EXTENSION_FUNCTION_POINTER || !in || inlen < sizeof(GUID) || !out || outlen < sizeof(void *))
        return result;
    for (size_t i = 0; i < sizeof our_extensions / sizeof our_extensions[0]; i++)
        if (memcmp(in, our_extensions[i].id, sizeof(GUID)) == 0) memcpy(out, &our_extensions[i].entry, sizeof(void *));
    return result;
}

/* The resolvers (kind RESOLVE): what we do not know (a real host, an address that is no
 * instance's) goes to the original. */
static VL_HOSTENT *WINAPI vl_resolve_gethostbyname(const char *name) {
    VL_HOSTENT *entry = vl_hook_gethostbyname(name);
    if (!entry && vl_original.WSAGetLastError() == VL_WSAHOST_NOT_FOUND)
        return VL_ORIGINAL(VL_HOSTENT *, gethostbyname, (const char *))(name);
    return entry;
}

static VL_HOSTENT *WINAPI vl_resolve_gethostbyaddr(const char *addr, int32_t len, int32_t type) {
    VL_HOSTENT *entry = vl_hook_gethostbyaddr(addr, len, type);
    if (!entry && vl_original.WSAGetLastError() == VL_WSAHOST_NOT_FOUND)
        return VL_ORIGINAL(VL_HOSTENT *, gethostbyaddr, (const char *, int32_t, int32_t))(addr, len, type);
    return entry;
}

static int32_t WINAPI vl_resolve_getaddrinfo(const char *node, const char *service, const VL_ADDRINFO *hints, VL_ADDRINFO **result) {
    int32_t error = vl_hook_getaddrinfo(node, service, hints, result);
    if (error != VL_WSAHOST_NOT_FOUND) return error;
    return VL_ORIGINAL(int32_t, getaddrinfo, (const char *, const char *, const VL_ADDRINFO *, VL_ADDRINFO **))(node, service, hints, result);
}

/* The IPV4 kind's question, per function. */
static int asks_ipv4_GetAdaptersAddresses(uint32_t family, uint32_t flags, void *reserved, void *addresses, uint32_t *size) {
    (void)flags; (void)reserved; (void)addresses; (void)size;
    return family == AF_UNSPEC || family == AF_INET;
}
static int asks_ipv4_GetUnicastIpAddressTable(uint32_t family, void **table) {
    (void)table;
    return family == AF_UNSPEC || family == AF_INET;
}
static int asks_ipv4_GetIpForwardTable2(uint32_t family, void **table) {
    (void)table;
    return family == AF_UNSPEC || family == AF_INET;
}
static int asks_ipv4_GetBestInterfaceEx(const VL_SOCKADDR_IN *to, uint32_t *index) {
    (void)index;
    return to && to->sin_family == AF_INET;
}

/* bind of a socket that is not virtual: the layer may refuse an IPv6 one that would share
 * an IPv4 port with a virtual socket (Windows' answer), and remembers a dual-stack one. */
static int32_t bind_other(VL_SOCKET s, const VL_SOCKADDR_IN *name, int32_t namelen) {
    int32_t refused = vl_dual_stack_bind_refused(s, name, namelen);
    if (refused) {
        vl_original.WSASetLastError(refused);
        return SOCKET_ERROR;
    }
    int32_t result = VL_ORIGINAL(int32_t, bind, (VL_SOCKET, const VL_SOCKADDR_IN *, int32_t))(s, name, namelen);
    if (result == 0) vl_dual_stack_bound(s);
    return result;
}

/* What each kind of entry point hands to the original (see hook_table.h). */
#define VL_PASS_PLAIN(ret, name, params, args)
#define VL_PASS_SOCKET(ret, name, params, args) \
    if (!vl_is_virtual_socket(s)) return VL_ORIGINAL(ret, name, params) args;
#define VL_PASS_BIND(ret, name, params, args) \
    if (!vl_is_virtual_socket(s)) return bind_other args;
#define VL_PASS_DESTINED(ret, name, params, args) \
    if (!vl_is_virtual_socket(s)) \
        return vl_refuse_real_send(#name, s, to, tolen) ? SOCKET_ERROR : VL_ORIGINAL(ret, name, params) args;
#define VL_PASS_EXTENSION(ret, name, params, args) \
    if (!vl_is_virtual_socket(s)) return guard_extensions(VL_ORIGINAL(ret, name, params) args, code, in, inlen, out, outlen);
#define VL_PASS_RESULT(ret, name, params, args) \
    if (!vl_is_virtual_socket(s) && !vl_was_virtual_socket(s)) return VL_ORIGINAL(ret, name, params) args;
#define VL_PASS_CREATE(ret, name, params, args) \
    if (!wants_##name args) return VL_ORIGINAL(ret, name, params) args;
#define VL_PASS_SELECT(ret, name, params, args) \
    if (!select_has_virtual(readfds, writefds, exceptfds)) return VL_ORIGINAL(ret, name, params) args;
#define VL_PASS_POLL(ret, name, params, args) \
    if (!poll_has_virtual(fds, count)) return VL_ORIGINAL(ret, name, params) args;
#define VL_PASS_RESOLVE(ret, name, params, args) return vl_resolve_##name args;
#define VL_PASS_IPV4(ret, name, params, args) \
    if (!asks_ipv4_##name args) return VL_ORIGINAL(ret, name, params) args;
#define VL_PASS_ADDRINFO(ret, name, params, args) \
    if (!vl_owns_addrinfo(info)) return VL_ORIGINAL(ret, name, params) args;

/* ---- the trace (VIRTUALLAN_LOG_LEVEL=trace): every hooked call with its arguments,
 * result and error, one log line each; when off it costs one test of a flag. ---- */

static int tracing;

static void trace_call(uint32_t index, uintptr_t result, ...);
#define VL_EXPAND(...) __VA_ARGS__
#define VL_TRACE(...) VL_TRACE_(__VA_ARGS__)
#define VL_TRACE_(index, result, ...) trace_call(index, result __VA_OPT__(,) __VA_ARGS__)

/* The decision of each line's kind, then the entry point: calls from below go straight
 * to the original; the others are decided, and traced when asked. A traced call reads
 * its result as one uintptr_t: on i386 every result of the table (int, pointer, SOCKET)
 * comes back in EAX and a void one leaves it unused, with the same stdcall arguments;
 * the pointer goes through a volatile so the compiler calls it as it is. */
#define VL_ENTRY_POINT(module, ordinal, kind, ret, name, sig, params, args) \
    static ret WINAPI vl_decide_##name params { \
        VL_PASS_##kind(ret, name, params, args) \
        return vl_hook_##name args; \
    } \
    static ret WINAPI vl_entry_##name params { \
        if (called_from_below(__builtin_return_address(0))) return VL_ORIGINAL(ret, name, params) args; \
        if (!tracing) return vl_decide_##name args; \
        void *volatile decide = (void *)vl_decide_##name; \
        uintptr_t r = ((uintptr_t (WINAPI *) params)decide) args; \
        VL_TRACE(VL_INDEX_##name, r, VL_EXPAND args); \
        return (ret)r; \
    }
VL_HOOKS(VL_ENTRY_POINT)
#undef VL_ENTRY_POINT

static int append(char *line, int at, int capacity, const char *format, ...) {
    if (at >= capacity) return at;
    va_list list;
    va_start(list, format);
    int n = vsnprintf(line + at, (size_t)(capacity - at), format, list);
    va_end(list);
    return n < 0 ? at : at + n;
}

static int append_socket(char *line, int at, int capacity, VL_SOCKET s) {
    int ours = vl_is_virtual_socket(s) || vl_was_virtual_socket(s);
    return append(line, at, capacity, "%lu%s", (unsigned long)s, ours ? "(virtual)" : "");
}

/* "function(arguments) = result [error N]", arguments read by the table's signature. */
static void trace_call(uint32_t index, uintptr_t result, ...) {
    int32_t error = vl_original.WSAGetLastError();
    const vl_hook *hook = &vl_hooks[index];
    char line[512];
    int at = snprintf(line, sizeof line, "%s(", hook->name);
    va_list list;
    va_start(list, result);
    for (const char *letter = strchr(hook->signature, ':') + 1; *letter; letter++) {
        if (letter[-1] != ':') at = append(line, at, sizeof line, ", ");
        switch (*letter) {
        case 's': at = append_socket(line, at, sizeof line, va_arg(list, VL_SOCKET)); break;
        case 'i': at = append(line, at, sizeof line, "%ld", (long)va_arg(list, int32_t)); break;
        case 'u': at = append(line, at, sizeof line, "%lu", (unsigned long)va_arg(list, uint32_t)); break;
        case 'h': at = append(line, at, sizeof line, "0x%x", (unsigned)va_arg(list, int)); break;
        case 'a': {
            const VL_SOCKADDR_IN *a = va_arg(list, const VL_SOCKADDR_IN *);
            if (a && a->sin_family == VL_AF_INET) {
                const uint8_t *ip = (const uint8_t *)&a->sin_addr;
                at = append(line, at, sizeof line, "%u.%u.%u.%u:%u", ip[0], ip[1], ip[2], ip[3],
                            (unsigned)((a->sin_port >> 8) | ((a->sin_port & 0xFF) << 8)));
            } else at = append(line, at, sizeof line, a ? "%p" : "NULL", (const void *)a);
            break;
        }
        default: {
            void *p = va_arg(list, void *);
            at = append(line, at, sizeof line, p ? "%p" : "NULL", p);
        }
        }
    }
    va_end(list);
    char returns = hook->signature[0];
    at = append(line, at, sizeof line, ") = ");
    if (returns == 's') at = append_socket(line, at, sizeof line, (VL_SOCKET)result);
    else if (returns == 'p') at = append(line, at, sizeof line, "%p", (void *)result);
    else if (returns != 'v') at = append(line, at, sizeof line, "%ld", (long)(int32_t)result);
    int failed = (returns == 'i' && (int32_t)result == -1) || (returns == 's' && result == (uintptr_t)-1) || (returns == 'p' && !result);
    if (failed) at = append(line, at, sizeof line, " error %ld", (long)error);
    if (at > (int)sizeof line - 1) at = (int)sizeof line - 1;
    vl_log_write(VL_LOG_TRACE, line, (uint32_t)at);
    vl_original.WSASetLastError(error);  /* the game reads the last error after us */
}

static char not_hooked[512];

/* Hooks every line of the table; returns how many are in. */
static int install_hooks(HMODULE ws2, HMODULE iphlp, HMODULE kernel, HMODULE base, HMODULE mswsock) {
#define VL_ENTRY_ADDRESS(module, ordinal, kind, ret, name, sig, params, args) entry_point[VL_INDEX_##name] = (void *)vl_entry_##name;
    VL_HOOKS(VL_ENTRY_ADDRESS)
#undef VL_ENTRY_ADDRESS

    int engine_ready = vl_hook_engine_begin();
    int installed = 0;
    for (uint32_t i = 0; i < vl_hook_count; i++) {
        const char *module = vl_hooks[i].module;
        HMODULE from = strcmp(module, "IPHLPAPI") == 0 ? iphlp : strcmp(module, "KERNEL32") == 0 ? kernel
                     : strcmp(module, "MSWSOCK") == 0 ? mswsock : ws2;
        uint8_t *export = NULL;
        /* kernel32's export is often a jump into kernelbase's function (Wine's "-import"
         * exports; Windows' stubs): hooked there, kernelbase's own callers reach the hook too
         * (CreateProcessW calls CreateProcessInternalW inside kernelbase). */
        if (from == kernel && base) export = (uint8_t *)GetProcAddress(base, vl_hooks[i].name);
        if (!export && from) export = (uint8_t *)GetProcAddress(from, vl_hooks[i].name);
        void *trampoline = export && engine_ready ? vl_hook_engine_install(export, entry_point[i]) : NULL;
        original_address[i] = trampoline ? trampoline : (void *)export;
        if (trampoline) installed++;
        else {
            size_t used = strlen(not_hooked);
            snprintf(not_hooked + used, sizeof not_hooked - used, " %s", vl_hooks[i].name);
        }
    }
    vl_hook_engine_end();
    return installed;
}

/* The platform's originals: the trampolines of hooked functions, the exports of the rest
 * (ws2_32's, else kernel32's). */
static void *original_named(HMODULE ws2, const char *name) {
    const vl_hook *hook = vl_find_hook(name);
    if (hook) return original_address[hook - vl_hooks];
    void *export = (void *)GetProcAddress(ws2, name);
    return export ? export : (void *)GetProcAddress(GetModuleHandleA("kernel32.dll"), name);
}

static void load_originals(HMODULE ws2) {
#define VL_LOAD(field) vl_original.field = original_named(ws2, #field);
    VL_LOAD(WSAStartup) VL_LOAD(WSACleanup) VL_LOAD(socket) VL_LOAD(bind) VL_LOAD(getsockname) VL_LOAD(ioctlsocket)
    VL_LOAD(closesocket) VL_LOAD(shutdown) VL_LOAD(listen) VL_LOAD(WSAAccept) VL_LOAD(connect) VL_LOAD(getpeername) VL_LOAD(WSASend) VL_LOAD(WSARecv)
     VL_LOAD(sendto) VL_LOAD(recvfrom) VL_LOAD(select) VL_LOAD(WSAPoll) VL_LOAD(setsockopt) VL_LOAD(getsockopt) VL_LOAD(WSASendTo)
    VL_LOAD(WSARecvFrom) VL_LOAD(WSAEventSelect) VL_LOAD(WSAAsyncSelect) VL_LOAD(WSAGetOverlappedResult) VL_LOAD(WSACreateEvent) VL_LOAD(WSACloseEvent)
    VL_LOAD(WSASetEvent) VL_LOAD(WSAResetEvent) VL_LOAD(WSAWaitForMultipleEvents)
    VL_LOAD(WSAGetLastError) VL_LOAD(WSASetLastError) VL_LOAD(CreateIoCompletionPort) VL_LOAD(WSAIoctl)
    VL_LOAD(CreateProcessInternalW) VL_LOAD(WSASocketA) VL_LOAD(WSASocketW) VL_LOAD(WSADuplicateSocketA) VL_LOAD(WSADuplicateSocketW)
    VL_LOAD(DuplicateHandle) VL_LOAD(CancelIoEx) VL_LOAD(SetFileCompletionNotificationModes)
#undef VL_LOAD
}

static void log_installation(int installed) {
    char line[700];
    int length = snprintf(line, sizeof line, "hooks installed: %d of %u functions hooked inline in ws2_32/iphlpapi/kernel32/mswsock (every module's calls)%s%s",
                          installed, (unsigned)vl_hook_count,
                          not_hooked[0] ? "; NOT hooked (their start cannot be moved):" : "", not_hooked);
    if (length > (int)sizeof line - 1) length = (int)sizeof line - 1;
    vl_log_note(not_hooked[0] ? VL_LOG_WARNING : VL_LOG_INFO, line, (uint32_t)length);
}

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved) {
    if (reason == DLL_PROCESS_ATTACH) {
        DisableThreadLibraryCalls(instance);
        vl_win32_module = instance;
        vl_win32_platform_init();
        HMODULE ws2 = GetModuleHandleA("ws2_32.dll");
        if (!ws2) ws2 = LoadLibraryA("ws2_32.dll");
        HMODULE iphlp = GetModuleHandleA("iphlpapi.dll");
        if (!iphlp) iphlp = LoadLibraryA("iphlpapi.dll");
        below[0] = image_of(ws2);
        below[1] = image_of(iphlp);
        below[2] = image_of((HMODULE)instance);
        /* mswsock's WSARecvEx takes a socket too; loaded now so its start can be hooked. */
        HMODULE mswsock = GetModuleHandleA("mswsock.dll");
        if (!mswsock) mswsock = LoadLibraryA("mswsock.dll");
        int installed = install_hooks(ws2, iphlp, GetModuleHandleA("kernel32.dll"), GetModuleHandleA("kernelbase.dll"), mswsock);
        load_originals(ws2);
        tracing = vl_log_enabled(VL_LOG_TRACE);
        log_installation(installed);
    } else if (reason == DLL_PROCESS_DETACH) {
        /* reserved != NULL: the process is ending; its other threads are gone already. */
        vl_process_detach(reserved != NULL);
    }
    return TRUE;
}

/* For an injector or proxy that wants to ask whether the hooks are in. */
__declspec(dllexport) uint32_t WINAPI VirtualLANHookCount(void) { return vl_hook_count; }
#endif
