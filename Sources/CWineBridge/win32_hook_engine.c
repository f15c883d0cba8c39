/* The inline-hook engine's OS half: executable memory for the trampolines, and the patch
 * written into a function under VirtualProtect, then the instruction cache flushed. Which
 * bytes go where is the Swift HookEngine's (vl_hook_engine_build, unit-tested on Linux);
 * which functions are hooked is win32_hooks.c's. */
#if defined(_WIN32)
#include <windows.h>
#include <string.h>
#include "hook_engine.h"
#include "swift_exports.h"

enum { TRAMPOLINE_SPACE = 8192, TRAMPOLINE_SLOT = 32, PATCH_MAX = 24 };
static uint8_t *trampolines;
static size_t trampolines_used;

int vl_hook_engine_begin(void) {
    trampolines = VirtualAlloc(NULL, TRAMPOLINE_SPACE, MEM_COMMIT | MEM_RESERVE, PAGE_EXECUTE_READWRITE);
    trampolines_used = 0;
    return trampolines != NULL;
}

void *vl_hook_engine_install(uint8_t *target, void *entry) {
    if (!trampolines || trampolines_used + TRAMPOLINE_SLOT > TRAMPOLINE_SPACE) return NULL;
    uint8_t *t = trampolines + trampolines_used;
    uint8_t patch[PATCH_MAX];
    /* PATCH_MAX bytes of the target are read: every export is longer than that. */
    int32_t length = vl_hook_engine_build(target, PATCH_MAX, entry, t, TRAMPOLINE_SLOT, patch, sizeof patch);
    if (length <= 0) return NULL;
    trampolines_used += TRAMPOLINE_SLOT;
    DWORD old;
    if (!VirtualProtect(target, (SIZE_T)length, PAGE_EXECUTE_READWRITE, &old)) return NULL;
    memcpy(target, patch, (size_t)length);
    VirtualProtect(target, (SIZE_T)length, old, &old);
    FlushInstructionCache(GetCurrentProcess(), target, (SIZE_T)length);
    return t;
}

void vl_hook_engine_end(void) {
    DWORD old;
    if (trampolines) VirtualProtect(trampolines, TRAMPOLINE_SPACE, PAGE_EXECUTE_READ, &old);
}
#endif
