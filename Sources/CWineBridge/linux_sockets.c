/* The Linux backend's sockets: virtual sockets' backing UDP and TCP sockets on 127.0.0.1,
 * their options, select/WSAPoll on them, and the readiness thread (one epoll) that tells
 * the layer when a socket with overlapped receives has something to read. */
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

/* ---- backing sockets ---- */

static int32_t udp_open(VL_SOCKET *out, uint16_t *real_port) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return vl_linux_wsa_error(errno);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t length = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &length) != 0) {
        int e = errno;
        close(fd);
        return vl_linux_wsa_error(e);
    }
    *out = (VL_SOCKET)fd;
    *real_port = ntohs(a.sin_port);
    return 0;
}

static void socket_shutdown(VL_SOCKET s) { shutdown((int)s, SHUT_RDWR); }
static void socket_close(VL_SOCKET s) {
    vl_linux_drop_deferred((int)s);
    vl_linux_cancel_io((int)s);
    close((int)s);
}

/* ---- virtual TCP's backing streams ---- */

static int32_t stream_bytes_readable(VL_SOCKET s, uint32_t *bytes) {
    int n = 0;
    if (ioctl((int)s, FIONREAD, &n) != 0) return vl_linux_wsa_error(errno);
    *bytes = (uint32_t)n;
    return 0;
}

static int32_t tcp_open(VL_SOCKET *out) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return vl_linux_wsa_error(errno);
    *out = (VL_SOCKET)fd;
    return 0;
}

static int32_t stream_bind(VL_SOCKET s, uint16_t *real_port) {
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t length = sizeof a;
    if (bind((int)s, (struct sockaddr *)&a, sizeof a) != 0 || getsockname((int)s, (struct sockaddr *)&a, &length) != 0)
        return vl_linux_wsa_error(errno);
    *real_port = ntohs(a.sin_port);
    return 0;
}

/* The game's backlog is not the real one: the listener's queue never refuses a virtual
 * connection the game has not accepted yet (its connect waits for the handshake). */
static int32_t stream_listen(VL_SOCKET s) { return listen((int)s, SOMAXCONN) == 0 ? 0 : vl_linux_wsa_error(errno); }
/* Winsock's SD_RECEIVE, SD_SEND, SD_BOTH are Linux's SHUT_RD, SHUT_WR, SHUT_RDWR. */
static int32_t stream_shutdown(VL_SOCKET s, int32_t how) { return shutdown((int)s, how) == 0 ? 0 : vl_linux_wsa_error(errno); }
static int32_t stream_listen_silent(VL_SOCKET s) { return listen((int)s, 0) == 0 ? 0 : vl_linux_wsa_error(errno); }

int32_t vl_linux_peer_port(VL_SOCKET s, uint16_t *real_peer_port) {
    struct sockaddr_in peer;
    socklen_t length = sizeof peer;
    if (getpeername((int)s, (struct sockaddr *)&peer, &length) != 0) return vl_linux_wsa_error(errno);
    *real_peer_port = ntohs(peer.sin_port);
    return 0;
}

static int32_t stream_connect(VL_SOCKET s, uint32_t address, uint16_t port) {
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = address };
    if (connect((int)s, (struct sockaddr *)&to, sizeof to) == 0) return 0;
    return errno == ECONNREFUSED ? VL_WSAECONNREFUSED : vl_linux_wsa_error(errno);
}

static int32_t stream_is_connected(VL_SOCKET s) {
    struct sockaddr_in peer;
    socklen_t length = sizeof peer;
    return getpeername((int)s, (struct sockaddr *)&peer, &length) == 0;
}

int vl_linux_stream_flags(int32_t flags) {
    return (flags & VL_MSG_OOB ? MSG_OOB : 0) | (flags & VL_MSG_PEEK ? MSG_PEEK : 0) | (flags & VL_MSG_WAITALL ? MSG_WAITALL : 0);
}

static int32_t stream_io(VL_SOCKET s, const VL_WSABUF *buffers, uint32_t count, int32_t flags, uint32_t *done, int sending) {
    if (count > 1024) return VL_WSAENOBUFS;
    struct iovec iov[1024];
    for (uint32_t i = 0; i < count; i++) { iov[i].iov_base = buffers[i].buf; iov[i].iov_len = buffers[i].len; }
    struct msghdr m = { .msg_iov = iov, .msg_iovlen = count };
    for (;;) {
        ssize_t n = sending ? sendmsg((int)s, &m, vl_linux_stream_flags(flags) | MSG_NOSIGNAL) : recvmsg((int)s, &m, vl_linux_stream_flags(flags));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return vl_linux_wsa_error(errno);
        *done = (uint32_t)n;
        return 0;
    }
}

