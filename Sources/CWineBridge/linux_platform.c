/* The Linux backend of the Platform table: BSD sockets on 127.0.0.1, Win32-style events
 * and completion routines emulated with one mutex + condition variable, overlapped
 * readiness through one epoll thread. Nothing here polls: idle threads sleep in the kernel. */
#if defined(__linux__)
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

/* ---- errors ---- */

static _Thread_local int32_t last_error;
static int32_t get_last_error(void) { return last_error; }
/* No Winsock below us on Linux: nothing is handed on, so there is nothing to start. */
static int32_t winsock_startup(uint16_t version, VL_WSADATA *data) { (void)version; (void)data; return 0; }
static int32_t winsock_cleanup(void) { return 0; }
static void set_last_error(int32_t e) { last_error = e; }

static int32_t wsa_from_errno(int e) {
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

/* ---- backing sockets ---- */

static int32_t udp_open(VL_SOCKET *out, uint16_t *real_port) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return wsa_from_errno(errno);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t length = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &length) != 0) {
        int e = errno;
        close(fd);
        return wsa_from_errno(e);
    }
    *out = (VL_SOCKET)fd;
    *real_port = ntohs(a.sin_port);
    return 0;
}

static void socket_shutdown(VL_SOCKET s) { shutdown((int)s, SHUT_RDWR); }
static void cancel_sends(int fd);
static void socket_close(VL_SOCKET s) {
    cancel_sends((int)s);
    close((int)s);
}

/* ---- virtual TCP's backing streams ---- */

static int32_t stream_bytes_readable(VL_SOCKET s, uint32_t *bytes) {
    int n = 0;
    if (ioctl((int)s, FIONREAD, &n) != 0) return wsa_from_errno(errno);
    *bytes = (uint32_t)n;
    return 0;
}

static int32_t tcp_open(VL_SOCKET *out) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return wsa_from_errno(errno);
    *out = (VL_SOCKET)fd;
    return 0;
}

static int32_t stream_bind(VL_SOCKET s, uint16_t *real_port) {
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t length = sizeof a;
    if (bind((int)s, (struct sockaddr *)&a, sizeof a) != 0 || getsockname((int)s, (struct sockaddr *)&a, &length) != 0)
        return wsa_from_errno(errno);
    *real_port = ntohs(a.sin_port);
    return 0;
}

/* The game's backlog is not the real one: the listener's queue never refuses a virtual
 * connection the game has not accepted yet (its connect waits for the handshake). */
static int32_t stream_listen(VL_SOCKET s) { return listen((int)s, SOMAXCONN) == 0 ? 0 : wsa_from_errno(errno); }
static int32_t stream_listen_silent(VL_SOCKET s) { return listen((int)s, 0) == 0 ? 0 : wsa_from_errno(errno); }

static int32_t stream_accept(VL_SOCKET s, VL_SOCKET *accepted, uint16_t *real_peer_port) {
    struct sockaddr_in from;
    socklen_t length = sizeof from;
    int fd;
    do fd = accept4((int)s, (struct sockaddr *)&from, &length, SOCK_CLOEXEC); while (fd < 0 && errno == EINTR);
    if (fd < 0) return wsa_from_errno(errno);
    if (fcntl((int)s, F_GETFL) & O_NONBLOCK) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    *accepted = (VL_SOCKET)fd;
    *real_peer_port = ntohs(from.sin_port);
    return 0;
}

/* The accepted descriptor takes the game socket's number (dup3), with that socket's
 * blocking mode; the game's socket, never used for anything before, closes with it. */
static int32_t stream_accept_into(VL_SOCKET s, VL_SOCKET into, uint16_t *real_peer_port) {
    struct sockaddr_in from;
    socklen_t length = sizeof from;
    int nonblocking = fcntl((int)into, F_GETFL) & O_NONBLOCK;
    int fd;
    do fd = accept4((int)s, (struct sockaddr *)&from, &length, SOCK_CLOEXEC | SOCK_NONBLOCK); while (fd < 0 && errno == EINTR);
    if (fd < 0) return errno == EAGAIN ? VL_WSAEWOULDBLOCK : wsa_from_errno(errno);
    if (!nonblocking) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    int moved = dup3(fd, (int)into, O_CLOEXEC);
    int error = errno;
    close(fd);
    if (moved < 0) return wsa_from_errno(error);
    *real_peer_port = ntohs(from.sin_port);
    return 0;
}

