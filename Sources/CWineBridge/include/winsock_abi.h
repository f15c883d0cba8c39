/* Winsock ABI types with the memory layout of i686 Windows (the game's side of every hook).
 * Built for x86_64 Linux (tests) the pointer-sized fields grow; both Swift and C see the
 * same header, so the tests stay consistent. Rules (../shared/notes/toolchain.md): no
 * wchar_t, no long, no 64-bit fields (ELF i386 and Windows disagree on their alignment). */
#ifndef VL_WINSOCK_ABI_H
#define VL_WINSOCK_ABI_H
#include <stdint.h>
#include <stddef.h>

typedef uintptr_t VL_SOCKET;                 /* UINT_PTR */
#define VL_INVALID_SOCKET ((VL_SOCKET)~(uintptr_t)0)
#define VL_SOCKET_ERROR (-1)
typedef void *VL_WSAEVENT;                   /* HANDLE */

typedef struct VL_SOCKADDR_IN {
    uint16_t sin_family;                     /* AF_INET = 2 */
    uint16_t sin_port;                       /* network byte order */
    uint32_t sin_addr;                       /* network byte order */
    uint8_t sin_zero[8];
} VL_SOCKADDR_IN;

typedef struct VL_WSABUF {
    uint32_t len;                            /* ULONG */
    char *buf;
} VL_WSABUF;

typedef struct VL_WSAMSG {                   /* WSARecvMsg's message */
    VL_SOCKADDR_IN *name;
    int32_t namelen;
    VL_WSABUF *lpBuffers;
    uint32_t dwBufferCount;
    VL_WSABUF Control;
    uint32_t dwFlags;
} VL_WSAMSG;

typedef struct VL_WSACMSGHDR {               /* one control message; its data follows, aligned */
    uintptr_t cmsg_len;                      /* SIZE_T */
    int32_t cmsg_level;
    int32_t cmsg_type;
} VL_WSACMSGHDR;

typedef struct VL_IN_PKTINFO {
    uint32_t ipi_addr;                       /* network order */
    uint32_t ipi_ifindex;
} VL_IN_PKTINFO;

typedef struct VL_OVERLAPPED {
    uintptr_t Internal;                      /* NTSTATUS of the operation */
    uintptr_t InternalHigh;                  /* bytes transferred */
    uint32_t Offset;
    uint32_t OffsetHigh;
    VL_WSAEVENT hEvent;
} VL_OVERLAPPED;

/* CreateProcess's answer (PROCESS_INFORMATION), and the flag that starts a process
 * suspended (CREATE_SUSPENDED). */
typedef struct VL_PROCESS_INFORMATION {
    void *hProcess;
    void *hThread;
    uint32_t dwProcessId;
    uint32_t dwThreadId;
} VL_PROCESS_INFORMATION;
enum { VL_CREATE_SUSPENDED = 0x4 };

/* WSAPROTOCOL_INFOA/W, by offset (the same in both up to szProtocol): dwServiceFlags4
 * (Wine marks a WSADuplicateSocket copy 0xFF00FF00 there), iAddressFamily, iSocketType,
 * iProtocol, dwProviderReserved (Windows' copy), and the length before szProtocol. */
enum { VL_INFO_SERVICE_FLAGS4 = 12, VL_INFO_FAMILY = 76, VL_INFO_TYPE = 88, VL_INFO_PROTOCOL = 92,
       VL_INFO_PROVIDER_RESERVED = 112, VL_INFO_FIXED_LENGTH = 116 };

#define VL_FD_SETSIZE 64
typedef struct VL_FD_SET {
    uint32_t fd_count;                       /* u_int */
    VL_SOCKET fd_array[VL_FD_SETSIZE];
} VL_FD_SET;

typedef struct VL_WSAPOLLFD {
    VL_SOCKET fd;
    int16_t events;
    int16_t revents;
} VL_WSAPOLLFD;

