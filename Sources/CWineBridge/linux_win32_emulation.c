/* The Linux backend's emulation of Win32 for the tests (the DLL has the real ones):
 * manual-reset events and completion routines (one mutex + condition variable), completion
 * ports (a queue each), and overlapped stream sends and receives that wait in order for
 * room or bytes (an I/O thread on epoll). */
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

/* ---- overlapped stream sends and receives: what the kernel cannot do at once waits here,
 * in order (sends among sends, receives among receives), and a thread of its own carries
 * it on when the socket is writable or readable (epoll) ---- */

typedef struct pending_io {
    struct pending_io *next;
    int fd, flags, receiving;
    int into;  /* an AcceptEx's accept socket (a "receive" of the listener), else -1 */
    uint32_t count, index, moved;  /* a send: iov[index..count) is left, its first from iov[index].iov_base */
    struct iovec *iov;
    void *context;
    int32_t wsa_error;  /* an AcceptEx's failure, as Winsock says it */
} pending_io;

typedef struct { void *context; uint32_t status; uint32_t bytes; } io_end;

static pthread_mutex_t io_lock = PTHREAD_MUTEX_INITIALIZER;
/* The socket whose taken ends the I/O thread is reporting (-1: none): a close waits for
 * them, so no end reaches an OVERLAPPED after its closesocket returned. */
static int reporting_fd = -1;
static pthread_cond_t reported = PTHREAD_COND_INITIALIZER;
static pthread_once_t io_once = PTHREAD_ONCE_INIT;
static pending_io *waiting;  /* every socket's, oldest first */
static int io_epoll = -1;
static vl_stream_handler stream_handler;

static void set_stream_handler(vl_stream_handler handler) { stream_handler = handler; }

