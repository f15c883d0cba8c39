/* Processes a hooked process starts: started suspended through the original
 * CreateProcessInternalW, given this DLL (a remote LoadLibraryW, as inject.exe does), and,
 * when the starting process has an instance, told to join it (a remote call of
 * VirtualLANJoin) — all before they run an instruction of their own. */
#if defined(_WIN32)
#include <winsock2.h>
#include <windows.h>
#include <stdint.h>
#include <string.h>
#include "platform.h"
#include "win32_originals.h"
#include "win32_parts.h"
#include "swift_exports.h"

HMODULE vl_win32_module;

static uint32_t process_start(const vl_process_start *s) {
    if (!vl_original.CreateProcessInternalW) return ERROR_PROC_NOT_FOUND;
    if (vl_original.CreateProcessInternalW(s->token, (LPCWSTR)s->application, (LPWSTR)s->command_line, s->process_attributes,
                                           s->thread_attributes, s->inherit, s->flags, s->environment, (LPCWSTR)s->directory,
                                           s->startup, (LPPROCESS_INFORMATION)s->information, s->new_token))
        return 0;
    DWORD error = GetLastError();
    return error ? error : ERROR_GEN_FAILURE;
}

typedef struct join_request { uint32_t index, generation; } join_request;

/* In the started process, on a thread of the process that started it: join its instance.
 * 1 when this process joined it. */
__declspec(dllexport) DWORD WINAPI VirtualLANJoin(void *argument) {
    const join_request *request = argument;
    return (DWORD)vl_join_instance(request->index, request->generation);
}

/* Runs routine(argument) as a thread of `process` and waits for its end: its exit code.
 * *error is set when it could not run, or did not end within 30 s (*abandoned then: it
 * may still use what it was given). */
static DWORD run_remote(HANDLE process, LPTHREAD_START_ROUTINE routine, void *argument, DWORD *error, int *abandoned) {
    HANDLE thread = CreateRemoteThread(process, NULL, 0, routine, argument, 0, NULL);
    if (!thread) { *error = GetLastError(); return 0; }
    DWORD code = 0;
    if (WaitForSingleObject(thread, 30000) == WAIT_OBJECT_0) GetExitCodeThread(thread, &code);
    else { *error = WAIT_TIMEOUT; *abandoned = 1; }
    CloseHandle(thread);
    return code;
}

static uint32_t process_follow(VL_PROCESS_INFORMATION *information, int32_t join, uint32_t index, uint32_t generation,
                               int32_t stay_suspended) {
    HANDLE process = information->hProcess;
    WCHAR path[MAX_PATH];
    DWORD length = GetModuleFileNameW(vl_win32_module, path, MAX_PATH);
    DWORD error = length == 0 ? GetLastError() : length >= MAX_PATH ? ERROR_FILENAME_EXCED_RANGE : 0;
    /* One block in the process: the DLL's path, then the request (4-byte aligned). */
    size_t request_at = ((length + 1) * sizeof(WCHAR) + 3) & ~(size_t)3;
    join_request request = { index, generation };
    uint8_t *remote = NULL;
    int abandoned = 0;
    if (!error) {
        remote = VirtualAllocEx(process, NULL, request_at + sizeof request, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
        if (!remote || !WriteProcessMemory(process, remote, path, (length + 1) * sizeof(WCHAR), NULL)
            || !WriteProcessMemory(process, remote + request_at, &request, sizeof request, NULL))
            error = GetLastError();
    }
    DWORD module = 0;
    if (!error) {
        LPTHREAD_START_ROUTINE load = (LPTHREAD_START_ROUTINE)(void *)GetProcAddress(GetModuleHandleA("kernel32.dll"), "LoadLibraryW");
        module = run_remote(process, load, remote, &error, &abandoned);
        if (!error && !module) error = ERROR_DLL_INIT_FAILED;
    }
    if (!error && join) {
        /* The same file at its own base there: the export is as far from that base as here. */
        uintptr_t offset = (uintptr_t)(void *)VirtualLANJoin - (uintptr_t)vl_win32_module;
        run_remote(process, (LPTHREAD_START_ROUTINE)(void *)((uintptr_t)module + offset), remote + request_at, &error, &abandoned);
    }
    if (remote && !abandoned) VirtualFreeEx(process, remote, 0, MEM_RELEASE);
    if (!stay_suspended) ResumeThread(information->hThread);
    return error;
}

/* This file's entries of the table. */
void vl_win32_fill_processes(vl_platform *p) {
    p->process_start = process_start;
    p->process_follow = process_follow;
}
#endif
