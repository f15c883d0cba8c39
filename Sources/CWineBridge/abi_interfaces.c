/* The virtual PC's interfaces as iphlpapi's interface family names them (GetIfEntry2,
 * GetIfTable2, GetNumberOfInterfaces, ConvertInterface*): the same two GetAdaptersAddresses
 * lists, with the same index, LUID, GUID (its AdapterName), MAC, type and names, so a
 * program that cross-checks them finds one PC. Layouts are ours (the Linux build has no
 * netioapi.h); the DLL build checks them against mingw's headers. */
#if defined(_WIN32) && (!defined(_WIN32_WINNT) || _WIN32_WINNT < 0x0600)
#undef _WIN32_WINNT
#define _WIN32_WINNT 0x0600  /* netioapi.h's MIB_IF_ROW2 */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "abi_fill.h"

typedef struct vl_if_row2 {                  /* MIB_IF_ROW2 */
    uint64_t InterfaceLuid;
    uint32_t InterfaceIndex;
    uint8_t InterfaceGuid[16];
    uint16_t Alias[257], Description[257];
    uint32_t PhysicalAddressLength;
    uint8_t PhysicalAddress[32], PermanentPhysicalAddress[32];
    uint32_t Mtu, Type, TunnelType, MediaType, PhysicalMediumType, AccessType, DirectionType;
    uint8_t InterfaceAndOperStatusFlags;
    uint32_t OperStatus, AdminStatus, MediaConnectState;
    uint8_t NetworkGuid[16];
    uint32_t ConnectionType;
    uint64_t TransmitLinkSpeed, ReceiveLinkSpeed;
    uint64_t Counters[18];                   /* InOctets ... OutQLen */
} vl_if_row2;

typedef struct vl_if_table2 {                /* MIB_IF_TABLE2 */
    uint32_t NumEntries;
    vl_if_row2 Table[2];
} vl_if_table2;

#if defined(_WIN32)
#include <winsock2.h>
#include <ws2tcpip.h>  /* ws2ipdef.h first: netioapi.h declares the MIB_IF_* types only after it */
#include <iphlpapi.h>
#include <netioapi.h>
#define SAME(ours, theirs, field) _Static_assert(offsetof(ours, field) == offsetof(theirs, field), #theirs "." #field)
SAME(vl_if_row2, MIB_IF_ROW2, InterfaceIndex); SAME(vl_if_row2, MIB_IF_ROW2, InterfaceGuid); SAME(vl_if_row2, MIB_IF_ROW2, Alias);
SAME(vl_if_row2, MIB_IF_ROW2, Description); SAME(vl_if_row2, MIB_IF_ROW2, PhysicalAddress); SAME(vl_if_row2, MIB_IF_ROW2, Mtu);
SAME(vl_if_row2, MIB_IF_ROW2, Type); SAME(vl_if_row2, MIB_IF_ROW2, InterfaceAndOperStatusFlags); SAME(vl_if_row2, MIB_IF_ROW2, OperStatus);
SAME(vl_if_row2, MIB_IF_ROW2, MediaConnectState); SAME(vl_if_row2, MIB_IF_ROW2, NetworkGuid); SAME(vl_if_row2, MIB_IF_ROW2, TransmitLinkSpeed);
_Static_assert(offsetof(vl_if_row2, Counters) == offsetof(MIB_IF_ROW2, InOctets), "MIB_IF_ROW2.InOctets");
_Static_assert(sizeof(vl_if_row2) == sizeof(MIB_IF_ROW2), "MIB_IF_ROW2");
_Static_assert(offsetof(vl_if_table2, Table) == offsetof(MIB_IF_TABLE2, Table), "MIB_IF_TABLE2.Table");
#endif

