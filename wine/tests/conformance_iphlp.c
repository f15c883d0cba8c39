/* conformance.exe, the identity wherever a program looks for it: IP Helper's tables and
 * routes, the resolver's answers for the machine itself (the same line format as
 * conformance.c). Only facts that do not depend on the machine are printed: counts, flags,
 * whether an address is on the virtual LAN (192.168.80.0/24) or loopback. */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <iphlpapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conformance.h"

static int in_lan(DWORD network_order) { return (ntohl(network_order) >> 8) == 0xC0A850; }
static int is_loopback(DWORD network_order) { return (ntohl(network_order) >> 24) == 127; }

/* The index GetAdaptersInfo gives the adapter on the virtual LAN (0: none). */
static DWORD lan_adapter_index(void) {
    ULONG size = 0;
    GetAdaptersInfo(NULL, &size);
    IP_ADAPTER_INFO *adapters = size ? malloc(size) : NULL;
    DWORD index = 0;
    if (adapters && GetAdaptersInfo(adapters, &size) == NO_ERROR)
        for (IP_ADAPTER_INFO *a = adapters; a; a = a->Next)
            if (in_lan(inet_addr(a->IpAddressList.IpAddress.String))) index = a->Index;
    free(adapters);
    return index;
}

static void address_table(DWORD lan_index) {
    ULONG size = 0;
    DWORD e = GetIpAddrTable(NULL, &size, FALSE);
    check("iphlp.addr-table-sizing", "error=%lu sized=%d", e, size >= sizeof(MIB_IPADDRTABLE));
    MIB_IPADDRTABLE *table = size ? malloc(size) : NULL;
    ULONG short_size = sizeof(DWORD);
    check("iphlp.addr-table-short", "error=%lu", GetIpAddrTable(table, &short_size, FALSE));
    e = table ? GetIpAddrTable(table, &size, TRUE) : 1;
    int lan = 0, loop = 0, lan_index_matches = 0, lan_bcast = -1, lan_mask_24 = 0, loop_index = -1, sorted = 1;
    for (DWORD i = 0; e == NO_ERROR && i < table->dwNumEntries; i++) {
        MIB_IPADDRROW *row = &table->table[i];
        if (i && ntohl(row->dwAddr) < ntohl(table->table[i - 1].dwAddr)) sorted = 0;
        if (in_lan(row->dwAddr)) {
            lan++;
            lan_index_matches = row->dwIndex == lan_index;
            lan_bcast = (int)row->dwBCastAddr;
            lan_mask_24 = row->dwMask == htonl(0xFFFFFF00);
        }
        if (is_loopback(row->dwAddr)) { loop++; loop_index = (int)row->dwIndex; }
    }
    check("iphlp.addr-table", "error=%lu lan=%d loopback=%d", e, lan, loop);
    check("iphlp.addr-table-rows", "lan-index-as-adapters-info=%d lan-bcast=%d lan-mask-24=%d loopback-index=%d sorted=%d",
          lan_index_matches, lan_bcast, lan_mask_24, loop_index, sorted);
    check("iphlp.addr-table-no-size", "error=%lu", GetIpAddrTable(table, NULL, FALSE));
    free(table);
}

