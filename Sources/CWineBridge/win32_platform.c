/* The Win32 backend of the Platform table, inside the hook DLL, assembled here: events,
 * completion routines and ports (the real ones), Winsock's start and last error, locks,
 * timers, time, processes, the registry file and the log; then the entries of
 * win32_sockets.c (backing UDP sockets, readiness, select) and win32_streams.c (backing
 * TCP streams). Every socket call goes to the ORIGINAL ws2_32 functions (captured before
 * the exports are patched), so backing sockets are real kernel handles: the game's select,
 * WaitFor* and WSAEventSelect keep working on them. Nothing polls. */
#if defined(_WIN32)
#include <winsock2.h>
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "platform.h"
#include "win32_originals.h"
#include "win32_unix.h"
#include "hook_table.h"
#include "swift_exports.h"
#include <mswsock.h>
#include "win32_parts.h"

static void report_error(const char *line, uint32_t length);

/* ---- events: the real ones ---- */

static VL_WSAEVENT event_create(void) { return vl_original.WSACreateEvent(); }
static int32_t event_close(VL_WSAEVENT e) { return vl_original.WSACloseEvent(e) ? 1 : 0; }
static int32_t event_set(VL_WSAEVENT e) { return vl_original.WSASetEvent(e) ? 1 : 0; }
static int32_t event_reset(VL_WSAEVENT e) { return vl_original.WSAResetEvent(e) ? 1 : 0; }
static uint32_t event_wait(uint32_t count, const VL_WSAEVENT *events, int32_t wait_all, uint32_t timeout_ms, int32_t alertable) {
    return vl_original.WSAWaitForMultipleEvents(count, (const WSAEVENT *)events, wait_all, timeout_ms, alertable);
}

/* ---- completion routines: real APCs to the posting thread ---- */

typedef struct completion {
    LPWSAOVERLAPPED_COMPLETION_ROUTINE routine;
    DWORD error, bytes, flags;
    LPWSAOVERLAPPED overlapped;
} completion;

static void CALLBACK run_completion(ULONG_PTR argument) {
    completion *c = (completion *)argument;
    c->routine(c->error, c->bytes, c->overlapped, c->flags);
    free(c);
}

static uintptr_t current_thread(void) { return GetCurrentThreadId(); }

static void queue_completion(uintptr_t thread, void *routine, uint32_t error, uint32_t bytes,
                             VL_OVERLAPPED *overlapped, uint32_t flags) {
    completion *c = malloc(sizeof *c);
    HANDLE h = OpenThread(THREAD_SET_CONTEXT, FALSE, (DWORD)thread);
    if (!c || !h) { free(c); if (h) CloseHandle(h); return; }
    c->routine = (LPWSAOVERLAPPED_COMPLETION_ROUTINE)routine;
    c->error = error;
    c->bytes = bytes;
    c->flags = flags;
    c->overlapped = (LPWSAOVERLAPPED)overlapped;
    if (!QueueUserAPC(run_completion, h, (ULONG_PTR)c)) free(c);
    CloseHandle(h);
}

/* ---- completion ports: the real ones; packets posted with ntdll's NtSetIoCompletion,
 * which (unlike PostQueuedCompletionStatus) carries the operation's NTSTATUS, so the
 * game's GetQueuedCompletionStatus fails with the error as it does for the OS's own. ---- */

typedef LONG (NTAPI *query_io_completion_fn)(HANDLE, int, void *, ULONG, ULONG *);
static void *port_open(void *port, uint32_t threads, uint32_t *error) {
    if (!port) {
        HANDLE created = vl_original.CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, threads);
        if (!created) *error = GetLastError();
        return created;
    }
    static query_io_completion_fn query;
    if (!query) query = (query_io_completion_fn)(void *)GetProcAddress(GetModuleHandleA("ntdll.dll"), "NtQueryIoCompletion");
    LONG depth = 0;
    if (query && query(port, 0, &depth, sizeof depth, NULL) != 0) { *error = ERROR_INVALID_HANDLE; return NULL; }
    return port;
}

