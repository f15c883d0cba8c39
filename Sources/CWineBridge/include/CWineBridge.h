#ifndef VL_CWINEBRIDGE_H
#define VL_CWINEBRIDGE_H
#include "winsock_abi.h"
#include "platform.h"
#include "abi_fill.h"
#endif
