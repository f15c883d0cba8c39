/* The pointer sweep (issue 26, item 3): every function of the DLL's hook table, read from
 * Sources/CWineBridge/include/hook_table.h itself (a new hook is swept without a change
 * here), and the extension functions WSAIoctl hands out (ConnectEx, AcceptEx,
 * GetAcceptExSockaddrs, WSARecvMsg; listed below), is called once per pointer parameter
 * and kind of bad pointer, the other
 * arguments valid: NULL, a small integer (1), memory without access, and read-only memory
 * (for every pointer: a function that writes through an input pointer is wrong too). The
 * socket is a fresh non-blocking UDP socket on 127.0.0.1 (a virtual one with the DLL), the
 * integers 16 (a length a sockaddr fits, a count, 16 ms). One check per call:
 * ptr.<function>.<parameter>.<kind> = the result and the last error, or "fault" when the
 * call raised an access violation (caught here, so one fault does not end the program).
 * With the DLL no call may fault; conformance_test.py compares the rest with plain Wine. */
#include <winsock2.h>
#include <mswsock.h>
#include <windows.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include "conformance.h"
#include "hook_table.h"

/* Where a swept function's sockets come from: the sweep's UDP socket, or (the extension
 * functions WSAIoctl hands out) a bound TCP socket whose address arguments are a
 * listener's, or a listener and a fresh acceptor. */
enum sockets { ON_UDP, ON_TCP_BOUND, ON_LISTENER };
typedef struct { const char *module, *name, *signature, *parameters; enum sockets sockets; GUID id; } hooked_function;

#define VL_SWEEP_ENTRY(module, ordinal, kind, ret, name, sig, params, args) { #module, #name, sig, #params, ON_UDP, {0} },
static const hooked_function functions[] = { VL_HOOKS(VL_SWEEP_ENTRY) };
#undef VL_SWEEP_ENTRY

/* The extension functions, by their WSAIoctl GUIDs; parameters as hook_table.h declares
 * their vl_hook_ detours. An OVERLAPPED is given (a call without one stops before it looks
 * at anything else). ConnectEx and AcceptEx return a BOOL: 'u', so the error is shown
 * with every result. */
static const hooked_function extensions[] = {
    {"WSAIOCTL", "WSARecvMsg", "i:spppp", "(VL_SOCKET s, VL_WSAMSG *message, uint32_t *received, VL_OVERLAPPED *given, void *routine)",
     ON_UDP, WSAID_WSARECVMSG},
    {"WSAIOCTL", "ConnectEx", "u:saipupp", "(VL_SOCKET s, const VL_SOCKADDR_IN *name, int32_t length, const void *data, "
     "uint32_t dataLength, uint32_t *sent, VL_OVERLAPPED *given)", ON_TCP_BOUND, WSAID_CONNECTEX},
    {"WSAIOCTL", "AcceptEx", "u:sspuuupp", "(VL_SOCKET listener, VL_SOCKET acceptor, void *output, uint32_t receiveLength, "
     "uint32_t localLength, uint32_t remoteLength, uint32_t *received, VL_OVERLAPPED *given)", ON_LISTENER, WSAID_ACCEPTEX},
    {"WSAIOCTL", "GetAcceptExSockaddrs", "v:puuupppp", "(void *buffer, uint32_t receiveLength, uint32_t localLength, "
     "uint32_t remoteLength, VL_SOCKADDR_IN **local, int32_t *localSize, VL_SOCKADDR_IN **remote, int32_t *remoteSize)",
     ON_LISTENER, WSAID_GETACCEPTEXSOCKADDRS},
};

/* freeaddrinfo's pointer must be one getaddrinfo made: anything else is undefined on Windows
 * too (the heap's own check), so it is not swept. */
static int skipped(const char *name) { return strcmp(name, "freeaddrinfo") == 0; }

/* Parameters a valid call passes as NULL (callbacks, optional inputs, the OVERLAPPED of a
 * synchronous call); every other pointer gets a buffer of its own. */
static int null_by_default(const char *parameter) {
    static const char *names[] = {"routine", "condition", "info", "callerData", "calleeData", "sqos", "gqos",
                                  "overlapped", "reserved", "hints", "window", "port", "event", "sourceProcess",
                                  "targetProcess", "timeout", "exceptfds"};
    for (unsigned i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(parameter, names[i]) == 0) return 1;
    return 0;
}

