/* The Linux backend's overlapped stream sends, receives and AcceptEx for the tests (the
 * DLL has the OS's own): what the kernel cannot do at once waits in order, and one I/O
 * thread on epoll carries it on. */
#if defined(__linux__)
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include "platform.h"
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
    /* A connection the listener deferred is there already: accepted now. */
    if (vl_linux_has_deferred(s)) return vl_linux_accept_into(s, into, real_peer_port);
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

/* The I/O thread's ends of s that it took are reported before this returns. */
static void stream_settle(VL_SOCKET s) {
    if (io_epoll < 0) return;
    pthread_mutex_lock(&io_lock);
    while (reporting_fd == (int)s) pthread_cond_wait(&reported, &io_lock);
    pthread_mutex_unlock(&io_lock);
}

/* The I/O thread needs nothing of a socket beforehand. */
static int32_t stream_prepare_overlapped(VL_SOCKET s) { (void)s; return 0; }

void vl_linux_cancel_io(int fd) { cancel_io(fd, NULL); }

/* This file's entries of the table. */
void vl_linux_fill_stream_io(vl_platform *p) {
    p->stream_send_overlapped = stream_send_overlapped; p->stream_receive_overlapped = stream_receive_overlapped;
    p->stream_accept_overlapped = stream_accept_overlapped;
    p->stream_cancel = stream_cancel; p->stream_settle = stream_settle; p->stream_prepare_overlapped = stream_prepare_overlapped; p->set_stream_handler = set_stream_handler;
}
#endif