typedef LONG (NTAPI *set_io_completion_fn)(HANDLE, ULONG_PTR, ULONG_PTR, LONG, ULONG_PTR);
static void post_completion(void *port, uintptr_t key, VL_OVERLAPPED *overlapped, uint32_t status, uint32_t bytes) {
    static set_io_completion_fn set_io_completion;
    if (!set_io_completion)
        set_io_completion = (set_io_completion_fn)(void *)GetProcAddress(GetModuleHandleA("ntdll.dll"), "NtSetIoCompletion");
    if (set_io_completion) set_io_completion(port, key, (ULONG_PTR)overlapped, (LONG)status, bytes);
}

/* The game's WSAStartup/WSACleanup reach the real ws2_32 too (one each, so the counts
 * stay in step): what we hand on (TCP, IPv6) needs it started. */
static int32_t winsock_startup(uint16_t version, VL_WSADATA *data) { return vl_original.WSAStartup(version, (LPWSADATA)data); }
static int32_t winsock_cleanup(void) { return vl_original.WSACleanup() == 0 ? 0 : vl_win32_last_error(); }

static int32_t get_last_error(void) { return (int32_t)vl_original.WSAGetLastError(); }
static void set_last_error(int32_t e) { vl_original.WSASetLastError(e); }

/* ---- locks, timers, time, processes ---- */

static void *mutex_create(void) {
    CRITICAL_SECTION *c = malloc(sizeof *c);
    if (c) InitializeCriticalSection(c);
    return c;
}
static void mutex_lock(void *m) { EnterCriticalSection(m); }
static void mutex_unlock(void *m) { LeaveCriticalSection(m); }
static void mutex_destroy(void *m) { DeleteCriticalSection(m); free(m); }

typedef struct timer { HANDLE stop, thread; uint32_t interval_ms; vl_tick tick; void *context; } timer;

static DWORD WINAPI timer_thread(void *argument) {
    timer *t = argument;
    while (WaitForSingleObject(t->stop, t->interval_ms) == WAIT_TIMEOUT) t->tick(t->context);
    return 0;
}

static void *timer_start(uint32_t interval_ms, vl_tick tick, void *context) {
    timer *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->stop = CreateEventA(NULL, TRUE, FALSE, NULL);
    t->interval_ms = interval_ms;
    t->tick = tick;
    t->context = context;
    t->thread = CreateThread(NULL, 0, timer_thread, t, 0, NULL);
    if (!t->thread) { CloseHandle(t->stop); free(t); return NULL; }
    return t;
}

static void timer_stop(void *handle) {
    timer *t = handle;
    if (!t) return;
    SetEvent(t->stop);
    /* At process detach the thread may already be gone (the loader ends threads first). */
    WaitForSingleObject(t->thread, 2000);
    CloseHandle(t->thread);
    CloseHandle(t->stop);
    free(t);
}

static uint32_t now_ms(void) {
    /* Wine's performance counter is CLOCK_MONOTONIC_RAW: the clock the Linux backend and
     * the status tool read, so heartbeats compare across both. */
    LARGE_INTEGER counter, frequency;
    QueryPerformanceCounter(&counter);
    QueryPerformanceFrequency(&frequency);
    return (uint32_t)((unsigned long long)counter.QuadPart / ((unsigned long long)frequency.QuadPart / 1000u));
}

static uint32_t process_id(void) { return GetCurrentProcessId(); }
static uint32_t process_id_of(void *process) { return GetProcessId(process); }

typedef ULONG (NTAPI *status_to_dos_fn)(LONG);
static uint32_t dos_error(uint32_t status) {
    static status_to_dos_fn to_dos;
    if (!to_dos) to_dos = (status_to_dos_fn)(void *)GetProcAddress(GetModuleHandleA("ntdll.dll"), "RtlNtStatusToDosError");
    return to_dos ? (uint32_t)to_dos((LONG)status) : 0;
}

/* Every region the range touches is committed with an access that allows it (no guard
 * page: touching one raises an exception too). Another thread may change the mapping
 * afterwards; Windows' own check has that window as well. */
