/* The registry's protection under Wine: the Windows API cannot see what makes a Unix file
 * private (its owner, its mode bits, whether the path is a symbolic link): Wine creates
 * files in the wineserver with the server's umask (0644 under a usual 022) and follows
 * links. So when the DLL runs
 * under Wine on Linux, it asks the Linux kernel itself: a Wine process on Linux is a Linux
 * process, and `int $0x80` is the i386 system-call gate, usable from any code in it. The
 * checks are the Linux backend's (linux_platform.c registry_map): created 0600, never
 * through a symbolic link (O_NOFOLLOW), a regular file, owned by us, not readable or
 * writable by others. Elsewhere (Windows, Wine on another OS) nothing is checked here. */
#if defined(_WIN32)
#include <windows.h>
#include <stdint.h>
#include <string.h>
#include "platform.h"
#include "win32_unix.h"

/* i386 Linux system-call numbers and flags (arch/x86/entry/syscalls/syscall_32.tbl). */
enum { SYS_write = 4, SYS_close = 6, SYS_mkdir = 39, SYS_geteuid32 = 201, SYS_openat = 295, SYS_statx = 383 };
enum { L_O_RDWR = 02, L_O_WRONLY = 01, L_O_CREAT = 0100, L_O_APPEND = 02000, L_O_NOFOLLOW = 0400000, L_O_CLOEXEC = 02000000 };
enum { L_AT_FDCWD = -100, L_AT_EMPTY_PATH = 0x1000, L_STATX_BASIC_STATS = 0x7ff };
enum { L_ELOOP = 40, L_EISDIR = 21, L_EEXIST = 17, L_S_IFMT = 0170000, L_S_IFREG = 0100000 };

static long linux_syscall(long number, long a, long b, long c, long d, long e) {
    long result;
    __asm__ volatile("int $0x80" : "=a"(result) : "a"(number), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e) : "memory");
    return result; /* -errno on failure */
}

/* struct statx has one layout on every architecture (fixed-size fields): read by offset. */
typedef struct { uint8_t bytes[256]; } linux_statx;
static uint32_t statx_u32(const linux_statx *s, int at) { uint32_t v; memcpy(&v, s->bytes + at, 4); return v; }
static uint16_t statx_mode(const linux_statx *s) { uint16_t v; memcpy(&v, s->bytes + 28, 2); return v; }
static uint64_t statx_inode(const linux_statx *s) { uint64_t v; memcpy(&v, s->bytes + 32, 8); return v; }

/* 1 under Wine on Linux (ntdll says so: the kernel can be asked), else 0. */
static int wine_on_linux(void) {
    static int known = -1;
    if (known < 0) {
        typedef void (__cdecl *host_version_fn)(const char **sysname, const char **release);
        HMODULE ntdll = GetModuleHandleA("ntdll.dll");
        host_version_fn host_version = ntdll ? (host_version_fn)(void *)GetProcAddress(ntdll, "wine_get_host_version") : NULL;
        const char *sysname = NULL, *release = NULL;
        if (host_version) host_version(&sysname, &release);
        known = sysname && strcmp(sysname, "Linux") == 0;
    }
    return known;
}

/* The Unix path of `path` ("/tmp/x" as given, or a Windows path Wine maps to one). */
static int unix_path(const char *path, char *out, size_t capacity) {
    if (path[0] == '/') {
        if (strlen(path) >= capacity) return 0;
        strcpy(out, path);
        return 1;
    }
    typedef char *(__cdecl *unix_name_fn)(const WCHAR *dos);
    HMODULE kernel32 = GetModuleHandleA("kernel32.dll");
    unix_name_fn unix_name = kernel32 ? (unix_name_fn)(void *)GetProcAddress(kernel32, "wine_get_unix_file_name") : NULL;
    WCHAR wide[MAX_PATH];
    if (!unix_name || !MultiByteToWideChar(CP_ACP, 0, path, -1, wide, MAX_PATH)) return 0;
    char *name = unix_name(wide);
    int fits = name && strlen(name) < capacity;
    if (fits) strcpy(out, name);
    if (name) HeapFree(GetProcessHeap(), 0, name);
    return fits;
}

int32_t vl_unix_private_file(const char *path, long *log, uint64_t *inode, int32_t *os_error) {
    *os_error = 0;
    if (!wine_on_linux()) return VL_UNIX_NOT_CHECKED;
    char file[4096];
    if (!unix_path(path, file, sizeof file)) return VL_MAP_UNCHECKABLE;
    char folder[4096];
    strcpy(folder, file);
    char *slash = strrchr(folder, '/');
    if (slash && slash != folder) { /* a private folder, as the Linux backend makes it */
        *slash = 0;
        long made = linux_syscall(SYS_mkdir, (long)folder, 0700, 0, 0, 0);
        if (made < 0 && made != -L_EEXIST) { *os_error = (int32_t)-made; return VL_MAP_OPEN_FAILED; }
    }
    long fd = linux_syscall(SYS_openat, L_AT_FDCWD, (long)file,
                            (log ? L_O_WRONLY | L_O_APPEND : L_O_RDWR) | L_O_CREAT | L_O_NOFOLLOW | L_O_CLOEXEC, 0600, 0);
    if (fd < 0) {
        *os_error = (int32_t)-fd;
        return fd == -L_ELOOP || fd == -L_EISDIR ? VL_MAP_NOT_A_FILE : VL_MAP_OPEN_FAILED;
    }
    linux_statx st;
    memset(&st, 0, sizeof st);
    long got = linux_syscall(SYS_statx, fd, (long)"", L_AT_EMPTY_PATH, L_STATX_BASIC_STATS, (long)&st);
    int32_t verdict = VL_UNIX_CHECKED;
    if (got < 0) { *os_error = (int32_t)-got; verdict = VL_MAP_UNCHECKABLE; }
    else if ((statx_mode(&st) & L_S_IFMT) != L_S_IFREG) verdict = VL_MAP_NOT_A_FILE;
    else if (statx_u32(&st, 20) != (uint32_t)linux_syscall(SYS_geteuid32, 0, 0, 0, 0, 0)) verdict = VL_MAP_WRONG_OWNER;
    else if (statx_mode(&st) & 077) verdict = VL_MAP_MODE_TOO_OPEN;
    /* The log is written through the descriptor just checked: no other file can take its place. */
    if (verdict == VL_UNIX_CHECKED && log) *log = fd;
    else linux_syscall(SYS_close, fd, 0, 0, 0, 0);
    *inode = statx_inode(&st);
    return verdict;
}

void vl_unix_append(long fd, const void *bytes, uint32_t length) {
    linux_syscall(SYS_write, fd, (long)bytes, (long)length, 0, 0);
}
#endif