/* The name of parameter `index` (0-based) in "(type a, type *b, ...)". */
static void parameter_name(const char *parameters, int index, char *out, size_t capacity) {
    const char *p = parameters + 1;
    for (int i = 0; i < index && p; i++) { p = strchr(p, ','); if (p) p++; }
    out[0] = 0;
    if (!p) return;
    const char *end = p;
    while (*end && *end != ',' && *end != ')') end++;
    const char *start = end;
    while (start > p && (start[-1] == '_' || (start[-1] >= '0' && start[-1] <= '9') ||
                         ((start[-1] | 0x20) >= 'a' && (start[-1] | 0x20) <= 'z'))) start--;
    size_t n = (size_t)(end - start) < capacity - 1 ? (size_t)(end - start) : capacity - 1;
    memcpy(out, start, n);
    out[n] = 0;
}

static jmp_buf recovery;
static volatile LONG armed;

static LONG CALLBACK on_fault(EXCEPTION_POINTERS *info) {
    if (armed && info->ExceptionRecord->ExceptionCode == EXCEPTION_ACCESS_VIOLATION) {
        armed = 0;
        longjmp(recovery, 1);
    }
    return EXCEPTION_CONTINUE_SEARCH;
}

typedef uintptr_t (WINAPI *call0)(void);
typedef uintptr_t (WINAPI *call1)(uintptr_t);
typedef uintptr_t (WINAPI *call2)(uintptr_t, uintptr_t);
typedef uintptr_t (WINAPI *call3)(uintptr_t, uintptr_t, uintptr_t);
typedef uintptr_t (WINAPI *call4)(uintptr_t, uintptr_t, uintptr_t, uintptr_t);
typedef uintptr_t (WINAPI *call5)(uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t);
typedef uintptr_t (WINAPI *call6)(uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t);
typedef uintptr_t (WINAPI *call7)(uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t);
typedef uintptr_t (WINAPI *call8)(uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t);
typedef uintptr_t (WINAPI *call9)(uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t);

static uintptr_t invoke(FARPROC f, int count, const uintptr_t *a) {
    switch (count) {
    case 0: return ((call0)f)();
    case 1: return ((call1)f)(a[0]);
    case 2: return ((call2)f)(a[0], a[1]);
    case 3: return ((call3)f)(a[0], a[1], a[2]);
    case 4: return ((call4)f)(a[0], a[1], a[2], a[3]);
    case 5: return ((call5)f)(a[0], a[1], a[2], a[3], a[4]);
    case 6: return ((call6)f)(a[0], a[1], a[2], a[3], a[4], a[5]);
    case 7: return ((call7)f)(a[0], a[1], a[2], a[3], a[4], a[5], a[6]);
    case 8: return ((call8)f)(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
    default: return ((call9)f)(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8]);
    }
}

/* An export, or an extension function (WSAIoctl's pointer, asked on a socket of its kind). */
static FARPROC resolve(const hooked_function *f) {
    const char *module = f->module, *name = f->name;
    if (strcmp(module, "WSAIOCTL") == 0) {
        SOCKET s = f->sockets == ON_UDP ? udp() : tcp();
        FARPROC pointer = NULL;
        DWORD returned = 0;
        GUID id = f->id;
        WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof id, &pointer, sizeof pointer, &returned, NULL, NULL);
        closesocket(s);
        return pointer;
    }
    const char *dll = strcmp(module, "WS2_32") == 0 ? "ws2_32.dll" : strcmp(module, "MSWSOCK") == 0 ? "mswsock.dll"
                    : strcmp(module, "IPHLPAPI") == 0 ? "iphlpapi.dll" : "kernel32.dll";
    HMODULE handle = LoadLibraryA(dll);
    return handle ? GetProcAddress(handle, name) : NULL;
}