enum { LOOPBACK_INDEX = 1, TYPE_ETHERNET = 6, TYPE_LOOPBACK = 24, UP = 1, CONNECTED = 1, NOT_FOUND = 2,
       INVALID_PARAMETER = 87, NOT_ENOUGH_MEMORY = 8, OUT_OF_MEMORY = 14, MEDIUM_802_3 = 0, MEDIUM_LOOPBACK = 20, PHYSICAL_802_3 = 14,
       ACCESS_BROADCAST = 2, ACCESS_LOOPBACK = 1, HARDWARE_INTERFACE = 0x1, CONNECTOR_PRESENT = 0x4 };

/* One interface of the two: which = 0 the virtual LAN's adapter, 1 loopback. */
typedef struct iface {
    uint32_t index, type;
    uint64_t luid;
    uint8_t guid[16];
} iface;

/* GUID bytes of "{564C414E-0000-4000-8000-xxxxxxxxxxxx}" (its fields little endian). */
static void guid_bytes(const uint8_t tail[6], uint8_t out[16]) {
    static const uint8_t head[10] = { 0x4E, 0x41, 0x4C, 0x56, 0x00, 0x00, 0x00, 0x40, 0x80, 0x00 };
    memcpy(out, head, 10);
    memcpy(out + 10, tail, 6);
}

static iface describe(int which, uint32_t lan_index, const uint8_t mac[6]) {
    static const uint8_t loopback_tail[6] = { 0x4C, 0x4F, 0x4F, 0x50, 0x42, 0x41 };  /* "LOOPBA", as its AdapterName */
    iface i;
    i.index = which == 0 ? lan_index : LOOPBACK_INDEX;
    i.type = which == 0 ? TYPE_ETHERNET : TYPE_LOOPBACK;
    i.luid = vl_interface_luid(i.type, i.index);  /* as GetAdaptersAddresses gives it */
    guid_bytes(which == 0 ? mac : loopback_tail, i.guid);
    return i;
}

/* Which iface `match` picks (-1: none). */
static int find(int (*match)(const iface *, const void *), const void *key, uint32_t lan_index, const uint8_t mac[6]) {
    for (int which = 0; which < 2; which++) {
        iface i = describe(which, lan_index, mac);
        if (match(&i, key)) return which;
    }
    return -1;
}

static int by_index(const iface *i, const void *key) { return i->index == *(const uint32_t *)key; }
static int by_luid(const iface *i, const void *key) { uint64_t l; memcpy(&l, key, 8); return i->luid == l; }
static int by_guid(const iface *i, const void *key) { return memcmp(i->guid, key, 16) == 0; }

/* NET_LUID's layout: IfType in the top 16 bits, NetLuidIndex in the 24 below, Reserved 0.
 * The interface's index is its NetLuidIndex, so iphlpapi's own ConvertInterfaceLuidToName
 * and NameToLuid (pure conversions of those two fields) name it "ethernet_<index>" and
 * "loopback_1", and read those names back into the same LUID. */
uint64_t vl_interface_luid(uint32_t type, uint32_t index) { return ((uint64_t)type << 48) | ((uint64_t)(index & 0xFFFFFFu) << 24); }

uint32_t vl_interface_count(void) { return 2; }
uint32_t vl_if_row2_size(void) { return sizeof(vl_if_row2); }

uint32_t vl_interface_index_to_luid(uint32_t index, uint32_t lan_index, const uint8_t mac[6], void *luid) {
    int which = find(by_index, &index, lan_index, mac);
    if (which < 0) return NOT_FOUND;
    iface i = describe(which, lan_index, mac);
    memcpy(luid, &i.luid, 8);
    return 0;
}

uint32_t vl_interface_luid_to_index(const void *luid, uint32_t lan_index, const uint8_t mac[6], uint32_t *index) {
    int which = find(by_luid, luid, lan_index, mac);
    if (which < 0) return NOT_FOUND;
    *index = describe(which, lan_index, mac).index;
    return 0;
}

