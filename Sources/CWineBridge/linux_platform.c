/* The Linux backend of the Platform table, assembled here: what every Linux process of
 * ours uses (the registry file's mapping, the log, time, processes, locks and timers; the
 * CLI and the bridge run on these), then the entries of linux_sockets.c (BSD sockets on
 * 127.0.0.1) and of linux_win32_emulation.c (Win32's events, completion routines,
 * completion ports and overlapped sends, emulated for the tests). Nothing here polls:
 * idle threads sleep in the kernel. */
#if defined(__linux__)
#define _GNU_SOURCE
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include "platform.h"
#include "hook_table.h"
#include "linux_parts.h"

/* ---- errors ---- */

static _Thread_local int32_t last_error;
static int32_t get_last_error(void) { return last_error; }
/* No Winsock below us on Linux: WSAStartup answers as Windows' does (Wine's protocol.c,
 * test_startup): any version from 1.0 up is granted, clamped to 1.1 or 2.2, and 0.x is
 * refused; WSADATA is written either way, lpVendorInfo left as it was. */
static int32_t winsock_startup(uint16_t version, VL_WSADATA *data) {
    unsigned major = version & 0xFF, minor = version >> 8;
    if (!data) return major ? VL_WSAEFAULT : VL_WSAVERNOTSUPPORTED;
    data->wVersion = major == 1 ? (minor ? 0x0101 : 0x0001) : major == 2 && minor <= 2 ? version : 0x0202;
    data->wHighVersion = 0x0202;
    snprintf(data->szDescription, sizeof data->szDescription, "WinSock 2.0");
    snprintf(data->szSystemStatus, sizeof data->szSystemStatus, "Running");
    data->iMaxSockets = major == 1 ? 32767 : 0;  /* meaningful to 1.x programs only */
    data->iMaxUdpDg = major == 1 ? 65467 : 0;
    return major ? 0 : VL_WSAVERNOTSUPPORTED;
}
static int32_t winsock_cleanup(void) { return 0; }
void vl_linux_set_last_error(int32_t e) { last_error = e; }

int32_t vl_linux_wsa_error(int e) {
    switch (e) {
    case EAGAIN: return VL_WSAEWOULDBLOCK;
    case EINTR: return VL_WSAEINTR;
    case EBADF: return VL_WSAENOTSOCK;
    case EFAULT: return VL_WSAEFAULT;
    case EINVAL: return VL_WSAEINVAL;
    case EMSGSIZE: return VL_WSAEMSGSIZE;
    case ENOBUFS: case ENOMEM: return VL_WSAENOBUFS;
    case EMFILE: case ENFILE: return VL_WSAEMFILE;
    case ENETUNREACH: return VL_WSAENETUNREACH;
    case ECONNREFUSED: return VL_WSAECONNRESET; /* a datagram's ICMP; stream_connect says WSAECONNREFUSED */
    case EINPROGRESS: return VL_WSAEWOULDBLOCK;  /* a non-blocking connect under way, as Winsock says it */
    case EALREADY: return VL_WSAEALREADY;
    case EISCONN: return VL_WSAEISCONN;
    case ENOTCONN: return VL_WSAENOTCONN;
    case ECONNRESET: return VL_WSAECONNRESET;
    case ECONNABORTED: return VL_WSAECONNABORTED;
    case EPIPE: return VL_WSAESHUTDOWN;
    case ETIMEDOUT: return VL_WSAETIMEDOUT;
    case EHOSTUNREACH: return VL_WSAEHOSTUNREACH;
    case EOPNOTSUPP: return VL_WSAEOPNOTSUPP;
    case EADDRINUSE: return VL_WSAEADDRINUSE;
    case EACCES: case EPERM: return VL_WSAEACCES;
    default: return VL_WSAENETDOWN;
    }
}


/* ---- locks, timers, time, processes ---- */

static void *mutex_create(void) {
    pthread_mutex_t *m = malloc(sizeof *m);
    if (m) pthread_mutex_init(m, NULL);
    return m;
}
static void mutex_lock(void *m) { pthread_mutex_lock(m); }
static void mutex_unlock(void *m) { pthread_mutex_unlock(m); }
static void mutex_destroy(void *m) { pthread_mutex_destroy(m); free(m); }

typedef struct timer {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stopped;
    uint32_t interval_ms;
    vl_tick tick;
    void *context;
    pthread_t thread;
} timer;