static int32_t memory_usable(const void *address, uintptr_t length, int32_t writable) {
    const DWORD readable = PAGE_READONLY | PAGE_READWRITE | PAGE_WRITECOPY | PAGE_EXECUTE_READ
                         | PAGE_EXECUTE_READWRITE | PAGE_EXECUTE_WRITECOPY;
    const DWORD can_write = PAGE_READWRITE | PAGE_WRITECOPY | PAGE_EXECUTE_READWRITE | PAGE_EXECUTE_WRITECOPY;
    uintptr_t at = (uintptr_t)address, end = at + length;
    if (length == 0) return 1;
    if (end < at) return 0;
    while (at < end) {
        MEMORY_BASIC_INFORMATION region;
        if (VirtualQuery((const void *)at, &region, sizeof region) == 0) return 0;
        if (region.State != MEM_COMMIT || (region.Protect & (PAGE_GUARD | PAGE_NOACCESS))) return 0;
        if (!(region.Protect & (writable ? can_write : readable))) return 0;
        at = (uintptr_t)region.BaseAddress + region.RegionSize;
        if (at == 0) break;  /* the last region of the address space */
    }
    return 1;
}
/* A Windows pid is only meaningful to its own wineserver: let the heartbeat decide. */
static int32_t is_process_alive(uint32_t pid, uint32_t kind) { (void)pid; (void)kind; return -1; }

/* A process of this wineserver: ended when it cannot be opened as no such process, or when
 * its handle is signalled. */
static int32_t is_sibling_alive(uint32_t pid) {
    HANDLE process = OpenProcess(SYNCHRONIZE, FALSE, pid);
    if (!process) return GetLastError() == ERROR_INVALID_PARAMETER ? 0 : -1;
    DWORD state = WaitForSingleObject(process, 0);
    CloseHandle(process);
    return state == WAIT_TIMEOUT ? 1 : state == WAIT_OBJECT_0 ? 0 : -1;
}

static char env_buffer[4096];
static const char *get_env(const char *name) {
    DWORD n = GetEnvironmentVariableA(name, env_buffer, sizeof env_buffer);
    return n > 0 && n < sizeof env_buffer ? env_buffer : NULL;
}

/* "/tmp/x" (a Unix path, as the Linux tools print it) -> "Z:\tmp\x" (Wine's root drive). */
static void windows_path(const char *path, char *out, size_t capacity) {
    size_t o = 0;
    if (path[0] == '/' && capacity > 3) { out[o++] = 'Z'; out[o++] = ':'; }
    for (size_t i = 0; path[i] && o + 1 < capacity; i++) out[o++] = path[i] == '/' ? '\\' : path[i];
    out[o] = 0;
}

static uint32_t default_registry_path(char *buffer, uint32_t capacity) {
    char folder[MAX_PATH];
    DWORD n = GetEnvironmentVariableA("XDG_RUNTIME_DIR", folder, sizeof folder);
    int written;
    if (n > 0 && n < sizeof folder && folder[0] == '/') written = snprintf(buffer, capacity, "%s/virtuallan/registry", folder);
    else {
        n = GetTempPathA(sizeof folder, folder);
        written = snprintf(buffer, capacity, "%svirtuallan\\registry", n ? folder : "C:\\");
    }
    return written < 0 ? 0 : (uint32_t)written;
}

static int32_t map_failure(vl_mapping *m, int32_t error, HANDLE file) {
    memset(m, 0, sizeof *m);
    m->error = error;
    m->os_error = (int32_t)GetLastError();
    m->handle = -1;
    if (file != INVALID_HANDLE_VALUE) CloseHandle(file);
    return error;
}

