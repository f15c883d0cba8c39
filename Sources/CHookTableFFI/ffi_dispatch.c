/* libffi dispatch of the hook table, for the Linux test build only. */
#if defined(__linux__)
#include <ffi.h>
#include <string.h>
#include "ffi_dispatch.h"
#include "hook_table.h"

static ffi_type *type_of(char code) {
    switch (code) {
    case 'v': return &ffi_type_void;
    case 'i': return &ffi_type_sint32;
    case 'u': return &ffi_type_uint32;
    case 'h': return &ffi_type_uint16;
    case 'p': case 'a': return &ffi_type_pointer;
    case 's': return sizeof(VL_SOCKET) == 8 ? &ffi_type_uint64 : &ffi_type_uint32;
    default: return NULL;
    }
}

int32_t vl_ffi_call(const char *name, const uint64_t *args, uint32_t argc, uint64_t *result) {
    const vl_hook *hook = vl_find_hook(name);
    if (!hook) return -1;
    const char *sig = hook->signature;
    const char *colon = strchr(sig, ':');
    if (!colon || colon != sig + 1) return -3;
    uint32_t count = (uint32_t)strlen(colon + 1);
    if (count != argc || count > 16) return -2;
    ffi_type *types[16];
    void *values[16];
    uint64_t slots[16];
    for (uint32_t i = 0; i < count; i++) {
        types[i] = type_of(colon[1 + i]);
        if (!types[i] || types[i] == &ffi_type_void) return -3;
        slots[i] = args[i];
        values[i] = &slots[i]; /* little endian: narrower types read the low bytes */
    }
    ffi_type *rtype = type_of(sig[0]);
    if (!rtype) return -3;
    ffi_cif cif;
    if (ffi_prep_cif(&cif, FFI_DEFAULT_ABI, count, rtype, types) != FFI_OK) return -3;
    ffi_arg raw = 0;
    ffi_call(&cif, FFI_FN(hook->detour), rtype == &ffi_type_void ? NULL : &raw, values);
    switch (sig[0]) {
    case 'i': *result = (uint64_t)(int64_t)(int32_t)raw; break;
    case 'u': *result = (uint32_t)raw; break;
    case 'h': *result = (uint16_t)raw; break;
    case 'v': *result = 0; break;
    default: *result = (uint64_t)raw; break;
    }
    return 0;
}

uint32_t vl_hook_table_count(void) { return vl_hook_count; }
const char *vl_hook_table_name(uint32_t i) { return i < vl_hook_count ? vl_hooks[i].name : NULL; }
const char *vl_hook_table_signature(uint32_t i) { return i < vl_hook_count ? vl_hooks[i].signature : NULL; }
const char *vl_hook_table_module(uint32_t i) { return i < vl_hook_count ? vl_hooks[i].module : NULL; }
#endif