static int32_t call_accept_condition(void *condition, VL_WSABUF *caller, VL_WSABUF *callee, uint32_t *group, uintptr_t data) {
    typedef int32_t (*condition_fn)(VL_WSABUF *, VL_WSABUF *, void *, void *, VL_WSABUF *, VL_WSABUF *, uint32_t *, uintptr_t);
    return ((condition_fn)condition)(caller, NULL, NULL, NULL, callee, NULL, group, data);
}

static int32_t stream_connect(VL_SOCKET s, uint32_t address, uint16_t port) {
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = address };
    if (connect((int)s, (struct sockaddr *)&to, sizeof to) == 0) return 0;
    return errno == ECONNREFUSED ? VL_WSAECONNREFUSED : wsa_from_errno(errno);
}

static int32_t stream_is_connected(VL_SOCKET s) {
    struct sockaddr_in peer;
    socklen_t length = sizeof peer;
    return getpeername((int)s, (struct sockaddr *)&peer, &length) == 0;
}

static int linux_stream_flags(int32_t flags) {
    return (flags & VL_MSG_OOB ? MSG_OOB : 0) | (flags & VL_MSG_PEEK ? MSG_PEEK : 0) | (flags & VL_MSG_WAITALL ? MSG_WAITALL : 0);
}

static int32_t stream_io(VL_SOCKET s, const VL_WSABUF *buffers, uint32_t count, int32_t flags, uint32_t *done, int sending) {
    if (count > 1024) return VL_WSAENOBUFS;
    struct iovec iov[1024];
    for (uint32_t i = 0; i < count; i++) { iov[i].iov_base = buffers[i].buf; iov[i].iov_len = buffers[i].len; }
    struct msghdr m = { .msg_iov = iov, .msg_iovlen = count };
    for (;;) {
        ssize_t n = sending ? sendmsg((int)s, &m, linux_stream_flags(flags) | MSG_NOSIGNAL) : recvmsg((int)s, &m, linux_stream_flags(flags));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return wsa_from_errno(errno);
        *done = (uint32_t)n;
        return 0;
    }
}

static int32_t stream_send(VL_SOCKET s, const VL_WSABUF *buffers, uint32_t count, int32_t flags, uint32_t *done) {
    return stream_io(s, buffers, count, flags, done, 1);
}

static int32_t stream_receive(VL_SOCKET s, const VL_WSABUF *buffers, uint32_t count, int32_t flags, uint32_t *done) {
    return stream_io(s, buffers, count, flags, done, 0);
}

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
    *end = (send_end){ p->context, r < 0 ? wsa_from_errno(-r) : 0, p->sent };
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
            pthread_mutex_unlock(&send_lock);
            report_sends(ends, ended);
        }
    }
    return NULL;
}

static void start_detached(void *(*body)(void *));
static void send_start(void) {
    send_epoll = epoll_create1(EPOLL_CLOEXEC);
    start_detached(send_thread);
}

