/* The inline-hook engine's OS half (win32_hook_engine.c); the bytes come from the Swift
 * HookEngine (vl_hook_engine_build). No Winsock in it: a function's start becomes a jump
 * to `entry`, and the returned trampoline calls the function as it was. */
#ifndef VL_HOOK_ENGINE_H
#define VL_HOOK_ENGINE_H
#include <stdint.h>

/* Reserves the trampolines' executable memory; 0 when it cannot. */
int vl_hook_engine_begin(void);
/* Hooks `target`; returns its trampoline, or NULL when its start cannot be moved. */
void *vl_hook_engine_install(uint8_t *target, void *entry);
/* Makes the trampolines read-only (executable) once every hook is in. */
void vl_hook_engine_end(void);
#endif
