/* The Platform table: every OS service the Winsock layer uses, and nothing else.
 * WinsockDetours never makes a syscall of its own. Two backends implement it: Linux
 * (BSD sockets, emulated events/overlapped; `swift test`) and Win32 (the original ws2_32
 * functions, inside the DLL). Errors are Winsock codes (VL_WSAE*), 0 = success. */
#ifndef VL_PLATFORM_H
#define VL_PLATFORM_H
#include "winsock_abi.h"

/* What one received datagram looked like. */
typedef struct vl_received {
    uint32_t length;             /* the datagram's full length on the wire (header included) */
    uint32_t copied;             /* bytes placed into header + buffers */
    uint16_t real_source_port;   /* the sender's backing port on 127.0.0.1 */
    uint16_t from_loopback;      /* 1 when the sender's real address is 127.0.0.1 */
} vl_received;

/* A mapped registry file. */
typedef struct vl_mapping {
    void *base;
    uint32_t size;
    intptr_t handle;             /* file descriptor / HANDLE, kept for locking and unmapping */
    int32_t error;               /* on failure: one of VL_MAP_* */
    int32_t os_error;            /* errno / GetLastError() of the failing call */
} vl_mapping;

enum {
    VL_MAP_OK = 0, VL_MAP_OPEN_FAILED = 1, VL_MAP_WRONG_OWNER = 2, VL_MAP_MODE_TOO_OPEN = 3,
    VL_MAP_NOT_A_FILE = 4, VL_MAP_RESIZE_FAILED = 5, VL_MAP_MAP_FAILED = 6, VL_MAP_LOCK_FAILED = 7,
    VL_MAP_UNCHECKABLE = 8,      /* under Wine: its Unix file could not be named or examined */
    VL_MAP_SWAPPED = 9,          /* under Wine: the file changed between the check and the open */
};

enum { VL_RECEIVE_BLOCKING = 1, VL_RECEIVE_PEEK = 2 };
enum { VL_WAIT_READ = 1, VL_WAIT_WRITE = 2, VL_WAIT_EXCEPT = 4 };

typedef void (*vl_ready_handler)(VL_SOCKET socket);
/* The end of an overlapped stream send or receive the OS finished later: its NTSTATUS as
 * the OS wrote it into the OVERLAPPED (the Linux emulation writes a Winsock error in the
 * layer's private range, VL_STATUS_OF_ERROR), and the bytes moved. */
typedef void (*vl_stream_handler)(void *context, uint32_t status, uint32_t bytes);
#define VL_STATUS_OF_ERROR(error) (0xE0560000u | (uint16_t)(error))
typedef void (*vl_tick)(void *context);

/* CreateProcessInternalW's arguments, as its hook got them. */
typedef struct vl_process_start {
    void *token;
    const uint16_t *application;
    uint16_t *command_line;
    void *process_attributes, *thread_attributes;
    int32_t inherit;
    uint32_t flags;
    void *environment;
    const uint16_t *directory;
    void *startup;
    VL_PROCESS_INFORMATION *information;
    void **new_token;
} vl_process_start;

