/* The IP Helper tables of a virtual PC (GetAdaptersAddresses, GetIpAddrTable): its
 * adapter on the virtual LAN and its loopback, laid out as Windows lays them out. The
 * layouts are ours (the Linux build has no iphlpapi.h); the DLL build checks every offset
 * against mingw's headers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "abi_fill.h"

typedef struct vl_socket_address { void *lpSockaddr; int32_t iSockaddrLength; } vl_socket_address;

typedef struct vl_unicast {                  /* IP_ADAPTER_UNICAST_ADDRESS_LH */
    union { uint64_t Alignment; struct { uint32_t Length; uint32_t Flags; } s; } u;
    struct vl_unicast *Next;
    vl_socket_address Address;
    int32_t PrefixOrigin, SuffixOrigin, DadState;
    uint32_t ValidLifetime, PreferredLifetime, LeaseLifetime;
    uint8_t OnLinkPrefixLength;
} vl_unicast;

typedef struct vl_adapter_addresses {        /* IP_ADAPTER_ADDRESSES_LH */
    union { uint64_t Alignment; struct { uint32_t Length; uint32_t IfIndex; } s; } u;
    struct vl_adapter_addresses *Next;
    char *AdapterName;
    vl_unicast *FirstUnicastAddress;
    void *FirstAnycastAddress, *FirstMulticastAddress, *FirstDnsServerAddress;
    uint16_t *DnsSuffix, *Description, *FriendlyName;
    uint8_t PhysicalAddress[8];
    uint32_t PhysicalAddressLength, Flags, Mtu, IfType;
    int32_t OperStatus;
    uint32_t Ipv6IfIndex, ZoneIndices[16];
    void *FirstPrefix;
    uint64_t TransmitLinkSpeed, ReceiveLinkSpeed;
    void *FirstWinsServerAddress, *FirstGatewayAddress;
    uint32_t Ipv4Metric, Ipv6Metric;
    uint64_t Luid;
    vl_socket_address Dhcpv4Server;
    uint32_t CompartmentId;
    uint8_t NetworkGuid[16];
    int32_t ConnectionType, TunnelType;
    vl_socket_address Dhcpv6Server;
    uint8_t Dhcpv6ClientDuid[130];
    uint32_t Dhcpv6ClientDuidLength, Dhcpv6Iaid;
    void *FirstDnsSuffix;
} vl_adapter_addresses;

typedef struct vl_ip_addr_row {              /* MIB_IPADDRROW */
    uint32_t dwAddr, dwIndex, dwMask, dwBCastAddr, dwReasmSize;
    uint16_t unused1, wType;
} vl_ip_addr_row;

#if defined(_WIN32)
#include <winsock2.h>
#include <iphlpapi.h>
#define SAME(ours, theirs, field) _Static_assert(offsetof(ours, field) == offsetof(theirs, field), #theirs "." #field)
SAME(vl_unicast, IP_ADAPTER_UNICAST_ADDRESS_LH, Next); SAME(vl_unicast, IP_ADAPTER_UNICAST_ADDRESS_LH, Address);
SAME(vl_unicast, IP_ADAPTER_UNICAST_ADDRESS_LH, DadState); SAME(vl_unicast, IP_ADAPTER_UNICAST_ADDRESS_LH, OnLinkPrefixLength);
_Static_assert(sizeof(vl_unicast) == sizeof(IP_ADAPTER_UNICAST_ADDRESS_LH), "IP_ADAPTER_UNICAST_ADDRESS_LH");
SAME(vl_adapter_addresses, IP_ADAPTER_ADDRESSES_LH, AdapterName); SAME(vl_adapter_addresses, IP_ADAPTER_ADDRESSES_LH, FirstUnicastAddress);
SAME(vl_adapter_addresses, IP_ADAPTER_ADDRESSES_LH, FriendlyName); SAME(vl_adapter_addresses, IP_ADAPTER_ADDRESSES_LH, PhysicalAddress);
SAME(vl_adapter_addresses, IP_ADAPTER_ADDRESSES_LH, OperStatus); SAME(vl_adapter_addresses, IP_ADAPTER_ADDRESSES_LH, ZoneIndices);
SAME(vl_adapter_addresses, IP_ADAPTER_ADDRESSES_LH, TransmitLinkSpeed); SAME(vl_adapter_addresses, IP_ADAPTER_ADDRESSES_LH, FirstGatewayAddress);
SAME(vl_adapter_addresses, IP_ADAPTER_ADDRESSES_LH, Luid); SAME(vl_adapter_addresses, IP_ADAPTER_ADDRESSES_LH, NetworkGuid);
SAME(vl_adapter_addresses, IP_ADAPTER_ADDRESSES_LH, Dhcpv6ClientDuid); SAME(vl_adapter_addresses, IP_ADAPTER_ADDRESSES_LH, FirstDnsSuffix);
_Static_assert(sizeof(vl_adapter_addresses) == sizeof(IP_ADAPTER_ADDRESSES_LH), "IP_ADAPTER_ADDRESSES_LH");
_Static_assert(sizeof(vl_ip_addr_row) == sizeof(MIB_IPADDRROW), "MIB_IPADDRROW");
#endif