uint32_t vl_interface_luid_to_guid(const void *luid, uint32_t lan_index, const uint8_t mac[6], void *guid) {
    int which = find(by_luid, luid, lan_index, mac);
    if (which < 0) return NOT_FOUND;
    iface i = describe(which, lan_index, mac);
    memcpy(guid, i.guid, 16);
    return 0;
}

/* A GUID no interface has: the LUID zeroed and ERROR_INVALID_PARAMETER, as iphlpapi answers. */
uint32_t vl_interface_guid_to_luid(const void *guid, uint32_t lan_index, const uint8_t mac[6], void *luid) {
    int which = find(by_guid, guid, lan_index, mac);
    memset(luid, 0, 8);
    if (which < 0) return INVALID_PARAMETER;
    iface i = describe(which, lan_index, mac);
    memcpy(luid, &i.luid, 8);
    return 0;
}

static void wide(uint16_t *to, size_t capacity, const char *from) {
    size_t i = 0;
    for (; i + 1 < capacity && from[i]; i++) to[i] = (uint8_t)from[i];
    to[i] = 0;
}

/* The alias (GetAdaptersAddresses' FriendlyName) of each interface. */
static const char *const aliases[2] = { "VirtualLAN", "Loopback Pseudo-Interface 1" };

/* ConvertInterfaceLuidToAlias: the alias into `length` characters (ERROR_NOT_ENOUGH_MEMORY
 * when it does not fit with its terminator). */
uint32_t vl_interface_luid_to_alias(const void *luid, uint32_t lan_index, const uint8_t mac[6], uint16_t *alias, size_t length) {
    int which = find(by_luid, luid, lan_index, mac);
    if (which < 0) return NOT_FOUND;
    if (length <= strlen(aliases[which])) return NOT_ENOUGH_MEMORY;
    wide(alias, length, aliases[which]);
    return 0;
}

/* ConvertInterfaceAliasToLuid: the interface of that alias; none (or an empty alias):
 * ERROR_INVALID_PARAMETER with the LUID zeroed, as iphlpapi answers. */
uint32_t vl_interface_alias_to_luid(const uint16_t *alias, uint32_t lan_index, const uint8_t mac[6], void *luid) {
    memset(luid, 0, 8);
    if (!alias[0]) return INVALID_PARAMETER;
    for (int which = 0; which < 2; which++) {
        const char *name = aliases[which];
        size_t i = 0;
        while (name[i] && alias[i] == (uint8_t)name[i]) i++;
        if (name[i] || alias[i]) continue;
        iface f = describe(which, lan_index, mac);
        memcpy(luid, &f.luid, 8);
        return 0;
    }
    return INVALID_PARAMETER;
}

/* An interface's name as iphlpapi's ConvertInterfaceLuidToName makes it of the LUID:
 * "ethernet_<index>" or "loopback_1". */
static void interface_name(int which, uint32_t index, char *out, size_t size) {
    snprintf(out, size, "%s_%u", which == 0 ? "ethernet" : "loopback", index);
}

/* if_indextoname: the name into `name` (IF_NAMESIZE bytes, as the caller must give); NULL
 * for an index the PC lacks. */
char *vl_interface_index_to_name(uint32_t index, uint32_t lan_index, const uint8_t mac[6], char *name) {
    int which = find(by_index, &index, lan_index, mac);
    if (which < 0) return NULL;
    interface_name(which, index, name, 256);
    return name;
}

/* if_nametoindex: the index of such a name (0: none). */
uint32_t vl_interface_name_to_index(const char *name, uint32_t lan_index, const uint8_t mac[6]) {
    for (int which = 0; which < 2; which++) {
        iface f = describe(which, lan_index, mac);
        char own[32];
        interface_name(which, f.index, own, sizeof own);
        if (strcmp(own, name) == 0) return f.index;
    }
    return 0;
}