static void *timer_thread(void *argument) {
    timer *t = argument;
    pthread_mutex_lock(&t->lock);
    while (!t->stopped) {
        struct timespec at;
        clock_gettime(CLOCK_MONOTONIC, &at);
        at.tv_sec += t->interval_ms / 1000;
        at.tv_nsec += (long)(t->interval_ms % 1000) * 1000000L;
        if (at.tv_nsec >= 1000000000L) { at.tv_sec++; at.tv_nsec -= 1000000000L; }
        while (!t->stopped && pthread_cond_timedwait(&t->wake, &t->lock, &at) != ETIMEDOUT) {}
        if (t->stopped) break;
        pthread_mutex_unlock(&t->lock);
        t->tick(t->context);
        pthread_mutex_lock(&t->lock);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

static void *timer_start(uint32_t interval_ms, vl_tick tick, void *context) {
    timer *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    pthread_mutex_init(&t->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&t->wake, &attr);
    pthread_condattr_destroy(&attr);
    t->interval_ms = interval_ms;
    t->tick = tick;
    t->context = context;
    if (pthread_create(&t->thread, NULL, timer_thread, t) != 0) { free(t); return NULL; }
    return t;
}

static void timer_stop(void *handle) {
    timer *t = handle;
    if (!t) return;
    pthread_mutex_lock(&t->lock);
    t->stopped = 1;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
    free(t);
}

uint32_t vl_linux_now_ms(void) {
    struct timespec now;
    /* CLOCK_MONOTONIC_RAW: the clock Wine's QueryPerformanceCounter reads, so heartbeats of
     * Linux and Windows instances are comparable. */
    clock_gettime(CLOCK_MONOTONIC_RAW, &now);
    return (uint32_t)((uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u);
}

static uint32_t process_id(void) { return (uint32_t)getpid(); }
/* The tests' stand-in: GetCurrentProcess()'s pseudo handle (-1) is this process; any other
 * value is the pid of a process the tests stand in inside this one. */
static uint32_t process_id_of(void *process) {
    return process == (void *)(uintptr_t)-1 ? (uint32_t)getpid() : (uint32_t)(uintptr_t)process;
}

/* The statuses the tests meet, as Windows' RtlNtStatusToDosError maps them. */
static uint32_t dos_error(uint32_t status) {
    switch (status) {
    case 0x80000005u: return 234;   /* STATUS_BUFFER_OVERFLOW: ERROR_MORE_DATA */
    case 0xC0000120u: return 995;   /* STATUS_CANCELLED: ERROR_OPERATION_ABORTED */
    case 0xC0000236u: return 1225;  /* STATUS_CONNECTION_REFUSED: ERROR_CONNECTION_REFUSED */
    case 0xC000020Du: return 64;    /* STATUS_CONNECTION_RESET: ERROR_NETNAME_DELETED */
    case 0xC00000B5u: return 121;   /* STATUS_IO_TIMEOUT: ERROR_SEM_TIMEOUT */
    default: return 0;
    }
}

/* The kernel copies one byte of each page through process_vm_readv (a bad page: EFAULT,
 * no signal); writable pages are found by writing that same byte back. Good enough for
 * the tests that hand the layer bad pointers; the DLL's check is Win32's (VirtualQuery). */
static int32_t memory_usable(const void *address, uintptr_t length, int32_t writable) {
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t at = (uintptr_t)address, end = at + length;
    if (length == 0) return 1;
    if (end < at) return 0;
    while (at < end) {
        unsigned char byte;
        struct iovec local = { &byte, 1 }, remote = { (void *)at, 1 };
        if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != 1) return 0;
        if (writable && process_vm_writev(getpid(), &local, 1, &remote, 1, 0) != 1) return 0;
        uintptr_t next = (at / page + 1) * page;
        if (next <= at) break;  /* the last page of the address space */
        at = next;
    }
    return 1;
}

static int32_t is_process_alive(uint32_t pid, uint32_t kind) {
    /* OwnerKind.linux, or .remote (its pid is the bridge's, a Linux process) */
    if ((kind != 1 && kind != 3) || pid == 0) return -1;
    if (kill((pid_t)pid, 0) == 0 || errno == EPERM) return 1;
    return errno == ESRCH ? 0 : -1;
}

static int32_t is_sibling_alive(uint32_t pid) { return is_process_alive(pid, 1); }

static const char *get_env(const char *name) { return getenv(name); }

/* ---- registry file ---- */

static uint32_t default_registry_path(char *buffer, uint32_t capacity) {
    const char *runtime = getenv("XDG_RUNTIME_DIR");
    int n = runtime && runtime[0] == '/'
        ? snprintf(buffer, capacity, "%s/virtuallan/registry", runtime)
        : snprintf(buffer, capacity, "/tmp/virtuallan-%u/registry", (unsigned)geteuid());
    return n < 0 ? 0 : (uint32_t)n;
}

static int32_t map_failure(vl_mapping *m, int32_t error, int fd) {
    *m = (vl_mapping){ .error = error, .os_error = errno, .handle = -1 };
    if (fd >= 0) close(fd);
    return error;
}

static int32_t registry_map(const char *path, uint32_t size_if_new, vl_mapping *m) {
    /* The folder is private: create it 0700 when missing (one level, like a runtime dir). */
    char folder[4096];
    size_t length = strnlen(path, sizeof folder - 1);
    memcpy(folder, path, length);
    folder[length] = 0;
    char *slash = strrchr(folder, '/');
    if (slash && slash != folder) { *slash = 0; mkdir(folder, 0700); }

    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    /* A folder, or a symbolic link (O_NOFOLLOW: never follow a planted link), is refused. */
    if (fd < 0) return map_failure(m, errno == EISDIR || errno == ELOOP ? VL_MAP_NOT_A_FILE : VL_MAP_OPEN_FAILED, -1);
    /* fcntl record locks, not flock: Wine implements LockFileEx with fcntl locks, so a
     * Windows instance and a Linux one exclude each other. */
    struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
    while (fcntl(fd, F_SETLKW, &lock) != 0)
        if (errno != EINTR) return map_failure(m, VL_MAP_LOCK_FAILED, fd);
    struct stat st;
    if (fstat(fd, &st) != 0) return map_failure(m, VL_MAP_OPEN_FAILED, fd);
    if (!S_ISREG(st.st_mode)) return map_failure(m, VL_MAP_NOT_A_FILE, fd);
    if (st.st_uid != geteuid()) return map_failure(m, VL_MAP_WRONG_OWNER, fd);
    if (st.st_mode & 077) return map_failure(m, VL_MAP_MODE_TOO_OPEN, fd);
    off_t size = st.st_size;
    if (size == 0) {
        if (ftruncate(fd, size_if_new) != 0) return map_failure(m, VL_MAP_RESIZE_FAILED, fd);
        size = size_if_new;
    }
    if (size > (off_t)(64u << 20)) { errno = EFBIG; return map_failure(m, VL_MAP_NOT_A_FILE, fd); }
    void *base = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) return map_failure(m, VL_MAP_MAP_FAILED, fd);
    *m = (vl_mapping){ .base = base, .size = (uint32_t)size, .handle = fd };
    return 0;
}

static void registry_unlock(vl_mapping *m) {
    struct flock lock = { .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
    fcntl((int)m->handle, F_SETLK, &lock);
}

static void registry_unmap(vl_mapping *m) {
    if (m->base) munmap(m->base, m->size);
    if (m->handle >= 0) close((int)m->handle);
    m->base = NULL;
    m->handle = -1;
}

/* ---- log ---- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = -1;

static void log_line(const char *path, const char *line, uint32_t length) {
    pthread_mutex_lock(&log_lock);
    if (log_fd < 0) log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (log_fd >= 0) {
        struct iovec iov[2] = { { (void *)line, length }, { "\n", 1 } };
        ssize_t ignored = writev(log_fd, iov, 2);
        (void)ignored;
    }
    pthread_mutex_unlock(&log_lock);
}

static void report_error(const char *line, uint32_t length) {
    struct iovec iov[3] = { { "virtuallan: ", 12 }, { (void *)line, length }, { "\n", 1 } };
    ssize_t ignored = writev(2, iov, 3);
    (void)ignored;
}

static pthread_mutex_t global_mutex = PTHREAD_MUTEX_INITIALIZER;
static void global_lock(void) { pthread_mutex_lock(&global_mutex); }
static void global_unlock(void) { pthread_mutex_unlock(&global_mutex); }

static vl_platform linux_platform = {
    .wsarecvmsg_entry = (void *)vl_hook_WSARecvMsg, .wsasendmsg_entry = (void *)vl_hook_WSASendMsg,
    .connectex_entry = (void *)vl_hook_ConnectEx, .acceptex_entry = (void *)vl_hook_AcceptEx,
    .getacceptexsockaddrs_entry = (void *)vl_hook_GetAcceptExSockaddrs,
    .winsock_startup = winsock_startup, .winsock_cleanup = winsock_cleanup,
    .get_last_error = get_last_error, .set_last_error = vl_linux_set_last_error,
    .mutex_create = mutex_create, .mutex_lock = mutex_lock, .mutex_unlock = mutex_unlock, .mutex_destroy = mutex_destroy,
    .timer_start = timer_start, .timer_stop = timer_stop,
    .now_ms = vl_linux_now_ms, .process_id = process_id, .process_id_of = process_id_of, .owner_kind = 1, .is_process_alive = is_process_alive, .is_sibling_alive = is_sibling_alive,
    .memory_usable = memory_usable, .dos_error = dos_error,
    .get_env = get_env, .default_registry_path = default_registry_path,
    .registry_map = registry_map, .registry_unlock = registry_unlock, .registry_unmap = registry_unmap,
    .log_line = log_line, .report_error = report_error, .global_lock = global_lock, .global_unlock = global_unlock,
};

static pthread_once_t platform_once = PTHREAD_ONCE_INIT;

static void assemble(void) {
    vl_linux_fill_sockets(&linux_platform);
    vl_linux_fill_accepts(&linux_platform);
    vl_linux_fill_emulation(&linux_platform);
    vl_linux_fill_stream_io(&linux_platform);
    vl_linux_emulation_init();
}

const vl_platform *vl_default_platform(void) {
    pthread_once(&platform_once, assemble);
    return &linux_platform;
}
#endif
