/* The few C symbols the Embedded Swift runtime needs in the DLL (toolchain.md). Memory:
 * Swift frees with plain `free`, so every allocation of the DLL goes through one pair
 * built on the process heap, with the alignment Swift asks for. */
#if defined(_WIN32)
#include <windows.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>

/* Each block: [padding][size_t offset-to-start][user bytes]. */
static void *aligned_block(size_t size, size_t alignment) {
    if (alignment < sizeof(void *)) alignment = sizeof(void *);
    size_t total = size + alignment + sizeof(size_t);
    if (total < size) return NULL;
    uint8_t *raw = HeapAlloc(GetProcessHeap(), 0, total);
    if (!raw) return NULL;
    uintptr_t user = ((uintptr_t)raw + sizeof(size_t) + alignment - 1) & ~(uintptr_t)(alignment - 1);
    ((size_t *)user)[-1] = user - (uintptr_t)raw;
    return (void *)user;
}

static void *block_start(void *p) { return (uint8_t *)p - ((size_t *)p)[-1]; }

void *malloc(size_t size) { return aligned_block(size ? size : 1, 16); }

void free(void *p) {
    if (p) HeapFree(GetProcessHeap(), 0, block_start(p));
}

void *calloc(size_t count, size_t size) {
    if (size && count > (size_t)-1 / size) return NULL;
    void *p = malloc(count * size);
    if (p) memset(p, 0, count * size);
    return p;
}

void *realloc(void *p, size_t size) {
    if (!p) return malloc(size);
    if (!size) { free(p); return NULL; }
    void *start = block_start(p);
    size_t offset = ((size_t *)p)[-1];
    size_t old = HeapSize(GetProcessHeap(), 0, start) - offset;
    void *q = malloc(size);
    if (q) { memcpy(q, p, old < size ? old : size); free(p); }
    return q;
}

int posix_memalign(void **out, size_t alignment, size_t size) {
    if (alignment & (alignment - 1)) return EINVAL;
    void *p = aligned_block(size ? size : 1, alignment);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

/* Hashing seeds (Dictionary, Set). */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);
void arc4random_buf(void *buffer, size_t length) { SystemFunction036(buffer, (ULONG)length); }
#endif