/* WSAPoll's event bits (Winsock's values). */
enum { VL_POLLERR = 0x1, VL_POLLHUP = 0x2, VL_POLLNVAL = 0x4, VL_POLLWRNORM = 0x10, VL_POLLWRBAND = 0x20,
       VL_POLLRDNORM = 0x100, VL_POLLRDBAND = 0x200, VL_POLLPRI = 0x400 };

typedef struct VL_TIMEVAL {
    int32_t tv_sec;                          /* long is 32-bit on Windows */
    int32_t tv_usec;
} VL_TIMEVAL;

typedef struct VL_WSADATA {                  /* the 32-bit field order */
    uint16_t wVersion;
    uint16_t wHighVersion;
    char szDescription[257];
    char szSystemStatus[129];
    uint16_t iMaxSockets;
    uint16_t iMaxUdpDg;
    char *lpVendorInfo;
} VL_WSADATA;

typedef struct VL_HOSTENT {
    char *h_name;
    char **h_aliases;
    int16_t h_addrtype;
    int16_t h_length;
    char **h_addr_list;
} VL_HOSTENT;

typedef struct VL_ADDRINFO {                  /* ADDRINFOA */
    int32_t ai_flags;
    int32_t ai_family;
    int32_t ai_socktype;
    int32_t ai_protocol;
    uintptr_t ai_addrlen;                      /* size_t */
    char *ai_canonname;
    VL_SOCKADDR_IN *ai_addr;
    struct VL_ADDRINFO *ai_next;
} VL_ADDRINFO;

typedef struct VL_IP_ADDR_STRING {
    struct VL_IP_ADDR_STRING *Next;
    char IpAddress[16];
    char IpMask[16];
    uint32_t Context;
} VL_IP_ADDR_STRING;

typedef struct VL_IP_ADAPTER_INFO {
    struct VL_IP_ADAPTER_INFO *Next;
    uint32_t ComboIndex;
    char AdapterName[260];
    char Description[132];
    uint32_t AddressLength;
    uint8_t Address[8];
    uint32_t Index;
    uint32_t Type;
    uint32_t DhcpEnabled;
    VL_IP_ADDR_STRING *CurrentIpAddress;
    VL_IP_ADDR_STRING IpAddressList;
    VL_IP_ADDR_STRING GatewayList;
    VL_IP_ADDR_STRING DhcpServer;
    int32_t HaveWins;
    VL_IP_ADDR_STRING PrimaryWinsServer;
    VL_IP_ADDR_STRING SecondaryWinsServer;
    /* time_t LeaseObtained, LeaseExpires: 64-bit in the Windows SDK. Two u32 words each so
     * ELF and Windows agree; we always zero them. */
    uint32_t LeaseObtained[2];
    uint32_t LeaseExpires[2];
} VL_IP_ADAPTER_INFO;

#if defined(__i386__)
_Static_assert(sizeof(VL_SOCKADDR_IN) == 16, "sockaddr_in");
_Static_assert(sizeof(VL_WSABUF) == 8, "WSABUF");
_Static_assert(sizeof(VL_WSAMSG) == 28 && offsetof(VL_WSAMSG, Control) == 16 && offsetof(VL_WSAMSG, dwFlags) == 24, "WSAMSG");
_Static_assert(sizeof(VL_WSACMSGHDR) == 12, "WSACMSGHDR");
_Static_assert(sizeof(VL_OVERLAPPED) == 20 && offsetof(VL_OVERLAPPED, hEvent) == 16, "OVERLAPPED");
_Static_assert(sizeof(VL_FD_SET) == 260, "fd_set");
_Static_assert(sizeof(VL_WSADATA) == 400 && offsetof(VL_WSADATA, iMaxSockets) == 390 && offsetof(VL_WSADATA, lpVendorInfo) == 396, "WSADATA");
_Static_assert(sizeof(VL_HOSTENT) == 16 && offsetof(VL_HOSTENT, h_addr_list) == 12, "hostent");
_Static_assert(sizeof(VL_IP_ADDR_STRING) == 40, "IP_ADDR_STRING");
_Static_assert(sizeof(VL_ADDRINFO) == 32 && offsetof(VL_ADDRINFO, ai_addr) == 24, "ADDRINFOA");
_Static_assert(offsetof(VL_IP_ADAPTER_INFO, AddressLength) == 400 && offsetof(VL_IP_ADAPTER_INFO, IpAddressList) == 428
               && offsetof(VL_IP_ADAPTER_INFO, LeaseObtained) == 632 && sizeof(VL_IP_ADAPTER_INFO) == 648, "IP_ADAPTER_INFO");
