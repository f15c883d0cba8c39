/* The Linux backend's accepts: accept, the accept onto a given socket that AcceptEx makes,
 * and WSAAccept with a condition function. Winsock keeps a connection its condition
 * deferred (CF_DEFER) for the listener's next accept of any kind; Linux cannot put an
 * accepted connection back, so the one a listener deferred waits here, accepted already,
 * and every accept of that listener takes it first (as Wine's server does with
 * `deferred`). One per listener: a second deferral closes the first, as Wine's does. */
#if defined(__linux__)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include "platform.h"
#include "linux_parts.h"

enum { deferred_capacity = 16 };
static pthread_mutex_t deferred_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { int listener, fd; uint16_t port; } deferred[deferred_capacity];
static int deferred_count;

/* The connection `listener` deferred, taken out: 1, or 0 when none waits. */
static int take_deferred(int listener, int *fd, uint16_t *port) {
    int found = 0;
    pthread_mutex_lock(&deferred_lock);
    for (int i = 0; i < deferred_count && !found; i++) {
        if (deferred[i].listener != listener) continue;
        *fd = deferred[i].fd;
        *port = deferred[i].port;
        deferred[i] = deferred[--deferred_count];
        found = 1;
    }
    pthread_mutex_unlock(&deferred_lock);
    return found;
}

int vl_linux_has_deferred(VL_SOCKET listener) {
    int found = 0;
    pthread_mutex_lock(&deferred_lock);
    for (int i = 0; i < deferred_count; i++) found |= deferred[i].listener == (int)listener;
    pthread_mutex_unlock(&deferred_lock);
    return found;
}

/* Keeps `fd` for the listener's next accept; WSAENOBUFS when every place is taken. */
static int32_t defer_connection(int listener, int fd, uint16_t port) {
    int earlier = -1;
    (void)take_deferred(listener, &earlier, &(uint16_t){ 0 });
    if (earlier >= 0) close(earlier);
    pthread_mutex_lock(&deferred_lock);
    int kept = deferred_count < deferred_capacity;
    if (kept) deferred[deferred_count++] = (typeof(deferred[0])){ listener, fd, port };
    pthread_mutex_unlock(&deferred_lock);
    if (!kept) close(fd);
    return kept ? VL_WSATRY_AGAIN : VL_WSAENOBUFS;
}

void vl_linux_drop_deferred(int listener) {
    int fd;
    uint16_t port;
    while (take_deferred(listener, &fd, &port)) close(fd);
}

static void set_blocking_as(int fd, int nonblocking) {
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, nonblocking ? flags | O_NONBLOCK : flags & ~O_NONBLOCK);
}

static int32_t stream_accept(VL_SOCKET s, VL_SOCKET *accepted, uint16_t *real_peer_port) {
    int nonblocking = fcntl((int)s, F_GETFL) & O_NONBLOCK;
    int fd;
    if (take_deferred((int)s, &fd, real_peer_port)) {
        set_blocking_as(fd, nonblocking);
        *accepted = (VL_SOCKET)fd;
        return 0;
    }
    struct sockaddr_in from;
    socklen_t length = sizeof from;
    do fd = accept4((int)s, (struct sockaddr *)&from, &length, SOCK_CLOEXEC); while (fd < 0 && errno == EINTR);
    if (fd < 0) return vl_linux_wsa_error(errno);
    set_blocking_as(fd, nonblocking);
    *accepted = (VL_SOCKET)fd;
    *real_peer_port = ntohs(from.sin_port);
    return 0;
}

/* Linux's accept passes no selection on (the tests' event selection is the layer's own);
 * the listener with selected events is non-blocking, and so is the accept. */
static int32_t stream_accept_unselected(VL_SOCKET s, VL_SOCKET *accepted, uint16_t *real_peer_port) {
    return stream_accept(s, accepted, real_peer_port);
}

/* The accepted descriptor takes the game socket's number (dup3), with that socket's
 * blocking mode; the game's socket, never used for anything before, closes with it. */
int32_t vl_linux_accept_into(VL_SOCKET s, VL_SOCKET into, uint16_t *real_peer_port) {
    int nonblocking = fcntl((int)into, F_GETFL) & O_NONBLOCK;
    int fd;
    uint16_t port;
    if (!take_deferred((int)s, &fd, &port)) {
        struct sockaddr_in from;
        socklen_t length = sizeof from;
        do fd = accept4((int)s, (struct sockaddr *)&from, &length, SOCK_CLOEXEC | SOCK_NONBLOCK); while (fd < 0 && errno == EINTR);
        if (fd < 0) return errno == EAGAIN ? VL_WSAEWOULDBLOCK : vl_linux_wsa_error(errno);
        port = ntohs(from.sin_port);
    }
    set_blocking_as(fd, nonblocking);
    int moved = dup3(fd, (int)into, O_CLOEXEC);
    int error = errno;
    close(fd);
    if (moved < 0) return vl_linux_wsa_error(error);
    *real_peer_port = port;
    return 0;
}

/* Wine's WSAAccept: accept (a deferred connection first), then the condition decides. */
static int32_t stream_accept_conditional(VL_SOCKET s, VL_SOCKET *accepted, uint16_t *real_peer_port,
                                         int32_t (*decide)(void *, uint16_t, uint32_t *), void *context) {
    int32_t error = stream_accept(s, accepted, real_peer_port);
    if (error) return error;
    uint32_t group = 0;
    int32_t verdict = decide(context, *real_peer_port, &group);
    if (verdict == 0) return 0;  /* CF_ACCEPT */
    if (verdict == 2) return defer_connection((int)s, (int)*accepted, *real_peer_port);
    close((int)*accepted);
    return verdict == 1 ? VL_WSAECONNREFUSED : VL_WSAEINVAL;  /* CF_REJECT, or an answer Windows does not know */
}

static int32_t call_accept_condition(void *condition, VL_WSABUF *caller, VL_WSABUF *callee, uint32_t *group, uintptr_t data) {
    typedef int32_t (*condition_fn)(VL_WSABUF *, VL_WSABUF *, void *, void *, VL_WSABUF *, VL_WSABUF *, uint32_t *, uintptr_t);
    return ((condition_fn)condition)(caller, NULL, NULL, NULL, callee, NULL, group, data);
}

/* This file's entries of the table. */
void vl_linux_fill_accepts(vl_platform *p) {
    p->stream_accept = stream_accept; p->stream_accept_unselected = stream_accept_unselected;
    p->stream_accept_conditional = stream_accept_conditional; p->call_accept_condition = call_accept_condition;
}
#endif