static int32_t stream_send_overlapped(VL_SOCKET s, const VL_WSABUF *buffers, uint32_t count, int32_t flags, uint32_t *done,
                                      void *context) {
    if (count > 1024) return VL_WSAENOBUFS;  /* as stream_io: IOV_MAX */
    pthread_once(&send_once, send_start);
    pending_send p = { .fd = (int)s, .flags = linux_stream_flags(flags), .count = count, .context = context };
    p.iov = malloc((count ? count : 1) * sizeof *p.iov);
    if (!p.iov) return VL_WSAENOBUFS;
    for (uint32_t i = 0; i < count; i++) { p.iov[i].iov_base = buffers[i].buf; p.iov[i].iov_len = buffers[i].len; }
    pthread_mutex_lock(&send_lock);
    /* Behind the socket's waiting sends, nothing goes first: the stream keeps their order. */
    int r = waiting_sends_locked(p.fd) ? 0 : send_some(&p);
    if (r != 0) {
        pthread_mutex_unlock(&send_lock);
        free(p.iov);
        if (r < 0) return wsa_from_errno(-r);
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

/* The socket closes: its waiting sends end aborted. */
static void cancel_sends(int fd) {
    if (send_epoll < 0) return;
    send_end ends[64];
    uint32_t n;
    do {
        pthread_mutex_lock(&send_lock);
        n = take_sends_locked(fd, serve_closing, ends, 64);
        if (!waiting_sends_locked(fd)) epoll_ctl(send_epoll, EPOLL_CTL_DEL, fd, NULL);
        pthread_mutex_unlock(&send_lock);
        report_sends(ends, n);
    } while (n == 64);
}

static int32_t stream_set_nonblocking(VL_SOCKET s, int32_t on) {
    int f = fcntl((int)s, F_GETFL);
    if (f < 0 || fcntl((int)s, F_SETFL, on ? f | O_NONBLOCK : f & ~O_NONBLOCK) != 0) return wsa_from_errno(errno);
    return 0;
}

#define MAX_IOV 1024 /* IOV_MAX: as many WSABUFs as the kernel takes in one call */

#define MAX_DESTINATIONS 64

/* One sendmmsg for all destinations (a broadcast to 64 instances is one syscall). */
static int32_t send_frame(VL_SOCKET s, const void *header, uint32_t header_length,
                          const VL_WSABUF *buffers, uint32_t count, const uint16_t *real_ports, uint32_t port_count) {
    if (count + 1 > MAX_IOV) return -VL_WSAENOBUFS;
    struct iovec iov[MAX_IOV];
    iov[0].iov_base = (void *)header;
    iov[0].iov_len = header_length;
    for (uint32_t i = 0; i < count; i++) {
        iov[i + 1].iov_base = buffers[i].buf;
        iov[i + 1].iov_len = buffers[i].len;
    }
    int32_t sent = 0, error = 0;
    for (uint32_t start = 0; start < port_count; start += MAX_DESTINATIONS) {
        uint32_t batch = port_count - start < MAX_DESTINATIONS ? port_count - start : MAX_DESTINATIONS;
        struct sockaddr_in to[MAX_DESTINATIONS];
        struct mmsghdr messages[MAX_DESTINATIONS];
        for (uint32_t i = 0; i < batch; i++) {
            to[i] = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(real_ports[start + i]),
                                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
            messages[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &to[i], .msg_namelen = sizeof to[i],
                                                         .msg_iov = iov, .msg_iovlen = count + 1 } };
        }
        for (uint32_t done = 0; done < batch;) {
            int n = sendmmsg((int)s, messages + done, batch - done, MSG_NOSIGNAL);
            if (n > 0) { done += (uint32_t)n; sent += n; continue; }
            if (n < 0 && errno == EINTR) continue;
            /* A receiver that went away answers with ICMP: to the sender that is not an error;
             * skip that one. Anything else is reported if nothing at all was sent. */
            if (n < 0 && errno != ECONNREFUSED && !error) error = wsa_from_errno(errno);
            done++;
        }
    }
    return sent > 0 || !error ? sent : -error;
}

static int32_t receive(int fd, void *header, const VL_WSABUF *buffers, uint32_t count, int flags, vl_received *r) {
    if (count + 1 > MAX_IOV) return VL_WSAENOBUFS;
    struct iovec iov[MAX_IOV];
    iov[0].iov_base = header;
    iov[0].iov_len = 16;
    size_t capacity = 16;
    for (uint32_t i = 0; i < count; i++) {
        iov[i + 1].iov_base = buffers[i].buf;
        iov[i + 1].iov_len = buffers[i].len;
        capacity += buffers[i].len;
    }
    struct sockaddr_in from;
    struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = iov, .msg_iovlen = count + 1 };
    for (;;) {
        /* MSG_TRUNC: the return value is the datagram's real length even when cut. */
        ssize_t n = recvmsg(fd, &m, flags | MSG_TRUNC);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return wsa_from_errno(errno);
        r->length = (uint32_t)n;
        r->copied = (uint32_t)((size_t)n < capacity ? (size_t)n : capacity);
        r->real_source_port = m.msg_namelen >= sizeof from ? ntohs(from.sin_port) : 0;
        r->from_loopback = m.msg_namelen >= sizeof from && from.sin_addr.s_addr == htonl(INADDR_LOOPBACK);
        return 0;
    }
}

static int32_t receive_frame(VL_SOCKET s, void *header, const VL_WSABUF *buffers, uint32_t count,
                             int32_t flags, vl_received *r) {
    return receive((int)s, header, buffers, count,
                   (flags & VL_RECEIVE_BLOCKING ? 0 : MSG_DONTWAIT) | (flags & VL_RECEIVE_PEEK ? MSG_PEEK : 0), r);
}

