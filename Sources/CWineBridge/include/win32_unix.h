/* Unix-side checks of a file the DLL opens under Wine on Linux (win32_unix.c). */
#ifndef VL_WIN32_UNIX_H
#define VL_WIN32_UNIX_H
#if defined(_WIN32)
#include <stdint.h>

enum { VL_UNIX_CHECKED = 0, VL_UNIX_NOT_CHECKED = -1 };

/* Under Wine on Linux: creates `path` (Unix, or a Windows path Wine maps) mode 0600 when
 * missing, in a folder made 0700 when missing, never through a symbolic link, and checks
 * it is a regular file of ours that others cannot read or write. Returns VL_UNIX_CHECKED
 * (and its inode), VL_UNIX_NOT_CHECKED (not Wine on Linux), or a VL_MAP_* refusal. With
 * `log` given, the file checked stays open for appending (O_APPEND) and `*log` is its
 * Linux descriptor, for `vl_unix_append`. */
int32_t vl_unix_private_file(const char *path, long *log, uint64_t *inode, int32_t *os_error);
/* One write(2) to a descriptor `vl_unix_private_file` kept: with O_APPEND, one whole
 * append however many processes append to the file. */
void vl_unix_append(long fd, const void *bytes, uint32_t length);
#endif
#endif
