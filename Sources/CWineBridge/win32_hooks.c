/* The DLL's Win32 half: DllMain, one stdcall entry point per hook-table line (handing
 * non-virtual sockets to the original ws2_32), import-table patching of the main module
 * (ws2_32, wsock32, iphlpapi; by name or ordinal alike, matched by the address the import
 * resolved to) and a GetProcAddress detour for late-bound lookups. */
#if defined(_WIN32)
#include <winsock2.h>
#include <windows.h>
#include <stdio.h>
#include <string.h>
#include "abi_fill.h"
#include "hook_table.h"
#include "platform.h"
#include "win32_originals.h"

/* Answers from the Swift side. */
int32_t vl_is_virtual_socket(VL_SOCKET s);
int32_t vl_was_virtual_socket(VL_SOCKET s);
void vl_process_detach(int32_t exiting);

vl_originals vl_original;

enum {
#define VL_INDEX(module, ordinal, kind, ret, name, sig, params, args) VL_INDEX_##name,
    VL_HOOKS(VL_INDEX)
#undef VL_INDEX
    VL_HOOK_TOTAL
};

/* Per hook: the original in ws2_32/iphlpapi, the same name in wsock32, our entry point. */
static void *original_address[VL_HOOK_TOTAL];
static void *wsock32_address[VL_HOOK_TOTAL];
static void *entry_point[VL_HOOK_TOTAL];

#define VL_ORIGINAL(ret, name, params) ((ret (WINAPI *) params)original_address[VL_INDEX_##name])

static int select_has_virtual(const VL_FD_SET *a, const VL_FD_SET *b, const VL_FD_SET *c) {
    const VL_FD_SET *sets[3] = { a, b, c };
    for (int i = 0; i < 3; i++)
        if (sets[i])
            for (uint32_t j = 0; j < sets[i]->fd_count && j < VL_FD_SETSIZE; j++)
                if (vl_is_virtual_socket(sets[i]->fd_array[j])) return 1;
    return 0;
}

static int wants_virtual(int32_t af, int32_t type, int32_t protocol) {
    return af == VL_AF_INET && type == VL_SOCK_DGRAM && (protocol == 0 || protocol == VL_IPPROTO_UDP);
}

/* What each kind of entry point hands to the original (see hook_table.h). */
#define VL_PASS_PLAIN(ret, name, params, args)
#define VL_PASS_SOCKET(ret, name, params, args) \
    if (!vl_is_virtual_socket(s)) return VL_ORIGINAL(ret, name, params) args;
#define VL_PASS_RESULT(ret, name, params, args) \
    if (!vl_is_virtual_socket(s) && !vl_was_virtual_socket(s)) return VL_ORIGINAL(ret, name, params) args;
#define VL_PASS_CREATE(ret, name, params, args) \
    if (!wants_virtual(af, type, protocol)) return VL_ORIGINAL(ret, name, params) args;
#define VL_PASS_SELECT(ret, name, params, args) \
    if (!select_has_virtual(readfds, writefds, exceptfds)) return VL_ORIGINAL(ret, name, params) args;
#define VL_PASS_RESOLVE(ret, name, params, args)
#define VL_PASS_ADDRINFO(ret, name, params, args) \
    if (!vl_owns_addrinfo(info)) return VL_ORIGINAL(ret, name, params) args;

#define VL_ENTRY_POINT(module, ordinal, kind, ret, name, sig, params, args) \
    static ret WINAPI vl_entry_##name params { \
        VL_PASS_##kind(ret, name, params, args) \
        return vl_hook_##name args; \
    }
VL_HOOKS(VL_ENTRY_POINT)
#undef VL_ENTRY_POINT

/* gethostbyname: names we do not know (a real host) go to the original resolver. */
static VL_HOSTENT *WINAPI vl_resolve_gethostbyname(const char *name) {
    VL_HOSTENT *entry = vl_hook_gethostbyname(name);
    if (!entry && vl_original.WSAGetLastError() == VL_WSAHOST_NOT_FOUND)
        return VL_ORIGINAL(VL_HOSTENT *, gethostbyname, (const char *))(name);
    return entry;
}

/* getaddrinfo: names we do not know go to the original resolver. */
static int32_t WINAPI vl_resolve_getaddrinfo(const char *node, const char *service, const VL_ADDRINFO *hints, VL_ADDRINFO **result) {
    int32_t error = vl_hook_getaddrinfo(node, service, hints, result);
    if (error == VL_WSAHOST_NOT_FOUND)
        return VL_ORIGINAL(int32_t, getaddrinfo, (const char *, const char *, const VL_ADDRINFO *, VL_ADDRINFO **))(node, service, hints, result);
    return error;
}