static void fill_row(vl_if_row2 *row, int which, uint32_t lan_index, const uint8_t mac[6]) {
    iface i = describe(which, lan_index, mac);
    memset(row, 0, sizeof *row);
    row->InterfaceLuid = i.luid;
    row->InterfaceIndex = i.index;
    memcpy(row->InterfaceGuid, i.guid, 16);
    /* The names GetAdaptersAddresses gives: FriendlyName is the alias. */
    wide(row->Alias, 257, aliases[which]);
    wide(row->Description, 257, which == 0 ? "VirtualLAN Ethernet Adapter" : "Software Loopback Interface 1");
    if (which == 0) {
        row->PhysicalAddressLength = 6;
        memcpy(row->PhysicalAddress, mac, 6);
        memcpy(row->PermanentPhysicalAddress, mac, 6);
    }
    row->Mtu = which == 0 ? 1500 : 0xFFFFFFFFu;
    row->Type = i.type;
    row->MediaType = which == 0 ? MEDIUM_802_3 : MEDIUM_LOOPBACK;
    row->PhysicalMediumType = which == 0 ? PHYSICAL_802_3 : 0;
    row->AccessType = which == 0 ? ACCESS_BROADCAST : ACCESS_LOOPBACK;
    row->DirectionType = 0;  /* send and receive */
    row->InterfaceAndOperStatusFlags = which == 0 ? HARDWARE_INTERFACE | CONNECTOR_PRESENT : 0;
    row->OperStatus = UP;
    row->AdminStatus = UP;
    row->MediaConnectState = CONNECTED;
    row->ConnectionType = 1;  /* dedicated */
    row->TransmitLinkSpeed = row->ReceiveLinkSpeed = 1000000000ull;
}

/* GetIfEntry2: the row's InterfaceLuid picks the iface, else its InterfaceIndex. */
uint32_t vl_fill_if_row2(void *row, uint32_t lan_index, const uint8_t mac[6]) {
    vl_if_row2 *r = row;
    int which = r->InterfaceLuid != 0 ? find(by_luid, &r->InterfaceLuid, lan_index, mac)
                                      : find(by_index, &r->InterfaceIndex, lan_index, mac);
    if (which < 0) return NOT_FOUND;
    fill_row(r, which, lan_index, mac);
    return 0;
}

/* A table the caller frees with FreeMibTable: HeapFree on the process heap (the Linux
 * build's tests free it with free). */
void *vl_mib_table(size_t size) {
#if defined(_WIN32)
    return HeapAlloc(GetProcessHeap(), 0, size);
#else
    return malloc(size);
#endif
}

/* GetIfTable2: a table FreeMibTable frees (vl_mib_table). */
uint32_t vl_fill_if_table2(void **table, uint32_t lan_index, const uint8_t mac[6]) {
    vl_if_table2 *t = vl_mib_table(sizeof *t);
    if (!t) return OUT_OF_MEMORY;
    memset(t, 0, sizeof *t);
    t->NumEntries = 2;
    fill_row(&t->Table[0], 1, lan_index, mac);  /* loopback first, by index */
    fill_row(&t->Table[1], 0, lan_index, mac);
    *table = t;
    return 0;
}

/* ---- the older tables: MIB_IFROW (GetIfTable, GetIfEntry), the routes, FIXED_INFO ---- */

typedef struct vl_if_row {                   /* MIB_IFROW */
    uint16_t wszName[256];
    uint32_t dwIndex, dwType, dwMtu, dwSpeed, dwPhysAddrLen;
    uint8_t bPhysAddr[8];
    uint32_t dwAdminStatus, dwOperStatus, dwLastChange, Counters[11], dwOutQLen, dwDescrLen;
    uint8_t bDescr[256];
} vl_if_row;

typedef struct vl_addr_string {              /* IP_ADDR_STRING */
    struct vl_addr_string *Next;
    char IpAddress[16], IpMask[16];
    uint32_t Context;
} vl_addr_string;

