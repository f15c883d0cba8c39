/* The Linux backend's emulation of Win32 for the tests (the DLL has the real ones):
 * manual-reset events and completion routines (one mutex + condition variable), completion
 * ports (a queue each), and overlapped stream sends that wait for room in order (a send
 * thread on epoll). */
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

/* ---- overlapped stream sends: what the kernel did not take at once waits here, in order,
 * and a thread of its own sends it when the socket is writable (epoll, EPOLLOUT) ---- */

typedef struct pending_send {
    struct pending_send *next;
    int fd, flags;
    uint32_t count, index, sent;  /* iov[index..count) is left, its first from iov[index].iov_base */
    struct iovec *iov;
    void *context;
} pending_send;

typedef struct { void *context; int32_t error; uint32_t bytes; } send_end;

static pthread_mutex_t send_lock = PTHREAD_MUTEX_INITIALIZER;
/* The socket whose taken ends the send thread is reporting (-1: none): a close waits for
 * them, so no end reaches an OVERLAPPED after its closesocket returned. */
static int reporting_fd = -1;
static pthread_cond_t reported = PTHREAD_COND_INITIALIZER;
static pthread_once_t send_once = PTHREAD_ONCE_INIT;
static pending_send *sends;  /* every socket's, oldest first */
static int send_epoll = -1;
static vl_send_handler send_handler;

static void set_send_handler(vl_send_handler handler) { send_handler = handler; }

