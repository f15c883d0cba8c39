/* What the parts of conformance.exe share: one check per line, and the small helpers that
 * make UDP sockets talk to themselves on 127.0.0.1 (defined in conformance.c). */
#ifndef CONFORMANCE_H
#define CONFORMANCE_H
#include <winsock2.h>

#define NOT_READABLE (-2) /* a receive not attempted: nothing arrived within a second */

void check(const char *id, const char *format, ...);
/* "0" or "-1/10048": a call's result and, on failure, its error. */
const char *rc(int result);
struct sockaddr_in address(const char *ip, unsigned short port);
SOCKET udp(void);
/* A UDP socket bound to ip:port (port 0: any), or INVALID_SOCKET. */
SOCKET bound(const char *ip, unsigned short port);
unsigned short port_of(SOCKET s);
/* Where a socket sends to itself. */
struct sockaddr_in self(SOCKET s);
int send_to(SOCKET s, struct sockaddr_in to, const char *data, int length);
/* Waits (bounded) until s is readable: 1, or 0 after a second. */
int readable(SOCKET s);
void nonblocking(SOCKET s, u_long on);
/* A receive that waits first (bounded): NOT_READABLE when nothing came. */
int recv_ready(SOCKET s, char *buffer, int length, int flags, struct sockaddr_in *from, int *from_length);
/* For a call that is meant to block: after 3 s it is ended (a datagram to the socket, or
 * the socket closed), so a call that does not end by itself shows in the outcome. */
typedef struct { SOCKET s; HANDLE disarm; int close; int fired; } watchdog;
void arm(watchdog *w, HANDLE *thread, SOCKET s, int close);
void disarm(watchdog *w, HANDLE thread);
/* recvfrom ended after 3 s (`close`: by closing the socket, else by a datagram). */
int guarded_recvfrom(SOCKET s, char *buffer, int length, int flags, int close, int *fired);

/* A WSAMSG receiving into one buffer, its sender's name into *from, control data into
 * control (control_length bytes). */
WSAMSG message_into(struct sockaddr_in *from, WSABUF *buffer, char *control, ULONG control_length);

/* One int option read back: "<rc> value=<v> length=<n>" (conformance_udp.c). */
void int_option(const char *id, SOCKET s, int level, int name);
/* The sections of conformance_udp.c. */
void datagrams(void);
void nonblocking_mode(void);
void connected(void);
void options(void);
void option_sweep(void);
/* The sections of conformance_calls.c. */
void selecting(void);
void event_select_checks(void);
void async_select_checks(void);
void wsa_calls(void);
void ioctls(void);
void recvmsg_checks(void);
void overlapped_checks(void);
void identity_checks(void);
void errors(void);
/* TCP helpers (conformance_tcp.c). */
SOCKET tcp(void);
/* A listener on 127.0.0.1:ephemeral; its address in *at. */
SOCKET listening(struct sockaddr_in *at);
const char *valid(SOCKET s);
int same(struct sockaddr_in a, struct sockaddr_in b);
/* Waits (bounded) until s is writable or has an exception: "w" / "e" / "we" / "-". */
const char *connect_outcome(SOCKET s);
int so_error(SOCKET s);
/* Receives exactly n bytes (bounded by a 2 s SO_RCVTIMEO the caller set): bytes got. */
int receive_all(SOCKET s, char *buffer, int n);
/* The sections of conformance_tcp_ex.c. */
void connect_ex(void);
void accept_ex(void);
void extensions_elsewhere(void);
void extensions_from_elsewhere(void);
void overlapped_send(void);
void overlapped_send_closed(void);
/* The section of conformance_wsaaccept.c. */
void wsa_accept(void);
/* The sections of conformance_io.c, conformance_iphlp.c and conformance_tcp.c. */
void completion_port_checks(void);
void file_checks(void);
void coexist_checks(void);
void message_checks(void);
void iphlp_checks(void);
void mixed_wait_checks(void);
/* conformance_child.c: a socket copied into a child process, and the child's own side. */
void child_checks(void);
int socket_child(const char *pipe_name);
void handle_checks(void);
void surface_checks(void);
/* conformance_pointers.c: every hooked function with bad pointers. */
void pointer_sweep(void);
void tcp_checks(void);
/* IPv4 and IPv6 on one port (conformance_dualstack.c). */
void dual_stack_checks(void);
#endif