typedef struct vl_fixed_info {               /* FIXED_INFO */
    char HostName[132], DomainName[132];
    vl_addr_string *CurrentDnsServer;
    vl_addr_string DnsServerList;
    uint32_t NodeType;
    char ScopeId[260];
    uint32_t EnableRouting, EnableProxy, EnableDns;
} vl_fixed_info;

#if defined(_WIN32)
_Static_assert(sizeof(vl_if_row) == sizeof(MIB_IFROW), "MIB_IFROW");
_Static_assert(offsetof(vl_if_row, dwAdminStatus) == offsetof(MIB_IFROW, dwAdminStatus), "MIB_IFROW.dwAdminStatus");
_Static_assert(offsetof(vl_if_row, bDescr) == offsetof(MIB_IFROW, bDescr), "MIB_IFROW.bDescr");
_Static_assert(offsetof(vl_fixed_info, DnsServerList) == offsetof(FIXED_INFO, DnsServerList), "FIXED_INFO.DnsServerList");
_Static_assert(offsetof(vl_fixed_info, EnableDns) == offsetof(FIXED_INFO, EnableDns), "FIXED_INFO.EnableDns");
_Static_assert(sizeof(vl_fixed_info) == sizeof(FIXED_INFO), "FIXED_INFO");
#endif

enum { INSUFFICIENT_BUFFER = 122, BUFFER_OVERFLOW = 111, BROADCAST_NODE = 1 };

static void fill_if_row(vl_if_row *row, int which, uint32_t lan_index, const uint8_t mac[6]) {
    iface i = describe(which, lan_index, mac);
    static const char *names[2] = { "VirtualLAN Ethernet Adapter", "Software Loopback Interface 1" };
    memset(row, 0, sizeof *row);
    row->dwIndex = i.index;
    row->dwType = i.type;
    row->dwMtu = which == 0 ? 1500 : 0xFFFFFFFFu;
    row->dwSpeed = 1000000000u;
    if (which == 0) { row->dwPhysAddrLen = 6; memcpy(row->bPhysAddr, mac, 6); }
    row->dwAdminStatus = UP;
    row->dwOperStatus = 5;  /* IF_OPER_STATUS_OPERATIONAL in MIB_IFROW's own numbering */
    size_t length = strlen(names[which]);
    memcpy(row->bDescr, names[which], length);
    row->dwDescrLen = (uint32_t)length + 1;
}

uint32_t vl_if_row_size(void) { return sizeof(vl_if_row); }

/* GetIfEntry: the row's dwIndex picks the interface. */
uint32_t vl_fill_if_row(void *row, uint32_t lan_index, const uint8_t mac[6]) {
    vl_if_row *r = row;
    int which = find(by_index, &r->dwIndex, lan_index, mac);
    if (which < 0) return NOT_FOUND;
    fill_if_row(r, which, lan_index, mac);
    return 0;
}

/* GetIfTable: loopback, then the adapter (ascending by index either way). */
uint32_t vl_fill_if_table(void *table, uint32_t *size, uint32_t lan_index, const uint8_t mac[6]) {
    uint32_t needed = sizeof(uint32_t) + 2 * sizeof(vl_if_row);
    if (!table || *size < needed) { *size = needed; return INSUFFICIENT_BUFFER; }
    *(uint32_t *)table = 2;
    vl_if_row *rows = (vl_if_row *)((uint8_t *)table + sizeof(uint32_t));
    fill_if_row(&rows[0], 1, lan_index, mac);
    fill_if_row(&rows[1], 0, lan_index, mac);
    return 0;
}

/* GetNetworkParams: the PC's name (gethostname's), no domain, no DNS server. */
uint32_t vl_fill_network_params(void *info, uint32_t *size, const char *host_name) {
    if (!info || *size < sizeof(vl_fixed_info)) { *size = sizeof(vl_fixed_info); return BUFFER_OVERFLOW; }
    vl_fixed_info *f = info;
    memset(f, 0, sizeof *f);
    strncpy(f->HostName, host_name, sizeof f->HostName - 1);
    f->NodeType = BROADCAST_NODE;
    return 0;
}

