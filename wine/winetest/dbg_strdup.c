/* Wine's debug helpers (wine_dbgstr_*) in sock.c hand their formatted text to
   __wine_dbg_strdup, which Wine's ntdll exports but mingw's import libraries do not: this
   is ours, a ring of static buffers (a text lives until 64 more have been made, as long as
   one check's message needs it). */
#include <windows.h>
#include <string.h>

const char * __cdecl __wine_dbg_strdup(const char *text)
{
    static char ring[64][1024];
    static LONG next;
    char *slot = ring[(ULONG)InterlockedIncrement(&next) % 64];
    strncpy(slot, text, sizeof(ring[0]) - 1);
    slot[sizeof(ring[0]) - 1] = 0;
    return slot;
}