static int32_t stream_send(VL_SOCKET s, const VL_WSABUF *buffers, uint32_t count, int32_t flags, uint32_t *done) {
    return stream_io(s, buffers, count, flags, done, 1);
}

/* Linux answers a reset itself, to the first receive after it: `waited` changes nothing. */
static int32_t stream_receive(VL_SOCKET s, const VL_WSABUF *buffers, uint32_t count, int32_t flags, int32_t waited, uint32_t *done) {
    (void)waited;
    return stream_io(s, buffers, count, flags, done, 0);
}


/* Linux's answer (EDESTADDRREQ for both) is not Winsock's: the test backend stands in for
 * Windows, whose answers these are. */
static int32_t unaddressed_send_error(VL_SOCKET s, int32_t flags, int32_t as_sendto) {
    (void)s; (void)flags;
    return as_sendto ? VL_WSAEDESTADDRREQ : VL_WSAENOTCONN;
}

/* Linux would say EAGAIN; the test backend stands in for Windows, which says WSAEINVAL. */
static int32_t unbound_receive_error(int32_t flags) {
    (void)flags;
    return VL_WSAEINVAL;
}

static int32_t stream_set_nonblocking(VL_SOCKET s, int32_t on) {
    int f = fcntl((int)s, F_GETFL);
    if (f < 0 || fcntl((int)s, F_SETFL, on ? f | O_NONBLOCK : f & ~O_NONBLOCK) != 0) return vl_linux_wsa_error(errno);
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
            if (n < 0 && errno != ECONNREFUSED && !error) error = vl_linux_wsa_error(errno);
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
        if (n < 0) return vl_linux_wsa_error(errno);
        r->length = (uint32_t)n;
        r->copied = (uint32_t)((size_t)n < capacity ? (size_t)n : capacity);
        r->real_source_port = m.msg_namelen >= sizeof from ? ntohs(from.sin_port) : 0;
        r->from_loopback = m.msg_namelen >= sizeof from && from.sin_addr.s_addr == htonl(INADDR_LOOPBACK);
        return 0;
    }
}

static int32_t receive_frame(VL_SOCKET s, void *header, const VL_WSABUF *buffers, uint32_t count,
                             int32_t flags, uint32_t timeout_ms, vl_received *r) {
    int peek = flags & VL_RECEIVE_PEEK ? MSG_PEEK : 0;
    if (!(flags & VL_RECEIVE_BLOCKING)) return receive((int)s, header, buffers, count, MSG_DONTWAIT | peek, r);
    if (!timeout_ms) return receive((int)s, header, buffers, count, peek, r);
    /* Bounded: wait for it, then take it without waiting (another thread may have). */
    uint32_t deadline = vl_linux_now_ms() + timeout_ms;
    for (;;) {
        int32_t remaining = (int32_t)(deadline - vl_linux_now_ms());
        if (remaining <= 0) return VL_WSAETIMEDOUT;
        struct pollfd one = { .fd = (int)s, .events = POLLIN };
        int ready = poll(&one, 1, remaining);
        if (ready < 0 && errno != EINTR) return vl_linux_wsa_error(errno);
        if (ready <= 0) continue;
        int32_t e = receive((int)s, header, buffers, count, MSG_DONTWAIT | peek, r);
        if (e != VL_WSAEWOULDBLOCK) return e;
    }
}

static int32_t peek_frame(VL_SOCKET s, void *header, vl_received *r) {
    return receive((int)s, header, NULL, 0, MSG_PEEK | MSG_DONTWAIT, r);
}

static int32_t set_receive_buffer(VL_SOCKET s, int32_t bytes) {
    return setsockopt((int)s, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes) == 0 ? 0 : vl_linux_wsa_error(errno);
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

/* Whether the descriptor has a peer (the tests' stand-in for the OS's answer). */
static int32_t peer_name(VL_SOCKET s, void *name, int32_t *length) {
    struct sockaddr_storage peer;
    socklen_t size = sizeof peer;
    if (!name || !length) return VL_WSAEFAULT;
    return getpeername((int)s, (struct sockaddr *)&peer, &size) == 0 ? 0 : VL_WSAENOTCONN;
}

/* getsockname of a descriptor in Winsock's layout: IPv4 (family 2, port, address) or IPv6
 * (family 23, port, flow info, address, scope). One not bound is WSAEINVAL, as Windows
 * answers (Linux names it with port 0). */
static int32_t local_name(VL_SOCKET s, void *name, int32_t *length) {
    struct sockaddr_storage local;
    socklen_t size = sizeof local;
    if (!name || !length) return VL_WSAEFAULT;
    if (getsockname((int)s, (struct sockaddr *)&local, &size) != 0) return VL_WSAENOTSOCK;
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)&local;
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&local;
    int ipv4 = local.ss_family == AF_INET;
    if (!ipv4 && local.ss_family != AF_INET6) return VL_WSAEAFNOSUPPORT;
    uint16_t port = ipv4 ? v4->sin_port : v6->sin6_port;
    if (port == 0) return VL_WSAEINVAL;
    int32_t total = ipv4 ? 16 : 28;
    if (*length < total) return VL_WSAEFAULT;
    uint16_t family = ipv4 ? VL_AF_INET : VL_AF_INET6;
    uint8_t *out = name;
    memset(out, 0, (size_t)total);
    memcpy(out, &family, 2);
    memcpy(out + 2, &port, 2);
    if (ipv4) memcpy(out + 4, &v4->sin_addr, 4);
    else memcpy(out + 8, &v6->sin6_addr, 16);
    *length = total;
    return 0;
}