typedef struct vl_platform {
    /* Backing sockets: UDP on 127.0.0.1, OS-assigned port. The handle is what the game holds. */
    int32_t (*udp_open)(VL_SOCKET *socket, uint16_t *real_port);
    /* Wakes blocked receivers (shutdown), then closes. */
    void (*socket_shutdown)(VL_SOCKET socket);
    void (*socket_close)(VL_SOCKET socket);
    /* Sends header + buffers as one datagram to each of 127.0.0.1:real_ports[0..<port_count]
     * (a broadcast is one call); returns how many were sent, or -error when none was. */
    int32_t (*send_frame)(VL_SOCKET socket, const void *header, uint32_t header_length,
                          const VL_WSABUF *buffers, uint32_t count, const uint16_t *real_ports, uint32_t port_count);
    /* A send with nowhere to go (the virtual socket is not connected and the game named no
     * address): the OS's own error for that send on the backing socket, which has no peer
     * either, so the game hears what it would hear without the layer. `as_sendto`: the call
     * had an address parameter (sendto, WSASendTo, WSASendMsg), else send or WSASend.
     * Nothing is sent (no bytes, no destination). */
    int32_t (*unaddressed_send_error)(VL_SOCKET socket, int32_t flags, int32_t as_sendto);
    /* A non-blocking receive on a UDP socket that was never bound: the OS's error for it.
     * The backing socket is bound from the start, so the question goes to a fresh UDP socket
     * of the OS's in that state, asked the same (non-blocking, `flags`), then closed. */
    int32_t (*unbound_receive_error)(int32_t flags);
    /* Receives one datagram scattered over header (16 bytes) + buffers; VL_RECEIVE_BLOCKING
     * waits for it, up to `timeout_ms` when not 0 (then VL_WSAETIMEDOUT), else
     * VL_WSAEWOULDBLOCK when nothing is queued; VL_RECEIVE_PEEK leaves it queued. The rest
     * of a too-long datagram is gone (unless peeked). */
    int32_t (*receive_frame)(VL_SOCKET socket, void *header, const VL_WSABUF *buffers, uint32_t count,
                             int32_t flags, uint32_t timeout_ms, vl_received *received);
    /* Looks at the next datagram without taking it (its header and length); never blocks. */
    int32_t (*peek_frame)(VL_SOCKET socket, void *header, vl_received *received);
    int32_t (*set_receive_buffer)(VL_SOCKET socket, int32_t bytes);
    /* An option of the backing socket itself, by Winsock's level and name: for the options
     * the layer hands on, what the OS answers for a UDP socket is the answer. 0 or the
     * Winsock error (the Linux backend knows a few, by translation: tests). */
    int32_t (*option_get)(VL_SOCKET socket, int32_t level, int32_t name, void *value, int32_t *length);
    int32_t (*option_set)(VL_SOCKET socket, int32_t level, int32_t name, const void *value, int32_t length);
    /* A WSAIoctl request the layer hands on, made synchronously on the backing socket: 0 or
     * the Winsock error, and in *returned the size as the OS left it (it may write it on a
     * failure too, or leave the value it was given). The
     * Linux backend knows no request: WSAEOPNOTSUPP. */
    /* getpeername of the backing socket, with the game's own pointers: 0 when it has a peer
     * (the layer then writes the virtual one over what the OS wrote), else the OS's error,
     * which is the answer (Wine's differs from Windows' for an unconnected or shut down
     * socket, and a program under Wine expects Wine's). */
    int32_t (*peer_name)(VL_SOCKET socket, void *name, int32_t *length);
    /* getsockname of an OS socket (an IPv6 one the layer does not virtualise, or a handle
     * that may be a copy of a backing socket): 0 or the OS's error (not bound: WSAEINVAL). */
    int32_t (*local_name)(VL_SOCKET socket, void *name, int32_t *length);
    /* WSADuplicateSocketA/W (`wide`) of the backing socket for `process`: 0 or the Winsock
     * error (the OS's checks of the process and of `info`). */
    int32_t (*duplicate_socket)(VL_SOCKET socket, uint32_t process, void *info, int32_t wide);
    /* WSASocketA/W(FROM_PROTOCOL_INFO) with such an answer: the copy in *out; 0 or the error. */
    int32_t (*socket_from_info)(void *info, int32_t wide, VL_SOCKET *out);
    /* DuplicateHandle of the backing socket from this process (else ERROR_NOT_SUPPORTED)
     * into this one or `target_process`; `options` without DUPLICATE_CLOSE_SOURCE (the layer
     * closes the source itself). The copy (its value in the target) in *out; 0 or the Win32
     * error. */
    uint32_t (*duplicate_handle)(void *source_process, VL_SOCKET socket, void *target_process, uint32_t access, int32_t inherit,
                                 uint32_t options, VL_SOCKET *out);
    /* 1 when a process this one starts with bInheritHandles gets the handle (Windows'
     * HANDLE_FLAG_INHERIT; sockets have it unless made with WSA_FLAG_NO_HANDLE_INHERIT). */
    int32_t (*handle_inheritable)(VL_SOCKET socket);
    /* Makes the handle inheritable or not (WSASocket's WSA_FLAG_NO_HANDLE_INHERIT). */
    void (*handle_set_inheritable)(VL_SOCKET socket, int32_t inheritable);
    int32_t (*ioctl_original)(VL_SOCKET socket, uint32_t code, void *input, uint32_t input_length,
                              void *output, uint32_t output_length, uint32_t *returned);
    /* Virtual TCP: a real TCP socket, unbound until the virtual one listens or connects on
     * the LAN (stream_bind: 127.0.0.1:0, the port in *real_port), in the OS's blocking mode until
     * stream_set_nonblocking changes it: every stream call below blocks, or not, as the
     * real socket does, so the OS keeps the stream's semantics (partial sends, FD_* events,
     * readiness, lingering close). Errors are Winsock codes; a refused connect is
     * WSAECONNREFUSED and one under way WSAEWOULDBLOCK, as Windows says. */
    int32_t (*tcp_open)(VL_SOCKET *socket);
    int32_t (*stream_bind)(VL_SOCKET socket, uint16_t *real_port);
    int32_t (*stream_listen)(VL_SOCKET socket);
    /* shutdown(socket, how) as the game asked it (SD_RECEIVE, SD_SEND, SD_BOTH): the OS's error. */
    int32_t (*stream_shutdown)(VL_SOCKET socket, int32_t how);
    /* listen with a backlog of 0: once one connection waits in its queue, the OS drops
     * every SYN to it (the layer's stand-in for an address where no PC answers). */
    int32_t (*stream_listen_silent)(VL_SOCKET socket);
    /* The next connection; its peer's real port on 127.0.0.1 in *real_peer_port. The new
     * socket has the listener's blocking mode (Windows: accept's socket inherits it). */
    int32_t (*stream_accept)(VL_SOCKET socket, VL_SOCKET *accepted, uint16_t *real_peer_port);
    /* The same for a listener with selected events (WSAEventSelect, WSAAsyncSelect), never
     * waiting (WSAEWOULDBLOCK: no connection waits): the new socket does not take the
     * listener's selection, which the layer gives it once it has read the preamble (the
     * preamble waiting in it would otherwise signal FD_READ to the game first). */
    int32_t (*stream_accept_unselected)(VL_SOCKET socket, VL_SOCKET *accepted, uint16_t *real_peer_port);
    /* WSAAccept, the OS's own, with a condition function of the layer's: before the
     * connection is accepted, `decide` is asked about its caller's real port on 127.0.0.1
     * and answers as a condition function does (CF_ACCEPT 0, CF_REJECT 1, CF_DEFER 2; it may
     * set the group). So a deferred connection stays the OS's, its preamble unread, and the
     * listener's next accept or AcceptEx takes it first, as on Windows. 0: accepted (as
     * stream_accept); VL_WSATRY_AGAIN: deferred; VL_WSAECONNREFUSED: rejected; else the
     * OS's error. */
    int32_t (*stream_accept_conditional)(VL_SOCKET socket, VL_SOCKET *accepted, uint16_t *real_peer_port,
                                         int32_t (*decide)(void *context, uint16_t real_peer_port, uint32_t *group), void *context);
    /* AcceptEx, the OS's own: the listener's next connection onto `into` (a socket the
     * game made), which becomes the connection under its own handle. A connection that
     * comes while it waits is its, with no FD_ACCEPT to the game. 0 and *real_peer_port:
     * accepted now; VL_WSA_IO_PENDING: the stream handler ends it (0 bytes), after which
     * stream_peer_port tells where the connection came from; else the OS's error (what it
     * refuses: a listener that does not listen, an acceptor in use...). The listener is
     * readied with stream_prepare_overlapped first. */
    int32_t (*stream_accept_overlapped)(VL_SOCKET socket, VL_SOCKET into, uint16_t *real_peer_port, void *context);
    /* The real port on 127.0.0.1 a connected backing stream's peer has. */
    int32_t (*stream_peer_port)(VL_SOCKET socket, uint16_t *real_peer_port);
    /* Connects to address:port (network-order IPv4, host-order port). */
    int32_t (*stream_connect)(VL_SOCKET socket, uint32_t address, uint16_t port);
    /* 1 when the connection is established (the peer is known), else 0. */
    int32_t (*stream_is_connected)(VL_SOCKET socket);
    /* send/recv of a stream, Winsock's flags (MSG_OOB, MSG_PEEK, MSG_WAITALL): the byte
     * count in *done (0 received: the peer closed). Never raises SIGPIPE. `waited`: the
     * layer waited for this receive's bytes (readiness, then the call), so a reset that came
     * during that wait is the receive's answer, as the OS gives it to a receive it waits in. */
    int32_t (*stream_send)(VL_SOCKET socket, const VL_WSABUF *buffers, uint32_t count, int32_t flags, uint32_t *done);
    int32_t (*stream_receive)(VL_SOCKET socket, const VL_WSABUF *buffers, uint32_t count, int32_t flags, int32_t waited,
                              uint32_t *done);
    int32_t (*stream_set_nonblocking)(VL_SOCKET socket, int32_t on);
    /* An overlapped send on a stream, as Windows makes it: all of the buffers, after the
     * socket's earlier overlapped sends, never blocking the caller whatever the socket's
     * mode. 0 and *done: sent now. VL_WSA_IO_PENDING: the handler set with
     * set_stream_handler runs on a platform thread with `context` when the last byte is
     * taken (cancelled when the socket closes first, or by stream_cancel). Else the Winsock
     * error. The buffers' bytes stay the caller's until the end (Windows' rule). */
    int32_t (*stream_send_overlapped)(VL_SOCKET socket, const VL_WSABUF *buffers, uint32_t count, int32_t flags, uint32_t *done,
                                      void *context);
    /* An overlapped receive on a stream, the OS's own: it takes the bytes that come while it
     * waits (no FD_READ is signalled for them, as none is on Windows), after the socket's
     * earlier overlapped receives. 0, *done and *flags: received now; VL_WSA_IO_PENDING:
     * the stream handler ends it as a send; else the Winsock error. */
    int32_t (*stream_receive_overlapped)(VL_SOCKET socket, const VL_WSABUF *buffers, uint32_t count, uint32_t *flags,
                                         uint32_t *done, void *context);
    /* Readies a backing stream for the two above, once, before its first (Win32: its
     * association with the layer's own completion port). */
    int32_t (*stream_prepare_overlapped)(VL_SOCKET socket);
    /* Cancels the pending overlapped send or receive started with `context` (CancelIoEx):
     * its end comes through the handler, cancelled, unless it ended first. */
    void (*stream_cancel)(VL_SOCKET socket, void *context);
    /* Returns once the stream handler has run for every overlapped operation of the socket
     * the OS has ended (its end may still be on its way to the platform's thread): so a
     * listener's AcceptEx that the OS ended before the game's next accept took a connection
     * has ended for the game too, as on Windows. */
    void (*stream_settle)(VL_SOCKET socket);
    void (*set_stream_handler)(vl_stream_handler handler);
    /* FIONREAD of a stream: the bytes queued to be received. */
    int32_t (*stream_bytes_readable)(VL_SOCKET socket, uint32_t *bytes);
    /* select() on real sockets: interest[i] and ready[i] are VL_WAIT_* bits. Waits until one
     * is ready (timeout_ms < 0: forever; 0: a look), sets ready[], returns how many are, 0
     * on timeout, or -error (WSAENOTSOCK for a handle that is no socket). The answer for a
     * socket the layer does not own is the OS's select's. */
    int32_t (*wait_sockets)(const VL_SOCKET *sockets, uint32_t count, const uint8_t *interest, uint8_t *ready, int32_t timeout_ms);
    /* WSAPoll on real sockets (Winsock's event bits): the OS's answer; returns how many have
     * events, 0 on timeout, or -error. */
    int32_t (*poll_sockets)(VL_WSAPOLLFD *fds, uint32_t count, int32_t timeout_ms);
    /* One-shot readiness: the handler set with set_ready_handler runs once, on a platform
     * thread, when `socket` has a datagram. Re-arm by calling again. */
    int32_t (*watch_readable)(VL_SOCKET socket);
    void (*set_ready_handler)(vl_ready_handler handler);
    /* The game's WSAEventSelect, on the backing socket: the OS signals `event` for the
     * network events in `events` (FD_READ when a datagram arrives, FD_WRITE). 0 or the
     * Winsock error. The Linux backend has no such events (0: accepted, nothing signalled). */
    int32_t (*event_select)(VL_SOCKET socket, VL_WSAEVENT event, int32_t events);
    /* The game's WSAAsyncSelect, on the backing socket: the OS posts `message` to `window`
     * for the network events (Linux: accepted, nothing posted, as event_select). */
    int32_t (*async_select)(VL_SOCKET socket, void *window, uint32_t message, int32_t events);
    /* The WSARecvMsg a WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER) hands out for a virtual
     * socket: vl_hook_WSARecvMsg with the platform's calling convention (WINAPI on Win32). */
    void *wsarecvmsg_entry;
    /* The same for WSASendMsg (also an export: vl_hook_WSASendMsg). */
    void *wsasendmsg_entry;
    /* The same for ConnectEx on a virtual TCP socket: vl_hook_ConnectEx. */
    void *connectex_entry;
    /* The same for AcceptEx and GetAcceptExSockaddrs on a virtual TCP socket:
     * vl_hook_AcceptEx, vl_hook_GetAcceptExSockaddrs. */
    void *acceptex_entry;
    void *getacceptexsockaddrs_entry;
    /* Calls a WSAAccept condition function (CALLBACK: stdcall on Win32) with the caller's
     * and the callee's names, no data and no QOS; its answer (CF_ACCEPT, CF_REJECT, CF_DEFER). */
    int32_t (*call_accept_condition)(void *condition, VL_WSABUF *caller, VL_WSABUF *callee, uint32_t *group, uintptr_t data);

    /* Manual-reset events (WSAEVENT). */
    VL_WSAEVENT (*event_create)(void);
    int32_t (*event_close)(VL_WSAEVENT event);     /* 1 ok, 0 invalid handle */
    int32_t (*event_set)(VL_WSAEVENT event);
    int32_t (*event_reset)(VL_WSAEVENT event);
    /* WSAWaitForMultipleEvents semantics; alertable waits run queued completion routines. */
    uint32_t (*event_wait)(uint32_t count, const VL_WSAEVENT *events, int32_t wait_all,
                           uint32_t timeout_ms, int32_t alertable);

    /* Completion routines run on the thread that started the operation, in an alertable wait. */
    uintptr_t (*current_thread)(void);
    void (*queue_completion)(uintptr_t thread, void *routine, uint32_t error, uint32_t bytes,
                             VL_OVERLAPPED *overlapped, uint32_t flags);

    /* Completion ports. The backing socket is never associated with one for real (the OS
     * would post packets of the layer's own sends and receives there): port_open gives the
     * port a virtual socket is to be associated with, a new one (port NULL) or `port`
     * checked to be one, or NULL with the Win32 error in *error; post_completion queues a
     * packet of the layer's own operations (the OVERLAPPED, its NTSTATUS and byte count),
     * as the I/O manager would. */
    void *(*port_open)(void *port, uint32_t threads, uint32_t *error);
    void (*post_completion)(void *port, uintptr_t key, VL_OVERLAPPED *overlapped, uint32_t status, uint32_t bytes);

    /* The OS's own Winsock, started and stopped in step with the game's WSAStartup and
     * WSACleanup so everything handed to it (TCP, other families) works: Win32 calls the
     * original ws2_32, which also fills `data` as Windows answers; Linux has none (0). */
    int32_t (*winsock_startup)(uint16_t version, VL_WSADATA *data);
    int32_t (*winsock_cleanup)(void);

    /* Thread-local Winsock last error. */
    int32_t (*get_last_error)(void);
    void (*set_last_error)(int32_t error);

    void *(*mutex_create)(void);
    void (*mutex_lock)(void *mutex);
    void (*mutex_unlock)(void *mutex);
    void (*mutex_destroy)(void *mutex);

    /* A timer thread that sleeps between ticks (heartbeats); stop with timer_stop. */
    void *(*timer_start)(uint32_t interval_ms, vl_tick tick, void *context);
    void (*timer_stop)(void *timer);

    uint32_t (*now_ms)(void);                      /* monotonic, wraps */
    uint32_t (*process_id)(void);
    /* The id of the process a process handle names (GetCurrentProcess()'s too); 0: none. */
    uint32_t (*process_id_of)(void *process);
    uint32_t owner_kind;                           /* VirtualIPCore.OwnerKind raw value */
    /* 1 alive, 0 dead, -1 cannot tell (a pid of another kind). */
    int32_t (*is_process_alive)(uint32_t pid, uint32_t kind);
    /* The same for a process of this system (under Wine: of this wineserver), such as one
     * this process's instance started: 1 alive, 0 ended, -1 cannot tell. */
    int32_t (*is_sibling_alive)(uint32_t pid);

    const char *(*get_env)(const char *name);
    /* Writes the default registry path (NUL-terminated) into buffer; returns its length. */
    uint32_t (*default_registry_path)(char *buffer, uint32_t capacity);
    /* Opens/creates (mode 0600, size_if_new bytes) and maps the registry file into *mapping;
     * returns 0 with the file's creation lock held (release with registry_unlock), or the
     * VL_MAP_* error (also in mapping->error). No struct is passed by value across this
     * table: Swift compiled for ELF i386 and mingw C disagree on struct returns. */
    int32_t (*registry_map)(const char *path, uint32_t size_if_new, vl_mapping *mapping);
    void (*registry_unlock)(vl_mapping *mapping);
    void (*registry_unmap)(vl_mapping *mapping);

    /* Appends one line to the log file at path (opened on first use). */
    void (*log_line)(const char *path, const char *line, uint32_t length);
    /* Tells the user about a fatal problem (stderr; on Windows also the debugger). */
    void (*report_error)(const char *line, uint32_t length);
    /* The Win32 error kernel32 reports for an NTSTATUS (GetOverlappedResult on a socket:
     * RtlNtStatusToDosError on Win32); 0 when the backend does not know it. */
    uint32_t (*dos_error)(uint32_t status);
    /* 1 when the caller's `length` bytes at `address` can be read (and written, when
     * `writable`) without a fault, 0 when not: Windows answers a bad pointer with WSAEFAULT
     * where the DLL would otherwise crash in the game's process. A length of 0 is usable. */
    int32_t (*memory_usable)(const void *address, uintptr_t length, int32_t writable);
    /* ---- processes a hooked process starts (Win32; NULL where the backend has none).
     * CreateProcessInternalW's arguments, all of them: every way to start a process (the
     * A and W functions, ShellExecute, system) comes through it. */
    /* Starts the process suspended (the original CreateProcessInternalW, CREATE_SUSPENDED
     * added): 0, or the Win32 error. */
    uint32_t (*process_start)(const struct vl_process_start *start);
    /* Loads this DLL into the started, suspended process and, when `join`, hands it the
     * instance to join (slot `index` of `generation`); then lets it run unless the caller
     * asked for it suspended. 0, or the Win32 error of the part that failed (the process
     * runs then, without the DLL: it is the caller's). */
    uint32_t (*process_follow)(VL_PROCESS_INFORMATION *information, int32_t join, uint32_t index, uint32_t generation,
                               int32_t stay_suspended);
    /* One process-wide lock for one-time set-up (creating the process's instance). */
    void (*global_lock)(void);
    void (*global_unlock)(void);
} vl_platform;

#if !defined(_WIN32)
/* Tests only: takes the next packet of a Linux backend's completion port within timeout_ms
 * (1), or none (0). */
int32_t vl_linux_port_take(void *port, int32_t timeout_ms, uintptr_t *key, VL_OVERLAPPED **overlapped,
                           uint32_t *status, uint32_t *bytes);
#endif

/* The backend of this build (Linux in `swift test`, Win32 in the DLL). */
const vl_platform *vl_default_platform(void);

#endif
