/* Filling Windows result structures whose layout is easier to get right in C. */
#ifndef VL_ABI_FILL_H
#define VL_ABI_FILL_H
#include "winsock_abi.h"

/* The calling thread's hostent (Windows keeps one per thread) for `name` with one IPv4
 * address (network byte order). */
VL_HOSTENT *vl_fill_hostent(const char *name, uint32_t address_network_order);

/* One Ethernet adapter with the given identity. `info` must hold sizeof(VL_IP_ADAPTER_INFO). */
void vl_fill_adapter_info(VL_IP_ADAPTER_INFO *info, uint32_t index, const uint8_t mac[6],
                          const char *address, const char *mask, const char *gateway);

/* WSAStartup's description block. */
void vl_fill_wsadata(VL_WSADATA *data, uint16_t version);
#endif