static void best_interface(DWORD lan_index) {
    DWORD index = 12345;
    DWORD e = GetBestInterface(inet_addr("192.168.80.77"), &index);
    check("iphlp.best-interface-lan", "error=%lu is-lan-adapter=%d", e, e == NO_ERROR && index == lan_index);
    index = 12345;
    e = GetBestInterface(inet_addr("127.0.0.1"), &index);
    check("iphlp.best-interface-loopback", "error=%lu index=%lu", e, e == NO_ERROR ? index : 0);
    index = 12345;
    e = GetBestInterface(inet_addr("10.213.77.5"), &index);
    check("iphlp.best-interface-far", "error=%lu", e);
    check("iphlp.best-interface-no-index", "error=%lu", GetBestInterface(inet_addr("127.0.0.1"), NULL));
    /* GetBestRoute takes the route of the interface GetBestInterface names. */
    const char *targets[3] = { "127.0.0.1", "192.168.80.77", "10.213.77.5" };
    const char *names[3] = { "iphlp.best-route-loopback", "iphlp.best-route-lan", "iphlp.best-route-far" };
    for (int i = 0; i < 3; i++) {
        MIB_IPFORWARDROW route;
        DWORD via = 0;
        DWORD route_error = GetBestRoute(inet_addr(targets[i]), 0, &route);
        DWORD interface_error = GetBestInterface(inet_addr(targets[i]), &via);
        check(names[i], "error=%lu same-interface=%d", route_error,
              route_error == interface_error && (route_error != NO_ERROR || route.dwForwardIfIndex == via));
    }
    struct sockaddr_in to = address("192.168.80.77", 0);
    index = 12345;
    e = GetBestInterfaceEx((struct sockaddr *)&to, &index);
    check("iphlp.best-interface-ex-lan", "error=%lu is-lan-adapter=%d", e, e == NO_ERROR && index == lan_index);
    struct sockaddr_in6 six;
    memset(&six, 0, sizeof six);
    six.sin6_family = AF_INET6;
    six.sin6_addr.s6_addr[15] = 1;
    index = 12345;
    e = GetBestInterfaceEx((struct sockaddr *)&six, &index);
    check("iphlp.best-interface-ex-ipv6-loopback", "error=%lu", e);
}

/* GetAdaptersAddresses for one family: what the list holds. */
static void adapter_addresses(const char *id, ULONG family, DWORD lan_index) {
    ULONG size = 0;
    DWORD sizing = GetAdaptersAddresses(family, 0, NULL, NULL, &size);
    IP_ADAPTER_ADDRESSES *list = size ? malloc(size) : NULL;
    DWORD e = list ? GetAdaptersAddresses(family, 0, NULL, list, &size) : 1;
    int adapters = 0, lan = 0, loop = 0, lan_up = 0, lan_ethernet = 0, lan_prefix = -1, lan_index_matches = 0, lan_mac = 0,
        lan_names = 0, loop_type = 0, lan_gateway = 0, lan_dns = 0;
    for (IP_ADAPTER_ADDRESSES *a = e == NO_ERROR ? list : NULL; a; a = a->Next) {
        adapters++;
        for (IP_ADAPTER_UNICAST_ADDRESS *u = a->FirstUnicastAddress; u; u = u->Next) {
            if (u->Address.lpSockaddr->sa_family != AF_INET) continue;
            DWORD ip = ((struct sockaddr_in *)u->Address.lpSockaddr)->sin_addr.s_addr;
            if (in_lan(ip)) {
                lan++;
                lan_up = a->OperStatus == IfOperStatusUp;
                lan_ethernet = a->IfType == IF_TYPE_ETHERNET_CSMACD;
                lan_prefix = u->OnLinkPrefixLength;
                lan_index_matches = a->IfIndex == lan_index;
                lan_mac = a->PhysicalAddressLength == 6;
                lan_names = a->AdapterName && a->AdapterName[0] && a->FriendlyName && a->FriendlyName[0] && a->Description && a->Description[0];
                lan_gateway = a->FirstGatewayAddress != NULL;
                lan_dns = a->FirstDnsServerAddress != NULL;
            }
            if (is_loopback(ip)) { loop++; loop_type = a->IfType; }
        }
    }
    check(id, "sizing=%lu error=%lu lan=%d loopback=%d", sizing, e, lan, loop);
    char rows[64];
    snprintf(rows, sizeof rows, "%s-lan", id);
    check(rows, "up=%d ethernet=%d prefix=%d index-as-adapters-info=%d mac=%d names=%d gateway=%d dns=%d loopback-type=%d",
          lan_up, lan_ethernet, lan_prefix, lan_index_matches, lan_mac, lan_names, lan_gateway, lan_dns, loop_type);
    (void)adapters;
    free(list);
}