/* Sends what the kernel takes now: 1 all sent, 0 the rest must wait, or -errno. */
static int send_some(pending_send *p) {
    while (p->index < p->count) {
        struct msghdr m = { .msg_iov = p->iov + p->index, .msg_iovlen = p->count - p->index };
        ssize_t n = sendmsg(p->fd, &m, p->flags | MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
        p->sent += (uint32_t)n;
        while (n > 0 && p->index < p->count) {
            size_t part = (size_t)n < p->iov[p->index].iov_len ? (size_t)n : p->iov[p->index].iov_len;
            p->iov[p->index].iov_base = (char *)p->iov[p->index].iov_base + part;
            p->iov[p->index].iov_len -= part;
            n -= (ssize_t)part;
            if (p->iov[p->index].iov_len == 0) p->index++;
        }
        while (p->index < p->count && p->iov[p->index].iov_len == 0) p->index++;
    }
    return 1;
}

static int waiting_sends_locked(int fd) {
    for (pending_send *p = sends; p; p = p->next)
        if (p->fd == fd) return 1;
    return 0;
}

static void arm_send_locked(int fd) {
    struct epoll_event e = { .events = EPOLLOUT | EPOLLONESHOT, .data.fd = fd };
    if (epoll_ctl(send_epoll, EPOLL_CTL_MOD, fd, &e) != 0) epoll_ctl(send_epoll, EPOLL_CTL_ADD, fd, &e);
}

/* Takes out the sends of `fd` that `serve` ends (serve: 1 ended, 0 keep it and the later
 * ones); their ends go to `ends`. Lock held. */
static uint32_t take_sends_locked(int fd, int (*serve)(pending_send *, send_end *), send_end *ends, uint32_t room) {
    uint32_t n = 0;
    for (pending_send **link = &sends; *link && n < room;) {
        pending_send *p = *link;
        if (p->fd != fd) { link = &p->next; continue; }
        if (!serve(p, &ends[n])) break;
        n++;
        *link = p->next;
        free(p->iov);
        free(p);
    }
    return n;
}

static int serve_writable(pending_send *p, send_end *end) {
    int r = send_some(p);
    if (r == 0) return 0;
    *end = (send_end){ p->context, r < 0 ? vl_linux_wsa_error(-r) : 0, p->sent };
    return 1;
}

static int serve_closing(pending_send *p, send_end *end) {
    *end = (send_end){ p->context, VL_WSA_OPERATION_ABORTED, p->sent };
    return 1;
}

static void report_sends(const send_end *ends, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        if (send_handler) send_handler(ends[i].context, ends[i].error, ends[i].bytes);
}

static void *send_thread(void *unused) {
    (void)unused;
    struct epoll_event events[32];
    send_end ends[64];
    for (;;) {
        int n = epoll_wait(send_epoll, events, 32, -1);
        for (int i = 0; i < n; i++) {
            pthread_mutex_lock(&send_lock);
            uint32_t ended = take_sends_locked(events[i].data.fd, serve_writable, ends, 64);
            if (waiting_sends_locked(events[i].data.fd)) arm_send_locked(events[i].data.fd);
            reporting_fd = events[i].data.fd;
            pthread_mutex_unlock(&send_lock);
            report_sends(ends, ended);
            pthread_mutex_lock(&send_lock);
            reporting_fd = -1;
            pthread_cond_broadcast(&reported);
            pthread_mutex_unlock(&send_lock);
        }
    }
    return NULL;
}

static void send_start(void) {
    send_epoll = epoll_create1(EPOLL_CLOEXEC);
    vl_linux_start_detached(send_thread);
}

static int32_t stream_send_overlapped(VL_SOCKET s, const VL_WSABUF *buffers, uint32_t count, int32_t flags, uint32_t *done,
                                      void *context) {
    if (count > 1024) return VL_WSAENOBUFS;  /* as stream_io: IOV_MAX */
    pthread_once(&send_once, send_start);
    pending_send p = { .fd = (int)s, .flags = vl_linux_stream_flags(flags), .count = count, .context = context };
    p.iov = malloc((count ? count : 1) * sizeof *p.iov);
    if (!p.iov) return VL_WSAENOBUFS;
    for (uint32_t i = 0; i < count; i++) { p.iov[i].iov_base = buffers[i].buf; p.iov[i].iov_len = buffers[i].len; }
    pthread_mutex_lock(&send_lock);
    /* Behind the socket's waiting sends, nothing goes first: the stream keeps their order. */
    int r = waiting_sends_locked(p.fd) ? 0 : send_some(&p);
    if (r != 0) {
        pthread_mutex_unlock(&send_lock);
        free(p.iov);
        if (r < 0) return vl_linux_wsa_error(-r);
        *done = p.sent;
        return 0;
    }
    pending_send *queued = malloc(sizeof *queued);
    if (!queued) {
        pthread_mutex_unlock(&send_lock);
        free(p.iov);
        return VL_WSAENOBUFS;
    }
    *queued = p;
    pending_send **tail = &sends;
    while (*tail) tail = &(*tail)->next;
    *tail = queued;
    arm_send_locked(p.fd);
    pthread_mutex_unlock(&send_lock);
    return VL_WSA_IO_PENDING;
}

/* The socket closes: its waiting sends end aborted, and ends the send thread took are
 * reported before this returns. */
void vl_linux_cancel_sends(int fd) {
    if (send_epoll < 0) return;
    send_end ends[64];
    uint32_t n;
    do {
        pthread_mutex_lock(&send_lock);
        while (reporting_fd == fd) pthread_cond_wait(&reported, &send_lock);
        n = take_sends_locked(fd, serve_closing, ends, 64);
        if (!waiting_sends_locked(fd)) epoll_ctl(send_epoll, EPOLL_CTL_DEL, fd, NULL);
        pthread_mutex_unlock(&send_lock);
        report_sends(ends, n);
    } while (n == 64);
}


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
void vl_linux_fill_emulation(vl_platform *p) {
    p->stream_send_overlapped = stream_send_overlapped; p->set_send_handler = set_send_handler;
    p->event_create = event_create; p->event_close = event_close; p->event_set = event_set;
    p->event_reset = event_reset; p->event_wait = event_wait;
    p->current_thread = vl_linux_current_thread; p->queue_completion = queue_completion;
    p->port_open = port_open; p->post_completion = post_completion;
}
#endif
