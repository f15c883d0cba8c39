/* The virtual PC's routes, as GetIpForwardTable (MIB_IPFORWARDROW) and GetIpForwardTable2
 * (MIB_IPFORWARD_ROW2) list them: a PC on a LAN without a router has loopback's 127.0.0.0/8,
 * the LAN's subnet, multicast and the limited broadcast on its adapter, and no default
 * route. Both tables list the same routes, ascending by destination, on the interfaces
 * (index, LUID) GetAdaptersAddresses names. Layouts are ours; the DLL build checks them
 * against mingw's headers. */
#if defined(_WIN32) && (!defined(_WIN32_WINNT) || _WIN32_WINNT < 0x0600)
#undef _WIN32_WINNT
#define _WIN32_WINNT 0x0600  /* netioapi.h's MIB_IPFORWARD_ROW2 */
#endif
#include <stddef.h>
#include <string.h>
#include "abi_fill.h"

typedef struct vl_forward_row {              /* MIB_IPFORWARDROW */
    uint32_t dest, mask, policy, next_hop, if_index, type, proto, age, next_hop_as, metric[5];
} vl_forward_row;

typedef union vl_sockaddr_inet {             /* SOCKADDR_INET */
    VL_SOCKADDR_IN v4;
    uint16_t family;
    uint32_t words[7];                       /* SOCKADDR_IN6's 28 bytes, aligned as it is */
} vl_sockaddr_inet;

typedef struct vl_forward_row2 {             /* MIB_IPFORWARD_ROW2 */
    uint64_t InterfaceLuid;
    uint32_t InterfaceIndex;
    struct { vl_sockaddr_inet Prefix; uint8_t PrefixLength; } DestinationPrefix;
    vl_sockaddr_inet NextHop;
    uint8_t SitePrefixLength;
    uint32_t ValidLifetime, PreferredLifetime, Metric, Protocol;
    uint8_t Loopback, AutoconfigureAddress, Publish, Immortal;
    uint32_t Age, Origin;
} vl_forward_row2;

enum { ROUTES = 4 };

typedef struct vl_forward_table2 {           /* MIB_IPFORWARD_TABLE2 */
    uint32_t NumEntries;
    vl_forward_row2 Table[ROUTES];
} vl_forward_table2;

#if defined(_WIN32)
#include <winsock2.h>
#include <ws2tcpip.h>
#include <iphlpapi.h>
#include <netioapi.h>
#define SAME(ours, theirs, field) _Static_assert(offsetof(ours, field) == offsetof(theirs, field), #theirs "." #field)
_Static_assert(sizeof(vl_forward_row) == sizeof(MIB_IPFORWARDROW), "MIB_IPFORWARDROW");
_Static_assert(sizeof(vl_sockaddr_inet) == sizeof(SOCKADDR_INET), "SOCKADDR_INET");
SAME(vl_forward_row2, MIB_IPFORWARD_ROW2, InterfaceIndex); SAME(vl_forward_row2, MIB_IPFORWARD_ROW2, DestinationPrefix);
SAME(vl_forward_row2, MIB_IPFORWARD_ROW2, NextHop); SAME(vl_forward_row2, MIB_IPFORWARD_ROW2, SitePrefixLength);
SAME(vl_forward_row2, MIB_IPFORWARD_ROW2, Metric); SAME(vl_forward_row2, MIB_IPFORWARD_ROW2, Loopback);
SAME(vl_forward_row2, MIB_IPFORWARD_ROW2, Origin);
_Static_assert(offsetof(vl_forward_row2, DestinationPrefix.PrefixLength) == offsetof(MIB_IPFORWARD_ROW2, DestinationPrefix.PrefixLength),
               "IP_ADDRESS_PREFIX.PrefixLength");
_Static_assert(sizeof(vl_forward_row2) == sizeof(MIB_IPFORWARD_ROW2), "MIB_IPFORWARD_ROW2");
_Static_assert(offsetof(vl_forward_table2, Table) == offsetof(MIB_IPFORWARD_TABLE2, Table), "MIB_IPFORWARD_TABLE2.Table");
#endif

enum { LOOPBACK_INDEX = 1, TYPE_ETHERNET = 6, TYPE_LOOPBACK = 24, INSUFFICIENT_BUFFER = 122, OUT_OF_MEMORY = 14,
       HOST_UNREACHABLE = 1232, ROUTE_DIRECT = 3, PROTO_LOCAL = 2 };

/* One route: destination and prefix length (network order), its interface, and the local
 * address a route of the old table names as its next hop. */
typedef struct route { uint32_t destination; uint8_t prefix; uint32_t index, local; } route;

static uint32_t address_of(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    uint8_t bytes[4] = { a, b, c, d };
    uint32_t value;
    memcpy(&value, bytes, 4);
    return value;
}