static int32_t peek_frame(VL_SOCKET s, void *header, vl_received *r) {
    return receive((int)s, header, NULL, 0, MSG_PEEK | MSG_DONTWAIT, r);
}

static int32_t set_receive_buffer(VL_SOCKET s, int32_t bytes) {
    return setsockopt((int)s, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes) == 0 ? 0 : wsa_from_errno(errno);
}

/* Winsock (level, name) -> Linux, for the few options the tests hand on; others: WSAENOPROTOOPT. */
static int linux_option(int32_t level, int32_t name, int *linux_level, int *linux_name) {
    static const struct { int32_t level, name; int linux_level, linux_name; } map[] = {
        { 0xFFFF, 0x0010, SOL_SOCKET, SO_DONTROUTE }, { 0xFFFF, 0x0008, SOL_SOCKET, SO_KEEPALIVE },
        { 0, 4, IPPROTO_IP, IP_TTL }, { 0, 3, IPPROTO_IP, IP_TOS },
        { 0xFFFF, 0x1007, SOL_SOCKET, SO_ERROR }, { 6, 1, IPPROTO_TCP, TCP_NODELAY },
        { 0, 10, IPPROTO_IP, IP_MULTICAST_TTL }, { 0, 11, IPPROTO_IP, IP_MULTICAST_LOOP }, { 0, 19, IPPROTO_IP, IP_PKTINFO },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (map[i].level == level && map[i].name == name) { *linux_level = map[i].linux_level; *linux_name = map[i].linux_name; return 1; }
    return 0;
}

/* Linux has no WSAEventSelect: accepted, nothing is signalled (the tests check the socket's
 * state: non-blocking, FIONBIO refused; the events themselves are the Win32 backend's). */
static int32_t event_select(VL_SOCKET s, VL_WSAEVENT event, int32_t events) {
    (void)s; (void)event; (void)events;
    return 0;
}

static int32_t async_select(VL_SOCKET s, void *window, uint32_t message, int32_t events) {
    (void)s; (void)window; (void)message; (void)events;
    return 0;
}

static int32_t option_get(VL_SOCKET s, int32_t level, int32_t name, void *value, int32_t *length) {
    int l, n;
    if (!linux_option(level, name, &l, &n)) return VL_WSAENOPROTOOPT;
    if (*length < 4) return VL_WSAEFAULT;
    int number = 0;
    socklen_t size = sizeof number;
    if (getsockopt((int)s, l, n, &number, &size) != 0) return wsa_from_errno(errno);
    /* A stream's pending error, as Winsock names it. */
    if (n == SO_ERROR && l == SOL_SOCKET && number) number = number == ECONNREFUSED ? VL_WSAECONNREFUSED : wsa_from_errno(number);
    memcpy(value, &number, 4);
    *length = 4;
    return 0;
}

static int32_t option_set(VL_SOCKET s, int32_t level, int32_t name, const void *value, int32_t length) {
    int l, n;
    if (!linux_option(level, name, &l, &n)) return VL_WSAENOPROTOOPT;
    if (length < 4) return VL_WSAEFAULT;
    int number;
    memcpy(&number, value, 4);
    return setsockopt((int)s, l, n, &number, sizeof number) == 0 ? 0 : wsa_from_errno(errno);
}

static int32_t wait_sockets(const VL_SOCKET *sockets, uint32_t count, const uint8_t *interest, uint8_t *ready, int32_t timeout_ms) {
    struct pollfd stack[64];
    struct pollfd *fds = count <= 64 ? stack : calloc(count, sizeof *fds);
    if (!fds) return -VL_WSAENOBUFS;
    for (uint32_t i = 0; i < count; i++) {
        short events = 0;
        if (interest[i] & VL_WAIT_READ) events |= POLLIN;
        if (interest[i] & VL_WAIT_WRITE) events |= POLLOUT;
        if (interest[i] & VL_WAIT_EXCEPT) events |= POLLPRI;
        fds[i] = (struct pollfd){ .fd = (int)sockets[i], .events = events };
    }
    int n;
    do n = poll(fds, count, timeout_ms); while (n < 0 && errno == EINTR);
    int32_t result = n < 0 ? -wsa_from_errno(errno) : 0;
    for (uint32_t i = 0; n > 0 && i < count; i++) {
        if (fds[i].revents & POLLNVAL) { result = -VL_WSAENOTSOCK; break; }
        short r = fds[i].revents;
        ready[i] = (uint8_t)(((interest[i] & VL_WAIT_READ) && (r & (POLLIN | POLLHUP | POLLERR)) ? VL_WAIT_READ : 0)
                           | ((interest[i] & VL_WAIT_WRITE) && (r & (POLLOUT | POLLERR)) ? VL_WAIT_WRITE : 0)
                           | ((interest[i] & VL_WAIT_EXCEPT) && (r & POLLPRI) ? VL_WAIT_EXCEPT : 0));
        result += ready[i] != 0;
    }
    if (n == 0) memset(ready, 0, count);
    if (fds != stack) free(fds);
    return result;
}

/* Winsock's WSAPoll bits to Linux's and back. */
static const struct { short winsock, linux_bit; } poll_bits[] = {
    { VL_POLLRDNORM, POLLIN }, { VL_POLLRDBAND, POLLRDBAND }, { VL_POLLPRI, POLLPRI }, { VL_POLLWRNORM, POLLOUT },
    { VL_POLLWRBAND, POLLWRBAND }, { VL_POLLERR, POLLERR }, { VL_POLLHUP, POLLHUP }, { VL_POLLNVAL, POLLNVAL },
};

static int32_t poll_sockets(VL_WSAPOLLFD *fds, uint32_t count, int32_t timeout_ms) {
    struct pollfd stack[64];
    struct pollfd *p = count <= 64 ? stack : calloc(count, sizeof *p);
    if (!p) return -VL_WSAENOBUFS;
    for (uint32_t i = 0; i < count; i++) {
        p[i] = (struct pollfd){ .fd = (int)fds[i].fd };
        for (size_t b = 0; b < sizeof poll_bits / sizeof poll_bits[0]; b++)
            if (fds[i].events & poll_bits[b].winsock) p[i].events |= poll_bits[b].linux_bit;
    }
    int n;
    do n = poll(p, count, timeout_ms); while (n < 0 && errno == EINTR);
    for (uint32_t i = 0; n >= 0 && i < count; i++) {
        fds[i].revents = 0;
        for (size_t b = 0; b < sizeof poll_bits / sizeof poll_bits[0]; b++)
            if (p[i].revents & poll_bits[b].linux_bit) fds[i].revents |= poll_bits[b].winsock;
    }
    if (p != stack) free(p);
    return n < 0 ? -wsa_from_errno(errno) : n;
}

/* ---- readiness thread (overlapped receives) ---- */

static pthread_once_t io_once = PTHREAD_ONCE_INIT;
static int io_epoll = -1;
static vl_ready_handler ready_handler;

static void *io_thread(void *unused) {
    (void)unused;
    struct epoll_event events[32];
    for (;;) {
        int n = epoll_wait(io_epoll, events, 32, -1);
        for (int i = 0; i < n; i++)
            if (ready_handler) ready_handler((VL_SOCKET)events[i].data.u64);
    }
    return NULL;
}

/* A thread nobody joins (the readiness and send threads live as long as the process). */
static void start_detached(void *(*body)(void *)) {
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_create(&thread, &attr, body, NULL);
    pthread_attr_destroy(&attr);
}

static void io_start(void) {
    io_epoll = epoll_create1(EPOLL_CLOEXEC);
    start_detached(io_thread);
}

static void set_ready_handler(vl_ready_handler handler) { ready_handler = handler; }

static int32_t watch_readable(VL_SOCKET s) {
    pthread_once(&io_once, io_start);
    struct epoll_event e = { .events = EPOLLIN | EPOLLONESHOT, .data.u64 = s };
    if (epoll_ctl(io_epoll, EPOLL_CTL_MOD, (int)s, &e) == 0) return 0;
    if (errno == ENOENT && epoll_ctl(io_epoll, EPOLL_CTL_ADD, (int)s, &e) == 0) return 0;
    return wsa_from_errno(errno);
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

static uintptr_t current_thread(void) { return (uintptr_t)pthread_self(); }

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
        set_last_error(VL_WSA_INVALID_PARAMETER);
        return VL_WSA_WAIT_FAILED;
    }
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) { deadline.tv_sec++; deadline.tv_nsec -= 1000000000L; }
    uintptr_t self = current_thread();

    pthread_mutex_lock(&event_lock);
    uint32_t result;
    for (;;) {
        uint32_t signaled = 0, first = count;
        for (uint32_t i = 0; i < count; i++) {
            event *e = handles[i];
            if (!is_live(e)) {
                pthread_mutex_unlock(&event_lock);
                set_last_error(VL_WSA_INVALID_HANDLE);
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

static void init_monotonic_cond(void) {
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

/* ---- locks, timers, time, processes ---- */

static void *mutex_create(void) {
    pthread_mutex_t *m = malloc(sizeof *m);
    if (m) pthread_mutex_init(m, NULL);
    return m;
}
static void mutex_lock(void *m) { pthread_mutex_lock(m); }
static void mutex_unlock(void *m) { pthread_mutex_unlock(m); }

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

static uint32_t now_ms(void) {
    struct timespec now;
    /* CLOCK_MONOTONIC_RAW: the clock Wine's QueryPerformanceCounter reads, so heartbeats of
     * Linux and Windows instances are comparable. */
    clock_gettime(CLOCK_MONOTONIC_RAW, &now);
    return (uint32_t)((uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u);
}

static uint32_t process_id(void) { return (uint32_t)getpid(); }

static int32_t is_process_alive(uint32_t pid, uint32_t kind) {
    /* OwnerKind.linux, or .remote (its pid is the bridge's, a Linux process) */
    if ((kind != 1 && kind != 3) || pid == 0) return -1;
    if (kill((pid_t)pid, 0) == 0 || errno == EPERM) return 1;
    return errno == ESRCH ? 0 : -1;
}

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

static const vl_platform linux_platform = {
    .udp_open = udp_open, .socket_shutdown = socket_shutdown, .socket_close = socket_close,
    .send_frame = send_frame, .receive_frame = receive_frame, .peek_frame = peek_frame,
    .tcp_open = tcp_open, .stream_bind = stream_bind, .stream_listen = stream_listen, .stream_listen_silent = stream_listen_silent, .stream_accept = stream_accept, .stream_accept_into = stream_accept_into,
    .stream_connect = stream_connect, .stream_is_connected = stream_is_connected, .stream_send = stream_send,
    .stream_receive = stream_receive, .stream_send_overlapped = stream_send_overlapped, .set_send_handler = set_send_handler, .stream_set_nonblocking = stream_set_nonblocking, .stream_bytes_readable = stream_bytes_readable,
    .set_receive_buffer = set_receive_buffer, .option_get = option_get, .option_set = option_set, .event_select = event_select, .async_select = async_select,
    .wsarecvmsg_entry = (void *)vl_hook_WSARecvMsg, .wsasendmsg_entry = (void *)vl_hook_WSASendMsg,
    .connectex_entry = (void *)vl_hook_ConnectEx, .acceptex_entry = (void *)vl_hook_AcceptEx,
    .getacceptexsockaddrs_entry = (void *)vl_hook_GetAcceptExSockaddrs, .call_accept_condition = call_accept_condition,
    .wait_sockets = wait_sockets, .poll_sockets = poll_sockets, .watch_readable = watch_readable, .set_ready_handler = set_ready_handler,
    .event_create = event_create, .event_close = event_close, .event_set = event_set,
    .event_reset = event_reset, .event_wait = event_wait,
    .current_thread = current_thread, .queue_completion = queue_completion,
    .port_open = port_open, .post_completion = post_completion,
    .winsock_startup = winsock_startup, .winsock_cleanup = winsock_cleanup,
    .get_last_error = get_last_error, .set_last_error = set_last_error,
    .mutex_create = mutex_create, .mutex_lock = mutex_lock, .mutex_unlock = mutex_unlock,
    .timer_start = timer_start, .timer_stop = timer_stop,
    .now_ms = now_ms, .process_id = process_id, .owner_kind = 1, .is_process_alive = is_process_alive,
    .get_env = get_env, .default_registry_path = default_registry_path,
    .registry_map = registry_map, .registry_unlock = registry_unlock, .registry_unmap = registry_unmap,
    .log_line = log_line, .report_error = report_error, .global_lock = global_lock, .global_unlock = global_unlock,
};

static pthread_once_t platform_once = PTHREAD_ONCE_INIT;

const vl_platform *vl_default_platform(void) {
    pthread_once(&platform_once, init_monotonic_cond);
    return &linux_platform;
}
#endif