/* a.b.c.d as it sits in a sockaddr (network order), whatever the machine's byte order */
static uint32_t ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    uint8_t bytes[4] = { a, b, c, d };
    uint32_t value;
    memcpy(&value, bytes, 4);
    return value;
}

enum { LOOPBACK_INDEX = 1, TYPE_ETHERNET = 6, TYPE_LOOPBACK = 24, OPERATIONAL = 1,
       SKIPS_UNICAST = 0x1, IPV4_ENABLED = 0x80,
       ORIGIN_MANUAL = 1, ADDRESS_PREFERRED = 4 };

/* Loopback's AdapterName. */
static const char loopback_guid[] = "{564C414E-0000-4000-8000-4C4F4F504241}";

void vl_adapter_guid(const uint8_t mac[6], char out[39]) {
    static const char hex[] = "0123456789ABCDEF";
    memcpy(out, "{564C414E-0000-4000-8000-000000000000}", 39);
    for (int i = 0; i < 6; i++) {
        out[25 + 2 * i] = hex[mac[i] >> 4];
        out[26 + 2 * i] = hex[mac[i] & 15];
    }
}

/* Everything of one answer, in one block the caller's buffer holds. */
typedef struct adapters_block {
    vl_adapter_addresses adapter[2];          /* the virtual LAN's, then loopback */
    vl_unicast unicast[2];
    VL_SOCKADDR_IN address[2];
    char name[2][39];
    uint16_t friendly[2][40], description[2][48], empty[1];
} adapters_block;

static void wide(uint16_t *to, size_t capacity, const char *from) {
    size_t i = 0;
    for (; i + 1 < capacity && from[i]; i++) to[i] = (uint8_t)from[i];
    to[i] = 0;
}

static void fill_one(adapters_block *b, int i, uint32_t flags, uint32_t index, const uint8_t *mac, uint32_t address,
                     uint8_t prefix, const char *friendly, const char *description, uint32_t type, uint32_t mtu) {
    vl_adapter_addresses *a = &b->adapter[i];
    a->u.s.Length = sizeof *a;
    a->u.s.IfIndex = index;
    a->Next = i == 0 ? &b->adapter[1] : NULL;
    a->AdapterName = b->name[i];
    b->address[i].sin_family = VL_AF_INET;
    b->address[i].sin_addr = address;
    vl_unicast *u = &b->unicast[i];
    u->u.s.Length = sizeof *u;
    u->Address.lpSockaddr = &b->address[i];
    u->Address.iSockaddrLength = sizeof b->address[i];
    u->PrefixOrigin = ORIGIN_MANUAL;
    u->SuffixOrigin = ORIGIN_MANUAL;
    u->DadState = ADDRESS_PREFERRED;
    u->ValidLifetime = u->PreferredLifetime = u->LeaseLifetime = 0xFFFFFFFFu;
    u->OnLinkPrefixLength = prefix;
    a->FirstUnicastAddress = flags & SKIPS_UNICAST ? NULL : u;
    a->DnsSuffix = b->empty;
    wide(b->friendly[i], 40, friendly);
    wide(b->description[i], 48, description);
    a->FriendlyName = b->friendly[i];
    a->Description = b->description[i];
    if (mac) { memcpy(a->PhysicalAddress, mac, 6); a->PhysicalAddressLength = 6; }
    a->Flags = IPV4_ENABLED;
    a->Mtu = mtu;
    a->IfType = type;
    a->OperStatus = OPERATIONAL;
    a->TransmitLinkSpeed = a->ReceiveLinkSpeed = 1000000000ull;
    a->Ipv4Metric = type == TYPE_LOOPBACK ? 75 : 25;
    a->Luid = vl_interface_luid(type, index);
}

uint32_t vl_fill_adapter_addresses(void *buffer, uint32_t *size, uint32_t flags, uint32_t index, const uint8_t mac[6],
                                   uint32_t address_network_order, uint8_t prefix_length) {
    if (!size) return VL_ERROR_INVALID_PARAMETER;
    if (!buffer || *size < sizeof(adapters_block)) {
        *size = sizeof(adapters_block);
        return VL_ERROR_BUFFER_OVERFLOW;
    }
    adapters_block *b = buffer;
    memset(b, 0, sizeof *b);
    vl_adapter_guid(mac, b->name[0]);
    memcpy(b->name[1], loopback_guid, 39);
    fill_one(b, 0, flags, index, mac, address_network_order, prefix_length, "VirtualLAN", "VirtualLAN Ethernet Adapter",
             TYPE_ETHERNET, 1500);
    fill_one(b, 1, flags, LOOPBACK_INDEX, NULL, ipv4(127, 0, 0, 1), 8,
             "Loopback Pseudo-Interface 1", "Software Loopback Interface 1", TYPE_LOOPBACK, 0xFFFFFFFFu);
    return VL_ERROR_SUCCESS;
}

