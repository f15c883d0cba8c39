/* Filling Windows result structures whose layout is easier to get right in C. */
#ifndef VL_ABI_FILL_H
#define VL_ABI_FILL_H
#include <stddef.h>
#include "winsock_abi.h"

/* The calling thread's hostent (Windows keeps one per thread) for `name` with one IPv4
 * address (network byte order). */
VL_HOSTENT *vl_fill_hostent(const char *name, uint32_t address_network_order);

/* One Ethernet adapter with the given identity. `info` must hold sizeof(VL_IP_ADAPTER_INFO). */
void vl_fill_adapter_info(VL_IP_ADAPTER_INFO *info, uint32_t index, const uint8_t mac[6],
                          const char *address, const char *mask, const char *gateway);

/* One ADDRINFOA (with its sockaddr and canonical name) in a single block of ours;
 * NULL when out of memory. vl_free_addrinfo frees a chain that vl_owns_addrinfo says
 * is ours (the DLL hands any other chain to the original freeaddrinfo). */
VL_ADDRINFO *vl_make_addrinfo(uint32_t address_network_order, uint16_t port, int32_t socktype, int32_t protocol,
                              const char *canonical_name);
int32_t vl_owns_addrinfo(const VL_ADDRINFO *info);
void vl_free_addrinfo(VL_ADDRINFO *info);

/* The stable GUID-shaped name of the adapter with this MAC, as Windows names adapters. */
void vl_adapter_guid(const uint8_t mac[6], char out[39]);

/* GetAdaptersAddresses' answer for IPv4: the adapter on the virtual LAN (index, MAC,
 * address, prefix length) and loopback (index 1), both up. ERROR_BUFFER_OVERFLOW with
 * *size set when the buffer is too small. */
uint32_t vl_fill_adapter_addresses(void *buffer, uint32_t *size, uint32_t flags, uint32_t index, const uint8_t mac[6],
                                   uint32_t address_network_order, uint8_t prefix_length);
/* GetInterfaceInfo's table (the adapter that is not loopback) and GetAdapterIndex's index
 * for "\DEVICE\TCPIP_" + an AdapterName (ERROR_INVALID_PARAMETER for another). */
uint32_t vl_fill_interface_info(void *table, uint32_t *size, uint32_t index, const uint8_t mac[6]);
uint32_t vl_adapter_index(const uint16_t *name, uint32_t *index, uint32_t lan_index, const uint8_t mac[6]);
/* GetBestRoute: the route GetIpForwardTable lists that matches `destination` longest
 * (ERROR_HOST_UNREACHABLE: none, beyond the LAN). */
uint32_t vl_fill_best_route(void *row, uint32_t destination_network_order, uint32_t lan_index, uint32_t address_network_order,
                            uint8_t prefix_length);
/* GetIpAddrTable's answer: loopback, then the adapter on the virtual LAN.
 * ERROR_INSUFFICIENT_BUFFER with *size set when the table is too small. */
uint32_t vl_fill_ip_addr_table(void *table, uint32_t *size, uint32_t index, uint32_t address_network_order,
                               uint32_t mask_network_order);

/* The interface family (abi_interfaces.c), for the same two interfaces: the virtual LAN's
 * adapter (`lan_index`, `mac`) and loopback (index 1). Win32 errors: ERROR_FILE_NOT_FOUND
 * for an interface the PC does not have. LUIDs and GUIDs are read and written as bytes
 * (8 and 16), wherever they sit. */
uint64_t vl_interface_luid(uint32_t type, uint32_t index);
uint32_t vl_interface_count(void);
/* The aliases (FriendlyName) and if_indextoname's names ("ethernet_<index>", "loopback_1"). */
uint32_t vl_interface_luid_to_alias(const void *luid, uint32_t lan_index, const uint8_t mac[6], uint16_t *alias, size_t length);
uint32_t vl_interface_alias_to_luid(const uint16_t *alias, uint32_t lan_index, const uint8_t mac[6], void *luid);
char *vl_interface_index_to_name(uint32_t index, uint32_t lan_index, const uint8_t mac[6], char *name);
uint32_t vl_interface_name_to_index(const char *name, uint32_t lan_index, const uint8_t mac[6]);
uint32_t vl_interface_index_to_luid(uint32_t index, uint32_t lan_index, const uint8_t mac[6], void *luid);
uint32_t vl_interface_luid_to_index(const void *luid, uint32_t lan_index, const uint8_t mac[6], uint32_t *index);
uint32_t vl_interface_luid_to_guid(const void *luid, uint32_t lan_index, const uint8_t mac[6], void *guid);
uint32_t vl_interface_guid_to_luid(const void *guid, uint32_t lan_index, const uint8_t mac[6], void *luid);
/* GetIfEntry2's row (picked by its InterfaceLuid, else its InterfaceIndex), and
 * GetIfTable2's table (allocated; FreeMibTable frees it). */
uint32_t vl_fill_if_row2(void *row, uint32_t lan_index, const uint8_t mac[6]);
uint32_t vl_fill_if_table2(void **table, uint32_t lan_index, const uint8_t mac[6]);
/* GetIfEntry's row (picked by its dwIndex) and GetIfTable's table; GetIpForwardTable's
 * routes; GetNetworkParams' FIXED_INFO. ERROR_INSUFFICIENT_BUFFER (ERROR_BUFFER_OVERFLOW
 * for FIXED_INFO) with *size set when the buffer is too small. */
uint32_t vl_fill_if_row(void *row, uint32_t lan_index, const uint8_t mac[6]);
uint32_t vl_fill_if_table(void *table, uint32_t *size, uint32_t lan_index, const uint8_t mac[6]);
uint32_t vl_fill_ip_forward_table(void *table, uint32_t *size, uint32_t lan_index, uint32_t address_network_order,
                                  uint8_t prefix_length);
/* GetIpForwardTable2's table for IPv4 (abi_routes.c; allocated: FreeMibTable frees it). */
uint32_t vl_fill_ip_forward_table2(void **table, uint32_t lan_index, uint32_t address_network_order, uint8_t prefix_length);
/* A table FreeMibTable frees (the process heap; the Linux build: malloc). */
void *vl_mib_table(size_t size);
uint32_t vl_fill_network_params(void *info, uint32_t *size, const char *host_name);
/* GetUnicastIpAddressTable's table for IPv4 (allocated; FreeMibTable frees it). */
uint32_t vl_fill_unicast_table(void **table, uint32_t lan_index, const uint8_t mac[6], uint32_t address_network_order,
                               uint8_t prefix_length);
/* MIB_IF_ROW2's and MIB_IFROW's sizes. */
uint32_t vl_if_row2_size(void);
uint32_t vl_if_row_size(void);
uint32_t vl_forward_row_size(void);

/* WSAStartup's description block. */
#endif
