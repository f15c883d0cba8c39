/* inject.exe DLL PROGRAM [ARGS...]
 * Starts PROGRAM suspended, loads DLL into it (remote LoadLibraryA), resumes it, waits,
 * and exits with the program's exit code. The environment passes through unchanged
 * (VIRTUALLAN_* configure the instance). Exit codes of its own: 120 usage, 121 the
 * program did not start, 122 the DLL could not be loaded into it. */
#include <windows.h>
#include <stdio.h>
#include <string.h>

static void fail(const char *what) {
    fprintf(stderr, "inject: %s (error %lu)\n", what, GetLastError());
}

/* Appends one argument, quoted so that CommandLineToArgv reads it back unchanged. */
static int append_argument(char *line, size_t capacity, const char *argument) {
    size_t n = strlen(line);
    char *end = line + capacity - 1;
    char *o = line + n;
#define PUT(c) do { if (o >= end) return 0; *o++ = (c); } while (0)
    if (n) PUT(' ');
    if (argument[0] && !strpbrk(argument, " \t\"")) {
        for (const char *p = argument; *p; p++) PUT(*p);
    } else {
        PUT('"');
        for (const char *p = argument;; p++) {
            size_t slashes = 0;
            while (*p == '\\') { slashes++; p++; }
            if (!*p) { for (size_t i = 0; i < 2 * slashes; i++) PUT('\\'); break; }
            if (*p == '"') { for (size_t i = 0; i < 2 * slashes + 1; i++) PUT('\\'); }
            else { for (size_t i = 0; i < slashes; i++) PUT('\\'); }
            PUT(*p);
        }
        PUT('"');
    }
#undef PUT
    *o = 0;
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: inject.exe DLL PROGRAM [ARGS...]\n");
        return 120;
    }
    char dll[MAX_PATH];
    if (!GetFullPathNameA(argv[1], sizeof dll, dll, NULL)) { fail("bad DLL path"); return 120; }
    static char line[32768];
    line[0] = 0;
    for (int i = 2; i < argc; i++)
        if (!append_argument(line, sizeof line, argv[i])) { fprintf(stderr, "inject: command line too long\n"); return 120; }

    STARTUPINFOA startup;
    PROCESS_INFORMATION process;
    memset(&startup, 0, sizeof startup);
    startup.cb = sizeof startup;
    if (!CreateProcessA(NULL, line, NULL, NULL, TRUE, CREATE_SUSPENDED, NULL, NULL, &startup, &process)) {
        fail("cannot start the program");
        return 121;
    }
    size_t size = strlen(dll) + 1;
    void *remote = VirtualAllocEx(process.hProcess, NULL, size, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    HANDLE thread = NULL;
    DWORD loaded = 0;
    if (remote && WriteProcessMemory(process.hProcess, remote, dll, size, NULL)) {
        LPTHREAD_START_ROUTINE load = (LPTHREAD_START_ROUTINE)GetProcAddress(GetModuleHandleA("kernel32.dll"), "LoadLibraryA");
        thread = CreateRemoteThread(process.hProcess, NULL, 0, load, remote, 0, NULL);
    }
    if (thread) {
        WaitForSingleObject(thread, INFINITE);
        GetExitCodeThread(thread, &loaded); /* the low 32 bits of the module handle */
        CloseHandle(thread);
    }
    if (!loaded) {
        fprintf(stderr, "inject: %s could not be loaded into %s: is it an i686 DLL and do its imports exist?\n", dll, argv[2]);
        TerminateProcess(process.hProcess, 122);
        return 122;
    }
    ResumeThread(process.hThread);
    WaitForSingleObject(process.hProcess, INFINITE);
    DWORD code = 0;
    GetExitCodeProcess(process.hProcess, &code);
    CloseHandle(process.hThread);
    CloseHandle(process.hProcess);
    return (int)code;
}
