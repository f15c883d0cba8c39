#include <stdlib.h>
#include <string.h>
#include "abi_fill.h"

/* Windows keeps one hostent per thread; so do we. */
static _Thread_local struct {
    VL_HOSTENT entry;
    char name[256];
    uint32_t address;
    char *aliases[1];
    char *addresses[2];
} hostent_storage;

VL_HOSTENT *vl_fill_hostent(const char *name, uint32_t address_network_order) {
    size_t length = strnlen(name, sizeof hostent_storage.name - 1);
    memcpy(hostent_storage.name, name, length);
    hostent_storage.name[length] = 0;
    hostent_storage.address = address_network_order;
    hostent_storage.aliases[0] = NULL;
    hostent_storage.addresses[0] = (char *)&hostent_storage.address;
    hostent_storage.addresses[1] = NULL;
    hostent_storage.entry.h_name = hostent_storage.name;
    hostent_storage.entry.h_aliases = hostent_storage.aliases;
    hostent_storage.entry.h_addrtype = VL_AF_INET;
    hostent_storage.entry.h_length = 4;
    hostent_storage.entry.h_addr_list = hostent_storage.addresses;
    return &hostent_storage.entry;
}

static void copy_text(char *to, size_t capacity, const char *from) {
    size_t length = 0;
    while (length + 1 < capacity && from[length]) length++;
    memcpy(to, from, length);
    to[length] = 0;
}

void vl_fill_adapter_info(VL_IP_ADAPTER_INFO *info, uint32_t index, const uint8_t mac[6],
                          const char *address, const char *mask, const char *gateway) {
    memset(info, 0, sizeof *info);
    info->ComboIndex = index;
    char name[39];
    vl_adapter_guid(mac, name);
    copy_text(info->AdapterName, sizeof info->AdapterName, name);
    copy_text(info->Description, sizeof info->Description, "VirtualLAN Ethernet Adapter");
    info->AddressLength = 6;
    memcpy(info->Address, mac, 6);
    info->Index = index;
    info->Type = 6; /* MIB_IF_TYPE_ETHERNET */
    info->DhcpEnabled = 0;
    info->CurrentIpAddress = NULL;
    copy_text(info->IpAddressList.IpAddress, 16, address);
    copy_text(info->IpAddressList.IpMask, 16, mask);
    copy_text(info->GatewayList.IpAddress, 16, gateway);
    copy_text(info->GatewayList.IpMask, 16, "255.255.255.255");
    copy_text(info->DhcpServer.IpAddress, 16, "");
    copy_text(info->PrimaryWinsServer.IpAddress, 16, "");
    copy_text(info->SecondaryWinsServer.IpAddress, 16, "");
}

/* Our addrinfo blocks: a tag in front of the struct tells ours from the system's. */
typedef struct addrinfo_block {
    uint32_t tag;
    uint32_t pad;
    VL_ADDRINFO info;
    VL_SOCKADDR_IN address;
    char name[256];
} addrinfo_block;
#define ADDRINFO_TAG 0x4956414Cu /* "LAVI" */

VL_ADDRINFO *vl_make_addrinfo(uint32_t address_network_order, uint16_t port, int32_t socktype, int32_t protocol,
                              const char *canonical_name) {
    addrinfo_block *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->tag = ADDRINFO_TAG;
    b->address.sin_family = VL_AF_INET;
    b->address.sin_port = (uint16_t)((port >> 8) | (port << 8));
    b->address.sin_addr = address_network_order;
    b->info.ai_family = VL_AF_INET;
    b->info.ai_socktype = socktype;
    b->info.ai_protocol = protocol;
    b->info.ai_addrlen = sizeof b->address;
    b->info.ai_addr = &b->address;
    if (canonical_name) {
        copy_text(b->name, sizeof b->name, canonical_name);
        b->info.ai_canonname = b->name;
    }
    return &b->info;
}

static addrinfo_block *block_of(const VL_ADDRINFO *info) {
    return (addrinfo_block *)((char *)info - offsetof(addrinfo_block, info));
}

int32_t vl_owns_addrinfo(const VL_ADDRINFO *info) { return info && block_of(info)->tag == ADDRINFO_TAG; }

void vl_free_addrinfo(VL_ADDRINFO *info) {
    while (info) {
        VL_ADDRINFO *next = info->ai_next;
        addrinfo_block *b = block_of(info);
        b->tag = 0;
        free(b);
        info = next;
    }
}
