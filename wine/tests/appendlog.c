/* The control of the shared-log check (wine/lan_test.py): appends `count` lines in the
 * DLL's log format to `path` the plain Windows way (FILE_APPEND_DATA, one WriteFile per
 * line, no lock), as the DLL did before it locked each append. Under Wine, several of
 * these at once lose lines: Wine's append is not one step across processes. It writes once
 * a line comes on stdin, so that several start together.
 *   appendlog.exe <path> <count> */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: appendlog.exe <path> <count>\n"); return 2; }
    HANDLE log = CreateFileA(argv[1], FILE_APPEND_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_ALWAYS,
                             FILE_ATTRIBUTE_NORMAL, NULL);
    if (log == INVALID_HANDLE_VALUE) { printf("RESULT error=open:%lu\n", GetLastError()); return 3; }
    int count = atoi(argv[2]);
    /* All writers start at once: each says READY, then waits for a line on stdin. */
    printf("READY\n");
    fflush(stdout);
    char go[16];
    if (!fgets(go, sizeof go, stdin)) return 4;
    for (int i = 0; i < count; i++) {
        char line[128];
        int n = snprintf(line, sizeof line, "[%lu] pid %lu trace: sendto(appendlog line %d) = 1\r\n",
                         GetTickCount(), GetCurrentProcessId(), i);
        DWORD written;
        WriteFile(log, line, (DWORD)n, &written, NULL);
    }
    printf("RESULT ok pid=%lu\n", GetCurrentProcessId());
    return 0;
}