uint32_t vl_fill_ip_addr_table(void *table, uint32_t *size, uint32_t index, uint32_t address_network_order,
                               uint32_t mask_network_order) {
    uint32_t needed = sizeof(uint32_t) + 2 * sizeof(vl_ip_addr_row);
    if (!size) return VL_ERROR_INVALID_PARAMETER;
    if (!table || *size < needed) {
        *size = needed;
        return 122; /* ERROR_INSUFFICIENT_BUFFER */
    }
    memset(table, 0, needed);
    *(uint32_t *)table = 2;
    vl_ip_addr_row *rows = (vl_ip_addr_row *)((uint8_t *)table + sizeof(uint32_t));
    /* Ascending by address, as GetIpAddrTable sorts on request: 127.0.0.1 before 192.168. */
    rows[0] = (vl_ip_addr_row){ ipv4(127, 0, 0, 1), LOOPBACK_INDEX, ipv4(255, 0, 0, 0), 1, 65535, 0, 1 };
    rows[1] = (vl_ip_addr_row){ address_network_order, index, mask_network_order, 1, 65535, 0, 1 };
    return VL_ERROR_SUCCESS;
}

/* ---- GetInterfaceInfo and GetAdapterIndex: adapters by "\DEVICE\TCPIP_" + AdapterName ---- */

typedef struct vl_adapter_index_map {        /* IP_ADAPTER_INDEX_MAP */
    uint32_t Index;
    uint16_t Name[128];
} vl_adapter_index_map;

#if defined(_WIN32)
_Static_assert(sizeof(vl_adapter_index_map) == sizeof(IP_ADAPTER_INDEX_MAP), "IP_ADAPTER_INDEX_MAP");
_Static_assert(offsetof(IP_INTERFACE_INFO, Adapter) == sizeof(uint32_t), "IP_INTERFACE_INFO.Adapter");
#endif

static const char device_tcpip[] = "\\DEVICE\\TCPIP_";

/* GetInterfaceInfo: the adapters that are not loopback, as iphlpapi lists them: the
 * virtual LAN's. ERROR_INSUFFICIENT_BUFFER with *size set when the buffer is too small. */
uint32_t vl_fill_interface_info(void *table, uint32_t *size, uint32_t index, const uint8_t mac[6]) {
    uint32_t needed = sizeof(uint32_t) + sizeof(vl_adapter_index_map);
    if (!table || *size < needed) { *size = needed; return 122; }  /* ERROR_INSUFFICIENT_BUFFER */
    memset(table, 0, needed);
    *(uint32_t *)table = 1;
    vl_adapter_index_map *row = (vl_adapter_index_map *)((uint8_t *)table + sizeof(uint32_t));
    row->Index = index;
    char name[sizeof device_tcpip + 39];
    memcpy(name, device_tcpip, sizeof device_tcpip - 1);
    vl_adapter_guid(mac, name + sizeof device_tcpip - 1);
    wide(row->Name, 128, name);
    return VL_ERROR_SUCCESS;
}

/* Whether the wide `name` is `prefix` then `guid`, letters in either case. */
static int names(const uint16_t *name, const char *prefix, const char *guid) {
    char expected[sizeof device_tcpip + 39];
    snprintf(expected, sizeof expected, "%s%s", prefix, guid);
    size_t i = 0;
    for (; expected[i]; i++) {
        uint16_t c = name[i];
        if (c >= 'a' && c <= 'z') c = (uint16_t)(c - 'a' + 'A');
        if (c != (uint8_t)expected[i]) return 0;
    }
    return name[i] == 0;
}

/* GetAdapterIndex: the index of the adapter with that name (GetInterfaceInfo's, or
 * loopback's AdapterName after the same prefix); another name: ERROR_INVALID_PARAMETER,
 * as iphlpapi answers a name it cannot read as one. */
uint32_t vl_adapter_index(const uint16_t *name, uint32_t *index, uint32_t lan_index, const uint8_t mac[6]) {
    char guid[39];
    vl_adapter_guid(mac, guid);
    if (names(name, device_tcpip, guid)) { *index = lan_index; return VL_ERROR_SUCCESS; }
    if (names(name, device_tcpip, loopback_guid)) { *index = LOOPBACK_INDEX; return VL_ERROR_SUCCESS; }
    return VL_ERROR_INVALID_PARAMETER;
}