static int32_t ioctl_original(VL_SOCKET s, uint32_t code, void *input, uint32_t input_length,
                              void *output, uint32_t output_length, uint32_t *returned) {
    (void)s; (void)code; (void)input; (void)input_length; (void)output; (void)output_length; (void)returned;
    return VL_WSAEOPNOTSUPP;
}

static int32_t option_get(VL_SOCKET s, int32_t level, int32_t name, void *value, int32_t *length) {
    int l, n;
    if (!linux_option(level, name, &l, &n)) return VL_WSAENOPROTOOPT;
    if (!value || !length || *length < 4) return VL_WSAEFAULT;
    int number = 0;
    socklen_t size = sizeof number;
    if (getsockopt((int)s, l, n, &number, &size) != 0) return vl_linux_wsa_error(errno);
    /* A stream's pending error, as Winsock names it. */
    if (n == SO_ERROR && l == SOL_SOCKET && number) number = number == ECONNREFUSED ? VL_WSAECONNREFUSED : vl_linux_wsa_error(number);
    memcpy(value, &number, 4);
    *length = 4;
    return 0;
}

static int32_t option_set(VL_SOCKET s, int32_t level, int32_t name, const void *value, int32_t length) {
    int l, n;
    if (!linux_option(level, name, &l, &n)) return VL_WSAENOPROTOOPT;
    if (!value || length < 4) return VL_WSAEFAULT;
    int number;
    memcpy(&number, value, 4);
    return setsockopt((int)s, l, n, &number, sizeof number) == 0 ? 0 : vl_linux_wsa_error(errno);
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
    int32_t result = n < 0 ? -vl_linux_wsa_error(errno) : 0;
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
    return n < 0 ? -vl_linux_wsa_error(errno) : n;
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
void vl_linux_start_detached(void *(*body)(void *)) {
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_create(&thread, &attr, body, NULL);
    pthread_attr_destroy(&attr);
}

static void io_start(void) {
    io_epoll = epoll_create1(EPOLL_CLOEXEC);
    vl_linux_start_detached(io_thread);
}

static void set_ready_handler(vl_ready_handler handler) { ready_handler = handler; }

static int32_t watch_readable(VL_SOCKET s) {
    pthread_once(&io_once, io_start);
    struct epoll_event e = { .events = EPOLLIN | EPOLLONESHOT, .data.u64 = s };
    if (epoll_ctl(io_epoll, EPOLL_CTL_MOD, (int)s, &e) == 0) return 0;
    if (errno == ENOENT && epoll_ctl(io_epoll, EPOLL_CTL_ADD, (int)s, &e) == 0) return 0;
    return vl_linux_wsa_error(errno);
}


/* This file's entries of the table. */
void vl_linux_fill_sockets(vl_platform *p) {
    p->udp_open = udp_open; p->socket_shutdown = socket_shutdown; p->socket_close = socket_close;
    p->send_frame = send_frame; p->receive_frame = receive_frame; p->peek_frame = peek_frame;
    p->unaddressed_send_error = unaddressed_send_error; p->unbound_receive_error = unbound_receive_error;
    p->tcp_open = tcp_open; p->stream_bind = stream_bind; p->stream_listen = stream_listen; p->stream_shutdown = stream_shutdown;
    p->stream_listen_silent = stream_listen_silent; p->stream_peer_port = vl_linux_peer_port;
    p->stream_connect = stream_connect; p->stream_is_connected = stream_is_connected; p->stream_send = stream_send;
    p->stream_receive = stream_receive; p->stream_set_nonblocking = stream_set_nonblocking;
    p->stream_bytes_readable = stream_bytes_readable; p->set_receive_buffer = set_receive_buffer;
    p->option_get = option_get; p->option_set = option_set; p->ioctl_original = ioctl_original; p->peer_name = peer_name; p->local_name = local_name;
    p->event_select = event_select; p->async_select = async_select;
    p->wait_sockets = wait_sockets; p->poll_sockets = poll_sockets; p->watch_readable = watch_readable;
    p->set_ready_handler = set_ready_handler;
}
#endif
