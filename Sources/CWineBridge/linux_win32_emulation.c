/* The Linux backend's emulation of Win32 for the tests (the DLL has the real ones):
 * manual-reset events and completion routines (one mutex + condition variable), completion
 * ports (a queue each). Overlapped stream I/O is linux_stream_io.c's. */
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

/* ---- events and completion routines ---- */

typedef struct event { uint32_t magic; int signaled; } event;
#define EVENT_MAGIC 0x45564C56u

typedef struct completion {
    struct completion *next;
    uintptr_t thread;
    void (*routine)(uint32_t, uint32_t, VL_OVERLAPPED *, uint32_t);
    uint32_t error, bytes, flags;
    VL_OVERLAPPED *overlapped;
} completion;

static pthread_mutex_t event_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t event_changed = PTHREAD_COND_INITIALIZER;
static event **live_events;        /* every open event, to refuse stale or foreign handles */
static uint32_t live_count, live_capacity;
static completion *completions;    /* queued completion routines, all threads */

static int is_live(event *e) {
    for (uint32_t i = 0; i < live_count; i++) if (live_events[i] == e) return 1;
    return 0;
}

static VL_WSAEVENT event_create(void) {
    event *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->magic = EVENT_MAGIC;
    pthread_mutex_lock(&event_lock);
    if (live_count == live_capacity) {
        uint32_t capacity = live_capacity ? live_capacity * 2 : 64;
        event **grown = realloc(live_events, capacity * sizeof *grown);
        if (!grown) { pthread_mutex_unlock(&event_lock); free(e); return NULL; }
        live_events = grown;
        live_capacity = capacity;
    }
    live_events[live_count++] = e;
    pthread_mutex_unlock(&event_lock);
    return e;
}

static int32_t event_close(VL_WSAEVENT handle) {
    event *e = handle;
    pthread_mutex_lock(&event_lock);
    for (uint32_t i = 0; i < live_count; i++)
        if (live_events[i] == e) {
            live_events[i] = live_events[--live_count];
            e->magic = 0;
            pthread_mutex_unlock(&event_lock);
            free(e);
            return 1;
        }
    pthread_mutex_unlock(&event_lock);
    return 0;
}

static int32_t event_change(VL_WSAEVENT handle, int signaled) {
    event *e = handle;
    pthread_mutex_lock(&event_lock);
    int ok = is_live(e);
    if (ok) {
        e->signaled = signaled;
        if (signaled) pthread_cond_broadcast(&event_changed);
    }
    pthread_mutex_unlock(&event_lock);
    return ok;
}
static int32_t event_set(VL_WSAEVENT e) { return event_change(e, 1); }
static int32_t event_reset(VL_WSAEVENT e) { return event_change(e, 0); }

uintptr_t vl_linux_current_thread(void) { return (uintptr_t)pthread_self(); }

static void queue_completion(uintptr_t thread, void *routine, uint32_t error, uint32_t bytes,
                             VL_OVERLAPPED *overlapped, uint32_t flags) {
    completion *c = calloc(1, sizeof *c);
    if (!c) return;
    *c = (completion){ NULL, thread, (void (*)(uint32_t, uint32_t, VL_OVERLAPPED *, uint32_t))routine,
                       error, bytes, flags, overlapped };
    pthread_mutex_lock(&event_lock);
    completion **tail = &completions;
    while (*tail) tail = &(*tail)->next;
    *tail = c;
    pthread_cond_broadcast(&event_changed);
    pthread_mutex_unlock(&event_lock);
}

/* Takes this thread's queued completions (in order); call with event_lock held. */
static completion *take_completions(uintptr_t thread) {
    completion *mine = NULL, **mine_tail = &mine, **p = &completions;
    while (*p) {
        completion *c = *p;
        if (c->thread == thread) {
            *p = c->next;
            c->next = NULL;
            *mine_tail = c;
            mine_tail = &c->next;
        } else {
            p = &c->next;
        }
    }
    return mine;
}