/* Sends what the kernel takes now: 1 all sent, 0 the rest must wait, or -errno. */
static int send_some(pending_io *p) {
    while (p->index < p->count) {
        struct msghdr m = { .msg_iov = p->iov + p->index, .msg_iovlen = p->count - p->index };
        ssize_t n = sendmsg(p->fd, &m, p->flags | MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
        p->moved += (uint32_t)n;
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

/* Receives what is there now: 1 received (0 bytes: the end), 0 nothing yet, or -errno.
 * An AcceptEx receives a connection. */
static int receive_some(pending_io *p) {
    if (p->into >= 0) {
        struct pollfd waiting = { .fd = p->fd, .events = POLLIN };
        if (poll(&waiting, 1, 0) != 1) return 0;  /* accept would block on a blocking listener */
        uint16_t port = 0;
        int32_t error = vl_linux_accept_into((VL_SOCKET)p->fd, (VL_SOCKET)p->into, &port);
        if (error == VL_WSAEWOULDBLOCK) return 0;
        if (error) { p->wsa_error = error; return -1; }
        return 1;
    }
    for (;;) {
        struct msghdr m = { .msg_iov = p->iov, .msg_iovlen = p->count };
        ssize_t n = recvmsg(p->fd, &m, p->flags | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
        p->moved = (uint32_t)n;
        return 1;
    }
}

static int waiting_locked(int fd, int receiving) {
    for (pending_io *p = waiting; p; p = p->next)
        if (p->fd == fd && p->receiving == receiving) return 1;
    return 0;
}

/* Watches fd for what its waiting operations need (none: not watched). Lock held. */
static void arm_locked(int fd) {
    uint32_t wanted = (waiting_locked(fd, 0) ? EPOLLOUT : 0) | (waiting_locked(fd, 1) ? EPOLLIN : 0);
    if (!wanted) { epoll_ctl(io_epoll, EPOLL_CTL_DEL, fd, NULL); return; }
    struct epoll_event e = { .events = wanted | EPOLLONESHOT, .data.fd = fd };
    if (epoll_ctl(io_epoll, EPOLL_CTL_MOD, fd, &e) != 0) epoll_ctl(io_epoll, EPOLL_CTL_ADD, fd, &e);
}

/* Takes out the operations of `fd` of one kind (receiving, or not) that `serve` ends, in
 * order (serve: 1 ended, 0 keep it and the later ones); their ends go to `ends`. A
 * `context` other than NULL takes only that operation. Lock held. */
static uint32_t take_locked(int fd, int receiving, void *context, int (*serve)(pending_io *, io_end *), io_end *ends, uint32_t room) {
    uint32_t n = 0;
    for (pending_io **link = &waiting; *link && n < room;) {
        pending_io *p = *link;
        if (p->fd != fd || p->receiving != receiving || (context && p->context != context)) { link = &p->next; continue; }
        if (!serve(p, &ends[n])) break;
        n++;
        *link = p->next;
        free(p->iov);
        free(p);
    }
    return n;
}

static uint32_t status_of(const pending_io *p, int r) {
    if (r >= 0) return 0;
    return VL_STATUS_OF_ERROR(p->wsa_error ? p->wsa_error : vl_linux_wsa_error(-r));
}

static int serve_writable(pending_io *p, io_end *end) {
    int r = send_some(p);
    if (r == 0) return 0;
    *end = (io_end){ p->context, status_of(p, r), p->moved };
    return 1;
}

static int serve_readable(pending_io *p, io_end *end) {
    int r = receive_some(p);
    if (r == 0) return 0;
    *end = (io_end){ p->context, status_of(p, r), p->moved };
    return 1;
}

static int serve_cancelled(pending_io *p, io_end *end) {
    *end = (io_end){ p->context, VL_STATUS_OF_ERROR(VL_WSA_OPERATION_ABORTED), p->receiving ? 0 : p->moved };
    return 1;
}

static void report(const io_end *ends, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        if (stream_handler) stream_handler(ends[i].context, ends[i].status, ends[i].bytes);
}

static void *io_thread(void *unused) {
    (void)unused;
    struct epoll_event events[32];
    io_end ends[64];
    for (;;) {
        int n = epoll_wait(io_epoll, events, 32, -1);
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            pthread_mutex_lock(&io_lock);
            uint32_t ended = take_locked(fd, 0, NULL, serve_writable, ends, 32);
            ended += take_locked(fd, 1, NULL, serve_readable, ends + ended, 32);
            arm_locked(fd);
            reporting_fd = fd;
            pthread_mutex_unlock(&io_lock);
            report(ends, ended);
            pthread_mutex_lock(&io_lock);
            reporting_fd = -1;
            pthread_cond_broadcast(&reported);
            pthread_mutex_unlock(&io_lock);
        }
    }
    return NULL;
}

static void io_start(void) {
    io_epoll = epoll_create1(EPOLL_CLOEXEC);
    vl_linux_start_detached(io_thread);
}

/* Tried now unless the socket's earlier operations of its kind wait (the stream keeps
 * their order); what must wait is queued. */
static int32_t start_io(VL_SOCKET s, const VL_WSABUF *buffers, uint32_t count, int32_t flags, int receiving, int into,
                        uint32_t *done, void *context) {
    if (count > 1024) return VL_WSAENOBUFS;  /* as stream_io: IOV_MAX */
    pthread_once(&io_once, io_start);
    pending_io p = { .fd = (int)s, .flags = vl_linux_stream_flags(flags), .receiving = receiving, .into = into, .count = count,
                     .context = context };
    p.iov = malloc((count ? count : 1) * sizeof *p.iov);
    if (!p.iov) return VL_WSAENOBUFS;
    for (uint32_t i = 0; i < count; i++) { p.iov[i].iov_base = buffers[i].buf; p.iov[i].iov_len = buffers[i].len; }
    pthread_mutex_lock(&io_lock);
    int r = waiting_locked(p.fd, receiving) ? 0 : receiving ? receive_some(&p) : send_some(&p);
    if (r != 0) {
        pthread_mutex_unlock(&io_lock);
        free(p.iov);
        if (r < 0) return p.wsa_error ? p.wsa_error : vl_linux_wsa_error(-r);
        *done = p.moved;
        return 0;
    }
    pending_io *queued = malloc(sizeof *queued);
    if (!queued) {
        pthread_mutex_unlock(&io_lock);
        free(p.iov);
        return VL_WSAENOBUFS;
    }
    *queued = p;
    pending_io **tail = &waiting;
    while (*tail) tail = &(*tail)->next;
    *tail = queued;
    arm_locked(p.fd);
    pthread_mutex_unlock(&io_lock);
    return VL_WSA_IO_PENDING;
}

static int32_t stream_send_overlapped(VL_SOCKET s, const VL_WSABUF *buffers, uint32_t count, int32_t flags, uint32_t *done,
                                      void *context) {
    return start_io(s, buffers, count, flags, 0, -1, done, context);
}

static int32_t stream_receive_overlapped(VL_SOCKET s, const VL_WSABUF *buffers, uint32_t count, uint32_t *flags,
                                         uint32_t *done, void *context) {
    int32_t error = start_io(s, buffers, count, (int32_t)*flags, 1, -1, done, context);
    if (error == 0) *flags = 0;
    return error;
}

/* An AcceptEx waits among the listener's receives: its connection is what it receives.
 * What Windows refuses (WSAEINVAL) is refused here too: an accept socket that is bound, or
 * that another AcceptEx waits to accept onto. */
static int32_t stream_accept_overlapped(VL_SOCKET s, VL_SOCKET into, uint16_t *real_peer_port, void *context) {
    struct sockaddr_in name;
    socklen_t length = sizeof name;
    if (getsockname((int)into, (struct sockaddr *)&name, &length) == 0 && name.sin_port != 0) return VL_WSAEINVAL;
    pthread_mutex_lock(&io_lock);
    int taken = 0;
    for (pending_io *p = waiting; p; p = p->next) taken |= p->into == (int)into;
    pthread_mutex_unlock(&io_lock);
    if (taken) return VL_WSAEINVAL;
    uint32_t done = 0;
    int32_t error = start_io(s, NULL, 0, 0, 1, (int)into, &done, context);
    return error ? error : vl_linux_peer_port(into, real_peer_port);
}

/* Ends the waiting operations of fd (`context`: only that one) as cancelled; ends the I/O
 * thread took are reported before this returns. */
static void cancel_io(int fd, void *context) {
    if (io_epoll < 0) return;
    io_end ends[64];
    uint32_t n;
    do {
        pthread_mutex_lock(&io_lock);
        while (reporting_fd == fd) pthread_cond_wait(&reported, &io_lock);
        n = take_locked(fd, 0, context, serve_cancelled, ends, 32);
        n += take_locked(fd, 1, context, serve_cancelled, ends + n, 32);
        arm_locked(fd);
        pthread_mutex_unlock(&io_lock);
        report(ends, n);
    } while (n == 64);
}

static void stream_cancel(VL_SOCKET s, void *context) { cancel_io((int)s, context); }

/* The I/O thread needs nothing of a socket beforehand. */
static int32_t stream_prepare_overlapped(VL_SOCKET s) { (void)s; return 0; }

void vl_linux_cancel_io(int fd) { cancel_io(fd, NULL); }

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
    p->stream_send_overlapped = stream_send_overlapped; p->stream_receive_overlapped = stream_receive_overlapped;
    p->stream_accept_overlapped = stream_accept_overlapped;
    p->stream_cancel = stream_cancel; p->stream_prepare_overlapped = stream_prepare_overlapped; p->set_stream_handler = set_stream_handler;
    p->event_create = event_create; p->event_close = event_close; p->event_set = event_set;
    p->event_reset = event_reset; p->event_wait = event_wait;
    p->current_thread = vl_linux_current_thread; p->queue_completion = queue_completion;
    p->port_open = port_open; p->post_completion = post_completion;
}
#endif