/* One call with argument `bad_index` replaced by `bad`: its outcome. */
static void sweep_one(const hooked_function *f, FARPROC entry, int bad_index, const char *kind, uintptr_t bad) {
    const char *letters = strchr(f->signature, ':') + 1;
    int count = (int)strlen(letters);
    uintptr_t a[9] = {0};
    struct sockaddr_in at;
    SOCKET s, second = INVALID_SOCKET, listener = INVALID_SOCKET;
    if (f->sockets == ON_UDP) {
        s = bound("127.0.0.1", 0);
        at = self(s);
    } else if (f->sockets == ON_TCP_BOUND) {
        listener = listening(&at);
        s = tcp();
        struct sockaddr_in any = address("127.0.0.1", 0);
        bind(s, (struct sockaddr *)&any, sizeof any);
    } else {
        s = listening(&at);
        second = tcp();
    }
    nonblocking(s, 1);
    int sockets_given = 0;
    for (int i = 0; i < count && i < 9; i++) {
        char name[64];
        parameter_name(f->parameters, i, name, sizeof name);
        switch (letters[i]) {
        case 's': a[i] = (uintptr_t)(sockets_given++ == 0 ? s : second); break;
        case 'p': case 'a':
            /* A zeroed page of its own, never freed: an operation that completes later
             * writes into memory that is still there. */
            a[i] = null_by_default(name) ? 0 : (uintptr_t)VirtualAlloc(NULL, 4096, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
            if (letters[i] == 'a' && a[i]) *(struct sockaddr_in *)a[i] = at;
            break;
        /* Flags 0 (16 is no flag a send takes: the call would stop at the flags before
         * it looked at a pointer); every other number 16, a length room for an address. */
        default: a[i] = strcmp(name, "flags") == 0 ? 0 : 16; break;
        }
    }
    a[bad_index] = bad;
    char id[160], parameter[64];
    parameter_name(f->parameters, bad_index, parameter, sizeof parameter);
    snprintf(id, sizeof id, "ptr.%s.%s.%s", f->name, parameter, kind);
    WSASetLastError(0);
    if (setjmp(recovery)) {
        check(id, "fault");
    } else {
        armed = 1;
        uintptr_t r = invoke(entry, count, a);
        armed = 0;
        int error = WSAGetLastError();
        char ret = f->signature[0];
        if (ret == 'p') check(id, "%s error=%d", r ? "pointer" : "null", r ? 0 : error);
        else if (ret == 'v') check(id, "void");
        else check(id, "%d error=%d", (int)r, (int)r == 0 && ret != 'u' ? 0 : error);
    }
    closesocket(s);
    if (second != INVALID_SOCKET) closesocket(second);
    if (listener != INVALID_SOCKET) closesocket(listener);
}

/* Every pointer parameter of `f`, with each kind of bad pointer. */
static void sweep_function(const hooked_function *f, FARPROC entry, const char *const *kinds, const uintptr_t *values, unsigned count) {
    const char *letters = strchr(f->signature, ':') + 1;
    for (int j = 0; letters[j]; j++) {
        if (letters[j] != 'p' && letters[j] != 'a') continue;
        for (unsigned k = 0; k < count; k++) sweep_one(f, entry, j, kinds[k], values[k]);
    }
}

void pointer_sweep(void) {
    AddVectoredExceptionHandler(1, on_fault);
    void *none = VirtualAlloc(NULL, 4096, MEM_COMMIT | MEM_RESERVE, PAGE_NOACCESS);
    void *read_only = VirtualAlloc(NULL, 4096, MEM_COMMIT | MEM_RESERVE, PAGE_READONLY);
    const char *const kinds[] = {"null", "small", "no-access", "read-only"};
    const uintptr_t values[] = {0, 1, (uintptr_t)none, (uintptr_t)read_only};
    /* The extension functions first: plain Wine's run ends in the table's ReadFile (its
     * ReadFile with a NULL count blocks until the watchdog), and they need its answers. */
    for (unsigned i = 0; i < sizeof extensions / sizeof *extensions; i++) {
        FARPROC entry = resolve(&extensions[i]);
        check(extensions[i].name, "pointer=%d", entry != NULL);
        if (entry) sweep_function(&extensions[i], entry, kinds, values, 4);
    }
    for (unsigned i = 0; i < sizeof functions / sizeof *functions; i++) {
        FARPROC entry = resolve(&functions[i]);
        if (entry && !skipped(functions[i].name)) sweep_function(&functions[i], entry, kinds, values, 4);
    }
}