static uint32_t event_wait(uint32_t count, const VL_WSAEVENT *handles, int32_t wait_all,
                           uint32_t timeout_ms, int32_t alertable) {
    if (count == 0 || count > VL_WSA_MAXIMUM_WAIT_EVENTS || !handles) {
        vl_linux_set_last_error(VL_WSA_INVALID_PARAMETER);
        return VL_WSA_WAIT_FAILED;
    }
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) { deadline.tv_sec++; deadline.tv_nsec -= 1000000000L; }
    uintptr_t self = vl_linux_current_thread();

    pthread_mutex_lock(&event_lock);
    uint32_t result;
    for (;;) {
        uint32_t signaled = 0, first = count;
        for (uint32_t i = 0; i < count; i++) {
            event *e = handles[i];
            if (!is_live(e)) {
                pthread_mutex_unlock(&event_lock);
                vl_linux_set_last_error(VL_WSA_INVALID_HANDLE);
                return VL_WSA_WAIT_FAILED;
            }
            if (e->signaled) { signaled++; if (first == count) first = i; }
        }
        if (wait_all ? signaled == count : signaled > 0) { result = VL_WSA_WAIT_EVENT_0 + (wait_all ? 0 : first); break; }
        if (alertable) {
            completion *mine = take_completions(self);
            if (mine) {
                pthread_mutex_unlock(&event_lock);
                while (mine) {
                    completion *next = mine->next;
                    mine->routine(mine->error, mine->bytes, mine->overlapped, mine->flags);
                    free(mine);
                    mine = next;
                }
                return VL_WSA_WAIT_IO_COMPLETION;
            }
        }
        if (timeout_ms == 0) { result = VL_WSA_WAIT_TIMEOUT; break; }
        if (timeout_ms == VL_WSA_INFINITE) {
            pthread_cond_wait(&event_changed, &event_lock);
        } else if (pthread_cond_timedwait(&event_changed, &event_lock, &deadline) == ETIMEDOUT) {
            timeout_ms = 0; /* one more look, then time out */
        }
    }
    pthread_mutex_unlock(&event_lock);
    return result;
}

static pthread_condattr_t monotonic_attr;
static pthread_cond_t port_changed = PTHREAD_COND_INITIALIZER;  /* completion ports, below */

void vl_linux_emulation_init(void) {
    pthread_condattr_init(&monotonic_attr);
    pthread_condattr_setclock(&monotonic_attr, CLOCK_MONOTONIC);
    pthread_cond_destroy(&event_changed);
    pthread_cond_init(&event_changed, &monotonic_attr);
    pthread_cond_destroy(&port_changed);
    pthread_cond_init(&port_changed, &monotonic_attr);
}

/* ---- completion ports (a queue each; tests take the packets with vl_linux_port_take) ---- */

typedef struct packet {
    struct packet *next;
    uintptr_t key;
    VL_OVERLAPPED *overlapped;
    uint32_t status, bytes;
} packet;
typedef struct port { struct port *next; packet *queue; } port;
static pthread_mutex_t port_lock = PTHREAD_MUTEX_INITIALIZER;
static port *ports;  /* every port made, to refuse a handle that is none (never freed: tests) */

static void *port_open(void *existing, uint32_t threads, uint32_t *error) {
    (void)threads;
    pthread_mutex_lock(&port_lock);
    port *p = ports;
    while (p && p != existing) p = p->next;
    if (existing && !p) *error = VL_WSA_INVALID_HANDLE;
    if (!existing && (p = calloc(1, sizeof *p)) != NULL) {
        p->next = ports;
        ports = p;
    } else if (!existing) *error = VL_WSA_NOT_ENOUGH_MEMORY;
    pthread_mutex_unlock(&port_lock);
    return p;
}

static void post_completion(void *target, uintptr_t key, VL_OVERLAPPED *overlapped, uint32_t status, uint32_t bytes) {
    port *p = target;
    packet *k = calloc(1, sizeof *k);
    if (!k) return;
    *k = (packet){ NULL, key, overlapped, status, bytes };
    pthread_mutex_lock(&port_lock);
    packet **tail = &p->queue;
    while (*tail) tail = &(*tail)->next;
    *tail = k;
    pthread_cond_broadcast(&port_changed);
    pthread_mutex_unlock(&port_lock);
}

