#include <string.h>
#include "hook_table.h"

#define VL_TABLE_ENTRY(module, ordinal, kind, ret, name, sig, params, args) \
    { #name, #module, ordinal, sig, (void *)vl_hook_##name },
const vl_hook vl_hooks[] = { VL_HOOKS(VL_TABLE_ENTRY) };
#undef VL_TABLE_ENTRY
const uint32_t vl_hook_count = sizeof(vl_hooks) / sizeof(vl_hooks[0]);

const vl_hook *vl_find_hook(const char *name) {
    for (uint32_t i = 0; i < vl_hook_count; i++)
        if (strcmp(vl_hooks[i].name, name) == 0) return &vl_hooks[i];
    return NULL;
}