/* ---- GetUnicastIpAddressTable: the PC's IPv4 addresses, one row each ---- */

typedef struct vl_unicast_row {              /* MIB_UNICASTIPADDRESS_ROW */
    union { uint16_t family; VL_SOCKADDR_IN v4; uint8_t bytes[28]; } Address;  /* SOCKADDR_INET */
    uint64_t InterfaceLuid;
    uint32_t InterfaceIndex, PrefixOrigin, SuffixOrigin, ValidLifetime, PreferredLifetime;
    uint8_t OnLinkPrefixLength, SkipAsSource;
    uint32_t DadState, ScopeId;
    int64_t CreationTimeStamp;
} vl_unicast_row;

typedef struct vl_unicast_table {            /* MIB_UNICASTIPADDRESS_TABLE */
    uint32_t NumEntries;
    vl_unicast_row Table[2];
} vl_unicast_table;

#if defined(_WIN32)
_Static_assert(offsetof(vl_unicast_row, InterfaceLuid) == offsetof(MIB_UNICASTIPADDRESS_ROW, InterfaceLuid), "InterfaceLuid");
_Static_assert(offsetof(vl_unicast_row, OnLinkPrefixLength) == offsetof(MIB_UNICASTIPADDRESS_ROW, OnLinkPrefixLength), "OnLinkPrefixLength");
_Static_assert(offsetof(vl_unicast_row, DadState) == offsetof(MIB_UNICASTIPADDRESS_ROW, DadState), "DadState");
_Static_assert(offsetof(vl_unicast_row, CreationTimeStamp) == offsetof(MIB_UNICASTIPADDRESS_ROW, CreationTimeStamp), "CreationTimeStamp");
_Static_assert(sizeof(vl_unicast_row) == sizeof(MIB_UNICASTIPADDRESS_ROW), "MIB_UNICASTIPADDRESS_ROW");
_Static_assert(offsetof(vl_unicast_table, Table) == offsetof(MIB_UNICASTIPADDRESS_TABLE, Table), "MIB_UNICASTIPADDRESS_TABLE.Table");
#endif

static void fill_unicast(vl_unicast_row *row, int which, uint32_t lan_index, const uint8_t mac[6], uint32_t address, uint8_t prefix) {
    iface i = describe(which, lan_index, mac);
    memset(row, 0, sizeof *row);
    row->Address.v4.sin_family = VL_AF_INET;
    row->Address.v4.sin_addr = address;
    row->InterfaceLuid = i.luid;
    row->InterfaceIndex = i.index;
    row->PrefixOrigin = row->SuffixOrigin = 1;  /* manual, as GetAdaptersAddresses says */
    row->ValidLifetime = row->PreferredLifetime = 0xFFFFFFFFu;
    row->OnLinkPrefixLength = prefix;
    row->DadState = 4;  /* preferred */
}

/* The table (allocated; FreeMibTable frees it): loopback's 127.0.0.1/8, then the adapter's
 * address. IPv6 is not the virtual PC's: an AF_UNSPEC question gets these rows too. */
uint32_t vl_fill_unicast_table(void **table, uint32_t lan_index, const uint8_t mac[6], uint32_t address_network_order,
                               uint8_t prefix_length) {
    vl_unicast_table *t = vl_mib_table(sizeof *t);
    if (!t) return OUT_OF_MEMORY;
    memset(t, 0, sizeof *t);
    t->NumEntries = 2;
    uint8_t loopback[4] = { 127, 0, 0, 1 };
    uint32_t loopback_address;
    memcpy(&loopback_address, loopback, 4);
    fill_unicast(&t->Table[0], 1, lan_index, mac, loopback_address, 8);
    fill_unicast(&t->Table[1], 0, lan_index, mac, address_network_order, prefix_length);
    *table = t;
    return 0;
}