int32_t vl_linux_port_take(void *target, int32_t timeout_ms, uintptr_t *key, VL_OVERLAPPED **overlapped,
                           uint32_t *status, uint32_t *bytes) {
    port *p = target;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) { deadline.tv_sec++; deadline.tv_nsec -= 1000000000L; }
    pthread_mutex_lock(&port_lock);
    while (!p->queue)
        if (pthread_cond_timedwait(&port_changed, &port_lock, &deadline) == ETIMEDOUT) break;
    packet *k = p->queue;
    if (k) p->queue = k->next;
    pthread_mutex_unlock(&port_lock);
    if (!k) return 0;
    *key = k->key;
    *overlapped = k->overlapped;
    *status = k->status;
    *bytes = k->bytes;
    free(k);
    return 1;
}


/* This file's entries of the table. */
/* Copies of a backing socket, as Winsock makes them: WSADuplicateSocket's answer carries
 * the copy (a dup of the descriptor) where Winsock's carries the duplicated handle,
 * dwProviderReserved, after the type and protocol it fills. The tests stand in the PC's
 * other processes inside this one: a copy for any process (0 is none) is a dup here. */

static int32_t duplicate_socket(VL_SOCKET s, uint32_t process, void *info, int32_t wide) {
    (void)wide;
    if (process == 0) return VL_WSAEINVAL;
    if (!info) return VL_WSAEFAULT;
    int type = 0, protocol = 0;
    socklen_t size = sizeof type;
    getsockopt((int)s, SOL_SOCKET, SO_TYPE, &type, &size);
    size = sizeof protocol;
    getsockopt((int)s, SOL_SOCKET, SO_PROTOCOL, &protocol, &size);
    int copy = dup((int)s);
    if (copy < 0) return VL_WSAENOBUFS;
    int32_t fields[3] = { AF_INET, type, protocol };
    memset(info, 0, VL_INFO_FIXED_LENGTH);
    memcpy((char *)info + VL_INFO_FAMILY, &fields[0], 4);
    memcpy((char *)info + VL_INFO_TYPE, &fields[1], 4);
    memcpy((char *)info + VL_INFO_PROTOCOL, &fields[2], 4);
    memcpy((char *)info + VL_INFO_PROVIDER_RESERVED, &copy, 4);
    return 0;
}

static int32_t socket_from_info(void *info, int32_t wide, VL_SOCKET *out) {
    (void)wide;
    int copy;
    memcpy(&copy, (char *)info + VL_INFO_PROVIDER_RESERVED, 4);
    *out = (VL_SOCKET)copy;
    return 0;
}

/* Linux's counterpart of HANDLE_FLAG_INHERIT: a descriptor without FD_CLOEXEC. */
static int32_t handle_inheritable(VL_SOCKET s) {
    int flags = fcntl((int)s, F_GETFD);
    return flags >= 0 && !(flags & FD_CLOEXEC) ? 1 : 0;
}

static void handle_set_inheritable(VL_SOCKET s, int32_t inheritable) {
    int flags = fcntl((int)s, F_GETFD);
    if (flags >= 0) fcntl((int)s, F_SETFD, inheritable ? flags & ~FD_CLOEXEC : flags | FD_CLOEXEC);
}

static uint32_t duplicate_handle(void *source, VL_SOCKET s, void *target, uint32_t access, int32_t inherit, uint32_t options,
                                 VL_SOCKET *out) {
    (void)access; (void)inherit; (void)options;
    /* From this process: GetCurrentProcess()'s pseudo handle, as the tests pass it; into it
     * or a process the tests stand in inside it (a pid as its handle), where a dup serves. */
    if (source != (void *)(uintptr_t)-1 || !target) return 50;  /* ERROR_NOT_SUPPORTED */
    int copy = dup((int)s);
    if (copy < 0) return 8;  /* ERROR_NOT_ENOUGH_MEMORY */
    *out = (VL_SOCKET)copy;
    return 0;
}

void vl_linux_fill_emulation(vl_platform *p) {
    p->duplicate_socket = duplicate_socket; p->socket_from_info = socket_from_info; p->duplicate_handle = duplicate_handle;
    p->handle_inheritable = handle_inheritable; p->handle_set_inheritable = handle_set_inheritable;
    p->event_create = event_create; p->event_close = event_close; p->event_set = event_set;
    p->event_reset = event_reset; p->event_wait = event_wait;
    p->current_thread = vl_linux_current_thread; p->queue_completion = queue_completion;
    p->port_open = port_open; p->post_completion = post_completion;
}
#endif