#endif
_Static_assert(sizeof(VL_SOCKADDR_IN) == 16, "sockaddr_in is 16 bytes everywhere");

/* Winsock constants we answer with (values from winsock2.h / winerror.h). */
enum {
    VL_AF_UNSPEC = 0, VL_AF_INET = 2,
    VL_SOCK_STREAM = 1, VL_SOCK_DGRAM = 2,
    VL_IPPROTO_TCP = 6, VL_IPPROTO_UDP = 17,
    VL_SOL_SOCKET = 0xFFFF,
    VL_SO_REUSEADDR = 0x0004, VL_SO_BROADCAST = 0x0020, VL_SO_SNDBUF = 0x1001, VL_SO_RCVBUF = 0x1002,
    VL_SO_TYPE = 0x1008, VL_SO_MAX_MSG_SIZE = 0x2003, VL_SO_EXCLUSIVEADDRUSE = ~VL_SO_REUSEADDR,
    VL_SO_SNDTIMEO = 0x1005, VL_SO_RCVTIMEO = 0x1006, VL_SO_ERROR = 0x1007, VL_SO_BSP_STATE = 0x1009,
    VL_SO_UPDATE_ACCEPT_CONTEXT = 0x700B, VL_SO_UPDATE_CONNECT_CONTEXT = 0x7010,
    VL_IPPROTO_IPV6 = 41, VL_IPV6_V6ONLY = 27,
    VL_IPPROTO_IP = 0, VL_IP_PKTINFO = 19, VL_IP_TTL = 4, VL_IP_TOS = 3, VL_IP_RECVTTL = 21, VL_IP_RECVTOS = 40, VL_MSG_TRUNC = 0x0100, VL_MSG_CTRUNC = 0x0200, VL_MSG_BCAST = 0x0400,
    VL_IP_MULTICAST_IF = 9, VL_IP_MULTICAST_LOOP = 11, VL_IP_ADD_MEMBERSHIP = 12, VL_IP_DROP_MEMBERSHIP = 13,
    VL_IP_ADD_SOURCE_MEMBERSHIP = 15, VL_IP_DROP_SOURCE_MEMBERSHIP = 16, VL_IP_BLOCK_SOURCE = 17, VL_IP_UNBLOCK_SOURCE = 18,
    VL_MCAST_JOIN_GROUP = 41, VL_MCAST_LEAVE_GROUP = 42, VL_MCAST_BLOCK_SOURCE = 43, VL_MCAST_UNBLOCK_SOURCE = 44,
    VL_MCAST_JOIN_SOURCE_GROUP = 45, VL_MCAST_LEAVE_SOURCE_GROUP = 46, VL_MSG_MCAST = 0x0800,
    VL_MSG_OOB = 0x1, VL_MSG_PEEK = 0x2, VL_MSG_WAITALL = 0x8, VL_MSG_PARTIAL = 0x8000,
    VL_WSA_FLAG_OVERLAPPED = 0x01,
    VL_WSA_FLAG_NO_HANDLE_INHERIT = 0x80,
    VL_SD_RECEIVE = 0, VL_SD_SEND = 1, VL_SD_BOTH = 2,
};