static int32_t registry_map(const char *unix_or_windows_path, uint32_t size_if_new, vl_mapping *m) {
    char path[MAX_PATH];
    windows_path(unix_or_windows_path, path, sizeof path);
    char folder[MAX_PATH];
    memcpy(folder, path, sizeof folder);
    char *slash = strrchr(folder, '\\');
    /* Under Wine on Linux: created private, checked as the Linux backend checks it. */
    uint64_t inode = 0;
    int32_t unix_error = 0;
    int32_t unix = vl_unix_private_file(unix_or_windows_path, NULL, &inode, &unix_error);
    if (unix > 0) {
        map_failure(m, unix, INVALID_HANDLE_VALUE);
        m->os_error = unix_error;
        return unix;
    }
    if (slash) { *slash = 0; CreateDirectoryA(folder, NULL); }
    HANDLE file = CreateFileA(path, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
                              OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    if (file == INVALID_HANDLE_VALUE)
        return map_failure(m, GetLastError() == ERROR_ACCESS_DENIED ? VL_MAP_NOT_A_FILE : VL_MAP_OPEN_FAILED, file);
    if (unix == VL_UNIX_CHECKED) {
        /* The file opened is the one checked (Wine's file index is the inode): a path
         * swapped for a link or another file in between is refused. */
        BY_HANDLE_FILE_INFORMATION info;
        if (!GetFileInformationByHandle(file, &info)
            || (((uint64_t)info.nFileIndexHigh << 32) | info.nFileIndexLow) != inode)
            return map_failure(m, VL_MAP_SWAPPED, file);
    }
    /* LockFileEx: Wine implements it with fcntl locks, the ones the Linux backend takes. */
    OVERLAPPED whole;
    memset(&whole, 0, sizeof whole);
    if (!LockFileEx(file, LOCKFILE_EXCLUSIVE_LOCK, 0, MAXDWORD, MAXDWORD, &whole)) return map_failure(m, VL_MAP_LOCK_FAILED, file);
    DWORD size = GetFileSize(file, NULL);
    if (size == INVALID_FILE_SIZE) return map_failure(m, VL_MAP_OPEN_FAILED, file);
    if (size == 0) {
        if (SetFilePointer(file, (LONG)size_if_new, NULL, FILE_BEGIN) == INVALID_SET_FILE_POINTER || !SetEndOfFile(file))
            return map_failure(m, VL_MAP_RESIZE_FAILED, file);
        size = size_if_new;
    }
    if (size > (64u << 20)) return map_failure(m, VL_MAP_NOT_A_FILE, file);
    HANDLE mapping = CreateFileMappingA(file, NULL, PAGE_READWRITE, 0, 0, NULL);
    void *base = mapping ? MapViewOfFile(mapping, FILE_MAP_ALL_ACCESS, 0, 0, 0) : NULL;
    if (mapping) CloseHandle(mapping); /* the view keeps the mapping alive */
    if (!base) return map_failure(m, VL_MAP_MAP_FAILED, file);
    memset(m, 0, sizeof *m);
    m->base = base;
    m->size = size;
    m->handle = (intptr_t)file;
    return 0;
}

static void registry_unlock(vl_mapping *m) {
    OVERLAPPED whole;
    memset(&whole, 0, sizeof whole);
    UnlockFileEx((HANDLE)m->handle, 0, MAXDWORD, MAXDWORD, &whole);
}

static void registry_unmap(vl_mapping *m) {
    if (m->base) UnmapViewOfFile(m->base);
    if (m->handle != -1 && m->handle != 0) CloseHandle((HANDLE)m->handle);
    m->base = NULL;
    m->handle = -1;
}

static CRITICAL_SECTION log_lock;
static HANDLE log_file = INVALID_HANDLE_VALUE;
static long log_unix = -1;  /* under Wine on Linux: the log's own descriptor (O_APPEND) */

/* The copies of a run may share one log, and Wine's append is not one step: two processes
 * appending at once write at the same end, and one line overwrites the other (measured: 4
 * processes of 5,000 lines each kept 17,609 intact). Under Wine on Linux each line goes to
 * the log's own Linux descriptor, opened O_APPEND: one write(2), one whole append, and no
 * wineserver call. Elsewhere each append holds a lock of the file (Wine: an fcntl lock,
 * shared across prefixes; Windows appends whole anyway) on one byte far past any log's end,
 * which no reader of the lines meets. Either way the line and its end are one write. */
static void log_line(const char *path, const char *line, uint32_t length) {
    EnterCriticalSection(&log_lock);
    if (log_file == INVALID_HANDLE_VALUE && log_unix < 0) {
        char p[MAX_PATH];
        windows_path(path, p, sizeof p);
        uint64_t inode;
        int32_t unix_error;
        /* Under Wine on Linux the log is created 0600 too (Wine would use the umask). */
        static int refused;
        if (refused || vl_unix_private_file(path, &log_unix, &inode, &unix_error) > 0) {
            if (!refused) {
                refused = 1;
                static const char why[] = "VIRTUALLAN_LOG names a symbolic link, a folder or a file of another user, or one others may read: not logging to it";
                report_error(why, sizeof why - 1);
            }
            LeaveCriticalSection(&log_lock);
            return;
        }
        if (log_unix < 0)
            log_file = CreateFileA(p, FILE_APPEND_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    }
    char room[512];
    char *whole = length + 2 <= sizeof room ? room : malloc(length + 2);
    if (whole) {
        memcpy(whole, line, length);
        memcpy(whole + length, "\r\n", 2);
        if (log_unix >= 0) {
            vl_unix_append(log_unix, whole, length + 2);
        } else if (log_file != INVALID_HANDLE_VALUE) {
            OVERLAPPED at;
            memset(&at, 0, sizeof at);
            at.OffsetHigh = 0x100;  /* 1 TB */
            BOOL locked = LockFileEx(log_file, LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, &at);
            DWORD written;
            WriteFile(log_file, whole, length + 2, &written, NULL);
            if (locked) UnlockFileEx(log_file, 0, 1, 0, &at);
        }
        if (whole != room) free(whole);
    }
    LeaveCriticalSection(&log_lock);
}

static void report_error(const char *line, uint32_t length) {
    HANDLE err = GetStdHandle(STD_ERROR_HANDLE);
    DWORD written;
    if (err && err != INVALID_HANDLE_VALUE) {
        WriteFile(err, "virtuallan: ", 12, &written, NULL);
        WriteFile(err, line, length, &written, NULL);
        WriteFile(err, "\r\n", 2, &written, NULL);
    }
    char message[1024];
    snprintf(message, sizeof message, "virtuallan: %.*s\n", (int)length, line);
    OutputDebugStringA(message);
}

static CRITICAL_SECTION global_mutex;
static void global_lock(void) { EnterCriticalSection(&global_mutex); }
static void global_unlock(void) { LeaveCriticalSection(&global_mutex); }

static vl_platform win32_platform = {
    .event_create = event_create, .event_close = event_close, .event_set = event_set,
    .event_reset = event_reset, .event_wait = event_wait,
    .current_thread = current_thread, .queue_completion = queue_completion,
    .port_open = port_open, .post_completion = post_completion,
    .winsock_startup = winsock_startup, .winsock_cleanup = winsock_cleanup,
    .get_last_error = get_last_error, .set_last_error = set_last_error,
    .mutex_create = mutex_create, .mutex_lock = mutex_lock, .mutex_unlock = mutex_unlock, .mutex_destroy = mutex_destroy,
    .timer_start = timer_start, .timer_stop = timer_stop,
    .now_ms = now_ms, .process_id = process_id, .process_id_of = process_id_of, .owner_kind = 2, .is_process_alive = is_process_alive, .is_sibling_alive = is_sibling_alive,
    .memory_usable = memory_usable, .dos_error = dos_error,
    .get_env = get_env, .default_registry_path = default_registry_path,
    .registry_map = registry_map, .registry_unlock = registry_unlock, .registry_unmap = registry_unmap,
    .log_line = log_line, .report_error = report_error, .global_lock = global_lock, .global_unlock = global_unlock,
};

int32_t vl_win32_last_error(void) { return (int32_t)vl_original.WSAGetLastError(); }

/* Called first in DllMain, before any entry is used. */
void vl_win32_platform_init(void) {
    InitializeCriticalSection(&log_lock);
    InitializeCriticalSection(&global_mutex);
    vl_win32_fill_sockets(&win32_platform);
    vl_win32_fill_streams(&win32_platform);
    vl_win32_fill_processes(&win32_platform);
}

const vl_platform *vl_default_platform(void) { return &win32_platform; }
#endif
