/* Test-side dispatch: call a hooked entry point by name through libffi with the signature
 * the hook table declares, so a detour whose real signature differs fails a test. */
#ifndef VL_FFI_DISPATCH_H
#define VL_FFI_DISPATCH_H
#include <stdint.h>

/* Each argument is passed in an 8-byte slot (little endian); the result comes back widened
 * to 64 bits (sign-extended for 'i', zero-extended otherwise). Returns 0, or -1 when the
 * name is not in the table, -2 when `argc` differs from the signature, -3 if libffi refuses. */
int32_t vl_ffi_call(const char *name, const uint64_t *args, uint32_t argc, uint64_t *result);

uint32_t vl_hook_table_count(void);
const char *vl_hook_table_name(uint32_t index);
const char *vl_hook_table_signature(uint32_t index);
const char *vl_hook_table_module(uint32_t index);
#endif