enum {
    VL_WSA_INVALID_HANDLE = 6, VL_WSA_NOT_ENOUGH_MEMORY = 8, VL_WSA_INVALID_PARAMETER = 87,
    VL_WSA_OPERATION_ABORTED = 995, VL_WSA_IO_INCOMPLETE = 996, VL_WSA_IO_PENDING = 997, VL_ERROR_NOT_FOUND = 1168,
    VL_WSAEINTR = 10004, VL_WSAEBADF = 10009, VL_WSAEACCES = 10013, VL_WSAEFAULT = 10014,
    VL_WSAEINVAL = 10022, VL_WSAEMFILE = 10024, VL_WSAEWOULDBLOCK = 10035, VL_WSAEALREADY = 10037, VL_WSAENOTSOCK = 10038,
    VL_WSAEDESTADDRREQ = 10039, VL_WSAEMSGSIZE = 10040, VL_WSAEPROTOTYPE = 10041,
    VL_WSAENOPROTOOPT = 10042, VL_WSAEPROTONOSUPPORT = 10043, VL_WSAESOCKTNOSUPPORT = 10044,
    VL_WSAEOPNOTSUPP = 10045, VL_WSAEAFNOSUPPORT = 10047, VL_WSAEADDRINUSE = 10048,
    VL_WSAEADDRNOTAVAIL = 10049, VL_WSAENETDOWN = 10050, VL_WSAENETUNREACH = 10051,
    VL_WSAECONNABORTED = 10053, VL_WSAECONNRESET = 10054, VL_WSAENOBUFS = 10055, VL_WSAEISCONN = 10056, VL_WSAENOTCONN = 10057,
    VL_WSAESHUTDOWN = 10058, VL_WSAETIMEDOUT = 10060, VL_WSAECONNREFUSED = 10061, VL_WSAEHOSTDOWN = 10064, VL_WSAEHOSTUNREACH = 10065,
    VL_WSASYSNOTREADY = 10091, VL_WSAEDISCON = 10101,
    VL_WSAVERNOTSUPPORTED = 10092, VL_WSANOTINITIALISED = 10093, VL_WSATYPE_NOT_FOUND = 10109,
    VL_WSAHOST_NOT_FOUND = 11001, VL_WSATRY_AGAIN = 11002, VL_WSANO_DATA = 11004, VL_AI_PASSIVE = 0x01, VL_AI_CANONNAME = 0x02,
    VL_AF_INET6 = 23,
};

/* NTSTATUS values a completed OVERLAPPED carries in Internal. */
#define VL_STATUS_SUCCESS 0u
#define VL_STATUS_PENDING 0x103u
#define VL_STATUS_BUFFER_OVERFLOW 0x80000005u
#define VL_STATUS_CANCELLED 0xC0000120u

/* WSAWaitForMultipleEvents results. */
#define VL_WSA_WAIT_EVENT_0 0u
#define VL_WSA_WAIT_IO_COMPLETION 0xC0u
#define VL_WSA_WAIT_TIMEOUT 258u
#define VL_WSA_WAIT_FAILED 0xFFFFFFFFu
#define VL_WSA_INFINITE 0xFFFFFFFFu
#define VL_WSA_MAXIMUM_WAIT_EVENTS 64u

/* GetAdaptersInfo results (winerror.h). */
#define VL_ERROR_SUCCESS 0u
#define VL_ERROR_INVALID_PARAMETER 87u
#define VL_ERROR_BUFFER_OVERFLOW 111u

/* Accessors Swift uses instead of fixed-size C arrays (imported as tuples). */
static inline VL_SOCKET vl_fd_set_get(const VL_FD_SET *set, uint32_t i) { return set->fd_array[i]; }
static inline void vl_fd_set_put(VL_FD_SET *set, uint32_t i, VL_SOCKET s) { set->fd_array[i] = s; }
/* The bytes of a set that holds `count` sockets (a program may make it larger than FD_SETSIZE). */
static inline intptr_t vl_fd_set_size(uint32_t count) {
    return (intptr_t)(offsetof(VL_FD_SET, fd_array) + (size_t)count * sizeof(VL_SOCKET));
}
/* Where a WSAMSG keeps its name's length (an overlapped WSARecvMsg writes it at completion). */
static inline int32_t *vl_wsamsg_namelen(VL_WSAMSG *message) { return &message->namelen; }

#endif