static void load_originals(void) {
    HMODULE ws2 = GetModuleHandleA("ws2_32.dll");
    if (!ws2) ws2 = LoadLibraryA("ws2_32.dll");
    HMODULE iphlp = GetModuleHandleA("iphlpapi.dll");
    if (!iphlp) iphlp = LoadLibraryA("iphlpapi.dll");
    HMODULE wsock = GetModuleHandleA("wsock32.dll");
    for (uint32_t i = 0; i < vl_hook_count; i++) {
        HMODULE from = strcmp(vl_hooks[i].module, "IPHLPAPI") == 0 ? iphlp : ws2;
        original_address[i] = from ? (void *)GetProcAddress(from, vl_hooks[i].name) : NULL;
        wsock32_address[i] = wsock ? (void *)GetProcAddress(wsock, vl_hooks[i].name) : NULL;
    }
#define VL_ENTRY_ADDRESS(module, ordinal, kind, ret, name, sig, params, args) entry_point[VL_INDEX_##name] = (void *)vl_entry_##name;
    VL_HOOKS(VL_ENTRY_ADDRESS)
#undef VL_ENTRY_ADDRESS
    entry_point[VL_INDEX_gethostbyname] = (void *)vl_resolve_gethostbyname;
    entry_point[VL_INDEX_getaddrinfo] = (void *)vl_resolve_getaddrinfo;

#define VL_LOAD(field) vl_original.field = (void *)GetProcAddress(ws2, #field);
    VL_LOAD(WSAStartup) VL_LOAD(socket) VL_LOAD(bind) VL_LOAD(getsockname) VL_LOAD(ioctlsocket) VL_LOAD(closesocket)
    VL_LOAD(shutdown) VL_LOAD(select) VL_LOAD(setsockopt) VL_LOAD(WSASendTo)
    VL_LOAD(WSARecvFrom) VL_LOAD(WSAEventSelect) VL_LOAD(WSAGetOverlappedResult) VL_LOAD(WSACreateEvent) VL_LOAD(WSACloseEvent)
    VL_LOAD(WSASetEvent) VL_LOAD(WSAResetEvent) VL_LOAD(WSAWaitForMultipleEvents)
    VL_LOAD(WSAGetLastError) VL_LOAD(WSASetLastError)
#undef VL_LOAD
}

/* Our entry point for an address a module imported, or NULL when it is not hooked. */
static void *entry_for(void *resolved) {
    if (!resolved) return NULL;
    for (uint32_t i = 0; i < vl_hook_count; i++)
        if (resolved == original_address[i] || resolved == wsock32_address[i]) return entry_point[i];
    return NULL;
}

static FARPROC real_GetProcAddress;

/* Late binding (GetProcAddress(ws2_32, "sendto") or by ordinal) gets our entry points too. */
static FARPROC WINAPI vl_GetProcAddress(HMODULE module, LPCSTR name) {
    FARPROC resolved = ((FARPROC (WINAPI *)(HMODULE, LPCSTR))real_GetProcAddress)(module, name);
    void *entry = entry_for((void *)resolved);
    return entry ? (FARPROC)entry : resolved;
}

static int patch_slot(void **slot, void *replacement) {
    DWORD old;
    if (!VirtualProtect(slot, sizeof *slot, PAGE_READWRITE, &old)) return 0;
    *slot = replacement;
    VirtualProtect(slot, sizeof *slot, old, &old);
    return 1;
}

/* Rewrites every import of `module` that resolved to a hooked function (or to
 * GetProcAddress); returns how many slots were patched. */
static int patch_imports(HMODULE module) {
    BYTE *base = (BYTE *)module;
    IMAGE_DOS_HEADER *dos = (IMAGE_DOS_HEADER *)base;
    if (dos->e_magic != IMAGE_DOS_SIGNATURE) return 0;
    IMAGE_NT_HEADERS *nt = (IMAGE_NT_HEADERS *)(base + dos->e_lfanew);
    IMAGE_DATA_DIRECTORY imports = nt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_IMPORT];
    if (!imports.VirtualAddress) return 0;
    int patched = 0;
    for (IMAGE_IMPORT_DESCRIPTOR *d = (IMAGE_IMPORT_DESCRIPTOR *)(base + imports.VirtualAddress); d->Name; d++) {
        for (void **slot = (void **)(base + d->FirstThunk); *slot; slot++) {
            void *replacement = *slot == (void *)real_GetProcAddress ? (void *)vl_GetProcAddress : entry_for(*slot);
            if (replacement && patch_slot(slot, replacement)) patched++;
        }
    }
    return patched;
}

static void log_installation(int patched) {
    char path[MAX_PATH];
    DWORD n = GetEnvironmentVariableA("VIRTUALLAN_LOG", path, sizeof path);
    if (n == 0 || n >= sizeof path) return;
    char line[160];
    int length = snprintf(line, sizeof line, "pid %lu: hooks installed: %d import slots of the main module patched (%u hooks)",
                          GetCurrentProcessId(), patched, (unsigned)vl_hook_count);
    vl_default_platform()->log_line(path, line, (uint32_t)length);
}

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved) {
    if (reason == DLL_PROCESS_ATTACH) {
        DisableThreadLibraryCalls(instance);
        vl_win32_platform_init();
        HMODULE kernel32 = GetModuleHandleA("kernel32.dll");
        real_GetProcAddress = GetProcAddress(kernel32, "GetProcAddress");
        load_originals();
        log_installation(patch_imports(GetModuleHandleA(NULL)));
    } else if (reason == DLL_PROCESS_DETACH) {
        /* reserved != NULL: the process is ending; its other threads are gone already. */
        vl_process_detach(reserved != NULL);
    }
    return TRUE;
}

/* For an injector or proxy that wants to ask whether the hooks are in. */
__declspec(dllexport) uint32_t WINAPI VirtualLANHookCount(void) { return vl_hook_count; }
#endif