static void resolver_for_self(void) {
    struct hostent *host = gethostbyname("");
    DWORD first = 0;
    if (host && host->h_addr_list[0]) memcpy(&first, host->h_addr_list[0], 4);
    check("self.gethostbyname-empty", "found=%d in-virtual-lan=%d", host != NULL, in_lan(first));
    struct addrinfo hints, *result = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_DGRAM;
    int r = getaddrinfo("", "9000", &hints, &result);
    DWORD got = result ? ((struct sockaddr_in *)result->ai_addr)->sin_addr.s_addr : 0;
    check("self.getaddrinfo-empty", "%d in-virtual-lan=%d", r, in_lan(got));
    if (result) freeaddrinfo(result);
    result = NULL;
    r = getaddrinfo(NULL, "9000", &hints, &result);
    got = result ? ((struct sockaddr_in *)result->ai_addr)->sin_addr.s_addr : 0;
    check("self.getaddrinfo-null", "%d loopback=%d", r, is_loopback(got));
    if (result) freeaddrinfo(result);
    char name[256] = "";
    gethostname(name, sizeof name);
    host = gethostbyname(name);
    if (host && host->h_addr_list[0]) memcpy(&first, host->h_addr_list[0], 4);
    struct hostent *back = host ? gethostbyaddr((const char *)&first, 4, AF_INET) : NULL;
    check("self.gethostbyaddr-own", "found=%d same-name=%d", back != NULL, back && strcmp(back->h_name, name) == 0);
}

/* The interface family agrees with GetAdaptersAddresses on every interface (index, LUID,
 * GUID as the AdapterName, MAC, type, alias), and GetIfTable2 and GetNumberOfInterfaces
 * list the same ones: one machine, wherever a program looks. Printed: whether it all
 * agrees (the machine's own counts differ between runs, the agreement must not). */