static uint32_t mask_of(uint8_t prefix) {
    uint32_t host = prefix == 0 ? 0 : 0xFFFFFFFFu << (32 - prefix);
    return address_of((uint8_t)(host >> 24), (uint8_t)(host >> 16), (uint8_t)(host >> 8), (uint8_t)host);
}

static void list_routes(route out[ROUTES], uint32_t lan_index, uint32_t address, uint8_t prefix) {
    route routes[ROUTES] = {
        { address_of(127, 0, 0, 0), 8, LOOPBACK_INDEX, address_of(127, 0, 0, 1) },
        { address & mask_of(prefix), prefix, lan_index, address },
        { address_of(224, 0, 0, 0), 4, lan_index, address },
        { address_of(255, 255, 255, 255), 32, lan_index, address },
    };
    memcpy(out, routes, sizeof routes);
}

/* As GetAdaptersAddresses' Ipv4Metric. */
static uint32_t metric_of(uint32_t index) { return index == LOOPBACK_INDEX ? 75 : 25; }

static void fill_forward_row(vl_forward_row *r, const route *route) {
    memset(r, 0, sizeof *r);
    r->dest = route->destination;
    r->mask = mask_of(route->prefix);
    r->next_hop = route->local;
    r->if_index = route->index;
    r->type = ROUTE_DIRECT;
    r->proto = PROTO_LOCAL;
    r->metric[0] = metric_of(route->index);
    for (int m = 1; m < 5; m++) r->metric[m] = 0xFFFFFFFFu;
}

/* GetIpForwardTable. */
uint32_t vl_fill_ip_forward_table(void *table, uint32_t *size, uint32_t lan_index, uint32_t address_network_order,
                                  uint8_t prefix_length) {
    uint32_t needed = sizeof(uint32_t) + ROUTES * sizeof(vl_forward_row);
    if (!table || *size < needed) { *size = needed; return INSUFFICIENT_BUFFER; }
    *(uint32_t *)table = ROUTES;
    vl_forward_row *rows = (vl_forward_row *)((uint8_t *)table + sizeof(uint32_t));
    route routes[ROUTES];
    list_routes(routes, lan_index, address_network_order, prefix_length);
    for (int i = 0; i < ROUTES; i++) fill_forward_row(&rows[i], &routes[i]);
    return 0;
}

/* GetBestRoute: the longest prefix that holds the destination. */
uint32_t vl_fill_best_route(void *row, uint32_t destination_network_order, uint32_t lan_index, uint32_t address_network_order,
                            uint8_t prefix_length) {
    route routes[ROUTES];
    list_routes(routes, lan_index, address_network_order, prefix_length);
    int best = -1;
    for (int i = 0; i < ROUTES; i++)
        if ((destination_network_order & mask_of(routes[i].prefix)) == routes[i].destination
            && (best < 0 || routes[i].prefix > routes[best].prefix)) best = i;
    if (best < 0) return HOST_UNREACHABLE;
    fill_forward_row(row, &routes[best]);
    return 0;
}

/* GetIpForwardTable2 for IPv4 (allocated; FreeMibTable frees it): the same routes, each
 * on-link (next hop 0.0.0.0), on the interface's LUID. */
uint32_t vl_fill_ip_forward_table2(void **table, uint32_t lan_index, uint32_t address_network_order, uint8_t prefix_length) {
    vl_forward_table2 *t = vl_mib_table(sizeof *t);
    if (!t) return OUT_OF_MEMORY;
    memset(t, 0, sizeof *t);
    t->NumEntries = ROUTES;
    route routes[ROUTES];
    list_routes(routes, lan_index, address_network_order, prefix_length);
    for (int i = 0; i < ROUTES; i++) {
        vl_forward_row2 *r = &t->Table[i];
        int loopback = routes[i].index == LOOPBACK_INDEX;
        r->InterfaceLuid = vl_interface_luid(loopback ? TYPE_LOOPBACK : TYPE_ETHERNET, routes[i].index);
        r->InterfaceIndex = routes[i].index;
        r->DestinationPrefix.Prefix.v4.sin_family = VL_AF_INET;
        r->DestinationPrefix.Prefix.v4.sin_addr = routes[i].destination;
        r->DestinationPrefix.PrefixLength = routes[i].prefix;
        r->NextHop.v4.sin_family = VL_AF_INET;
        r->ValidLifetime = r->PreferredLifetime = 0xFFFFFFFFu;
        r->Metric = metric_of(routes[i].index);
        r->Protocol = PROTO_LOCAL;
        r->Loopback = (uint8_t)loopback;
        r->AutoconfigureAddress = 1;
        r->Immortal = 1;
    }
    *table = t;
    return 0;
}

uint32_t vl_forward_row_size(void) { return sizeof(vl_forward_row); }