static void interface_family(void) {
    ULONG size = 0;
    GetAdaptersAddresses(AF_UNSPEC, 0, NULL, NULL, &size);
    IP_ADAPTER_ADDRESSES *adapters = size ? malloc(size) : NULL;
    DWORD e = adapters ? GetAdaptersAddresses(AF_UNSPEC, 0, NULL, adapters, &size) : 1;
    int listed = 0, agrees = 0;
    for (IP_ADAPTER_ADDRESSES *a = adapters; e == NO_ERROR && a; a = a->Next) {
        listed++;
        NET_LUID luid = {0};
        NET_IFINDEX index = 0;
        GUID guid;
        WCHAR guid_text[40];
        char guid_name[40];
        MIB_IF_ROW2 row;
        memset(&row, 0, sizeof row);
        row.InterfaceLuid = a->Luid;
        int ok = ConvertInterfaceIndexToLuid(a->IfIndex, &luid) == NO_ERROR && luid.Value == a->Luid.Value
                 && ConvertInterfaceLuidToIndex(&a->Luid, &index) == NO_ERROR && index == a->IfIndex
                 && ConvertInterfaceLuidToGuid(&a->Luid, &guid) == NO_ERROR
                 && StringFromGUID2(&guid, guid_text, 40) > 0
                 && WideCharToMultiByte(CP_ACP, 0, guid_text, -1, guid_name, sizeof guid_name, NULL, NULL) > 0
                 && _stricmp(guid_name, a->AdapterName) == 0
                 && ConvertInterfaceGuidToLuid(&guid, &luid) == NO_ERROR && luid.Value == a->Luid.Value
                 && GetIfEntry2(&row) == NO_ERROR && row.InterfaceIndex == a->IfIndex && row.Type == a->IfType
                 && row.PhysicalAddressLength == a->PhysicalAddressLength
                 && memcmp(row.PhysicalAddress, a->PhysicalAddress, a->PhysicalAddressLength) == 0
                 && wcscmp(row.Alias, a->FriendlyName) == 0;
        agrees += ok;
    }
    check("iphlp.interfaces-agree", "error=%lu all-agree=%d", e, listed > 0 && agrees == listed);
    MIB_IF_TABLE2 *table = NULL;
    e = GetIfTable2(&table);
    int same = e == NO_ERROR && table && (int)table->NumEntries == listed;
    for (ULONG i = 0; same && i < table->NumEntries; i++) {
        int found = 0;
        for (IP_ADAPTER_ADDRESSES *a = adapters; a; a = a->Next) found |= a->IfIndex == table->Table[i].InterfaceIndex;
        same = found;
    }
    DWORD count = 0;
    check("iphlp.if-table2-agrees", "error=%lu same=%d count-agrees=%d", e, same,
          GetNumberOfInterfaces(&count) == NO_ERROR && table && count == table->NumEntries);
    if (table) FreeMibTable(table);
    /* The names: each interface's alias is its FriendlyName and leads back to its LUID;
     * its name (ConvertInterfaceLuidToName, if_indextoname) leads back to its LUID and index. */
    int named = 0;
    for (IP_ADAPTER_ADDRESSES *a = adapters; a; a = a->Next) {
        WCHAR alias[IF_MAX_STRING_SIZE + 1];
        char name[IF_MAX_STRING_SIZE + 1], by_index[IF_MAX_STRING_SIZE + 1];
        NET_LUID luid = {0}, from_name = {0};
        named += ConvertInterfaceLuidToAlias(&a->Luid, alias, IF_MAX_STRING_SIZE + 1) == NO_ERROR
                 && wcscmp(alias, a->FriendlyName) == 0
                 && ConvertInterfaceAliasToLuid(a->FriendlyName, &luid) == NO_ERROR && luid.Value == a->Luid.Value
                 && ConvertInterfaceLuidToNameA(&a->Luid, name, sizeof name) == NO_ERROR
                 && ConvertInterfaceNameToLuidA(name, &from_name) == NO_ERROR && from_name.Value == a->Luid.Value
                 && if_nametoindex(name) == a->IfIndex
                 && if_indextoname(a->IfIndex, by_index) && strcmp(by_index, name) == 0;
    }
    check("iphlp.names-agree", "all-agree=%d", listed > 0 && named == listed);
    /* GetInterfaceInfo lists the adapters that are not loopback, by the names
     * GetAdapterIndex takes back: "\DEVICE\TCPIP_" and their AdapterName. */
    ULONG info_size = 0;
    GetInterfaceInfo(NULL, &info_size);
    IP_INTERFACE_INFO *info = info_size ? malloc(info_size) : NULL;
    DWORD info_error = info ? GetInterfaceInfo(info, &info_size) : 1;
    int others = 0, found = 0;
    for (IP_ADAPTER_ADDRESSES *a = adapters; a; a = a->Next) {
        if (a->IfType == IF_TYPE_SOFTWARE_LOOPBACK) continue;
        others++;
        WCHAR name[MAX_ADAPTER_NAME];
        swprintf(name, MAX_ADAPTER_NAME, L"\\DEVICE\\TCPIP_%hs", a->AdapterName);
        ULONG by_name = 0;
        for (LONG i = 0; info_error == NO_ERROR && i < info->NumAdapters; i++)
            found += info->Adapter[i].Index == a->IfIndex && _wcsicmp(info->Adapter[i].Name, name) == 0
                     && GetAdapterIndex(info->Adapter[i].Name, &by_name) == NO_ERROR && by_name == a->IfIndex;
    }
    check("iphlp.interface-info-agrees", "error=%lu same=%d", info_error,
          info_error == NO_ERROR && info->NumAdapters == others && found == others);
    free(info);

    /* The older tables: GetIfTable/GetIfEntry, the routes' interfaces, the host name. */
    ULONG if_size = 0;
    GetIfTable(NULL, &if_size, TRUE);
    MIB_IFTABLE *if_table = if_size ? malloc(if_size) : NULL;
    e = if_table ? GetIfTable(if_table, &if_size, TRUE) : 1;
    same = e == NO_ERROR && (int)if_table->dwNumEntries == listed;
    for (DWORD i = 0; same && i < if_table->dwNumEntries; i++) {
        MIB_IFROW *row = &if_table->table[i], entry;
        int found = 0;
        for (IP_ADAPTER_ADDRESSES *a = adapters; a; a = a->Next)
            found |= a->IfIndex == row->dwIndex && a->PhysicalAddressLength == row->dwPhysAddrLen
                     && memcmp(a->PhysicalAddress, row->bPhysAddr, row->dwPhysAddrLen) == 0;
        memset(&entry, 0, sizeof entry);
        entry.dwIndex = row->dwIndex;
        same = found && GetIfEntry(&entry) == NO_ERROR && entry.dwType == row->dwType;
    }
    check("iphlp.if-table-agrees", "error=%lu same=%d", e, same);
    free(if_table);
    ULONG routes_size = 0;
    GetIpForwardTable(NULL, &routes_size, TRUE);
    MIB_IPFORWARDTABLE *routes = routes_size ? malloc(routes_size) : NULL;
    e = routes ? GetIpForwardTable(routes, &routes_size, TRUE) : 1;
    int known = e == NO_ERROR;
    for (DWORD i = 0; known && i < routes->dwNumEntries; i++) {
        int found = 0;
        for (IP_ADAPTER_ADDRESSES *a = adapters; a; a = a->Next) found |= a->IfIndex == routes->table[i].dwForwardIfIndex;
        known = found;
    }
    check("iphlp.routes-agree", "error=%lu interfaces-known=%d", e, known);
    /* GetIpForwardTable2 lists the same IPv4 routes, on interfaces GetAdaptersAddresses
     * names by index and LUID. */
    MIB_IPFORWARD_TABLE2 *routes2 = NULL;
    DWORD e2 = GetIpForwardTable2(AF_INET, &routes2);
    int same_routes = e == NO_ERROR && e2 == NO_ERROR && routes2->NumEntries == routes->dwNumEntries;
    for (ULONG i = 0; same_routes && i < routes2->NumEntries; i++) {
        MIB_IPFORWARD_ROW2 *row = &routes2->Table[i];
        int in_old = 0, on_adapter = 0;
        for (DWORD j = 0; j < routes->dwNumEntries; j++)
            in_old |= routes->table[j].dwForwardDest == row->DestinationPrefix.Prefix.Ipv4.sin_addr.s_addr
                      && routes->table[j].dwForwardIfIndex == row->InterfaceIndex;
        for (IP_ADAPTER_ADDRESSES *a = adapters; a; a = a->Next)
            on_adapter |= a->IfIndex == row->InterfaceIndex && a->Luid.Value == row->InterfaceLuid.Value;
        same_routes = in_old && on_adapter;
    }
    check("iphlp.routes2-agree", "error=%lu same=%d", e2, same_routes);
    if (routes2) FreeMibTable(routes2);
    free(routes);
    /* Every IPv4 address GetUnicastIpAddressTable lists is one GetAdaptersAddresses gives
     * the same interface (index, LUID, prefix), and the counts agree. */
    MIB_UNICASTIPADDRESS_TABLE *unicast = NULL;
    e = GetUnicastIpAddressTable(AF_INET, &unicast);
    int v4 = 0, matched = 0;
    for (IP_ADAPTER_ADDRESSES *a = adapters; a; a = a->Next)
        for (IP_ADAPTER_UNICAST_ADDRESS *u = a->FirstUnicastAddress; u; u = u->Next)
            if (u->Address.lpSockaddr->sa_family == AF_INET) v4++;
    for (ULONG i = 0; e == NO_ERROR && i < unicast->NumEntries; i++) {
        MIB_UNICASTIPADDRESS_ROW *row = &unicast->Table[i];
        for (IP_ADAPTER_ADDRESSES *a = adapters; a; a = a->Next)
            for (IP_ADAPTER_UNICAST_ADDRESS *u = a->FirstUnicastAddress; u; u = u->Next)
                if (u->Address.lpSockaddr->sa_family == AF_INET && a->IfIndex == row->InterfaceIndex
                    && a->Luid.Value == row->InterfaceLuid.Value && u->OnLinkPrefixLength == row->OnLinkPrefixLength
                    && ((struct sockaddr_in *)u->Address.lpSockaddr)->sin_addr.s_addr == row->Address.Ipv4.sin_addr.s_addr)
                    matched++;
    }
    check("iphlp.unicast-table-agrees", "error=%lu same=%d", e, e == NO_ERROR && (int)unicast->NumEntries == v4 && matched == v4);
    if (unicast) FreeMibTable(unicast);
    ULONG params_size = 0;
    GetNetworkParams(NULL, &params_size);
    FIXED_INFO *params = params_size ? malloc(params_size) : NULL;
    char name[256] = "";
    gethostname(name, sizeof name);
    e = params ? GetNetworkParams(params, &params_size) : 1;
    check("iphlp.network-params-name", "error=%lu same-as-gethostname=%d", e, e == NO_ERROR && _stricmp(params->HostName, name) == 0);
    free(params);
    free(adapters);
}

void iphlp_checks(void) {
    DWORD lan_index = lan_adapter_index();
    address_table(lan_index);
    best_interface(lan_index);
    adapter_addresses("iphlp.adapters-inet", AF_INET, lan_index);
    adapter_addresses("iphlp.adapters-unspec", AF_UNSPEC, lan_index);
    resolver_for_self();
    interface_family();
}
