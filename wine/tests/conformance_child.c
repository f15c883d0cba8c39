/* A socket copied into a child process (WSADuplicateSocket for another process): the
 * child opens the copy, receives on it and answers, while the parent has closed its own
 * handle; the port stays taken until the child lets go. conformance.exe starts itself as
 * the child ("--socket-child <pipe>"); the two talk over a named pipe, and the child
 * inherits no handle (an inherited socket would hold the port on its own). */
#include <winsock2.h>
#include <stdio.h>
#include <string.h>
#include "conformance.h"

#define WAIT_MS 10000

/* One line from the pipe (bounded by the pipe's end): its length, 0 when it ended. */
static int read_line(HANDLE pipe, char *line, int size) {
    int n = 0;
    DWORD got;
    while (n < size - 1 && ReadFile(pipe, line + n, 1, &got, NULL) && got == 1) {
        if (line[n] == '\n') break;
        n++;
    }
    line[n] = 0;
    return n;
}

static void write_line(HANDLE pipe, const char *line) {
    DWORD put;
    WriteFile(pipe, line, (DWORD)strlen(line), &put, NULL);
    WriteFile(pipe, "\n", 1, &put, NULL);
}

/* The child's side: open the copy, report its port, receive one datagram and answer it,
 * close when told. */
int socket_child(const char *pipe_name) {
    HANDLE pipe = CreateFileA(pipe_name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
    if (pipe == INVALID_HANDLE_VALUE) return 2;
    WSAPROTOCOL_INFOA info;
    DWORD got = 0;
    if (!ReadFile(pipe, &info, sizeof info, &got, NULL) || got != sizeof info) return 3;
    SOCKET s = WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, &info, 0, 0);
    char line[128];
    snprintf(line, sizeof line, "%d %u", s != INVALID_SOCKET, s != INVALID_SOCKET ? port_of(s) : 0);
    write_line(pipe, line);
    if (!read_line(pipe, line, sizeof line)) return 4;  /* "sent" */
    char data[8] = "";
    struct sockaddr_in from;
    int length = sizeof from;
    int n = s != INVALID_SOCKET && readable(s) ? recvfrom(s, data, sizeof data, 0, (struct sockaddr *)&from, &length) : -1;
    if (n > 0) sendto(s, "back", 4, 0, (struct sockaddr *)&from, length);
    snprintf(line, sizeof line, "%d %.3s %u", n, n > 0 ? data : "-", n > 0 ? ntohs(from.sin_port) : 0);
    write_line(pipe, line);
    if (!read_line(pipe, line, sizeof line)) return 5;  /* "close" */
    if (s != INVALID_SOCKET) closesocket(s);
    write_line(pipe, "closed");
    CloseHandle(pipe);
    return 0;
}

/* Starts this program as the child, its pipe `pipe_name` already made. */
static int start_child(const char *pipe_name, PROCESS_INFORMATION *child) {
    char path[MAX_PATH], command[MAX_PATH + 128];
    GetModuleFileNameA(NULL, path, sizeof path);
    snprintf(command, sizeof command, "\"%s\" --socket-child %s", path, pipe_name);
    STARTUPINFOA startup = { sizeof startup };
    return CreateProcessA(path, command, NULL, NULL, FALSE, 0, NULL, NULL, &startup, child);
}

void child_checks(void) {
    SOCKET s = bound("0.0.0.0", 0);
    unsigned short port = port_of(s);
    char pipe_name[64];
    snprintf(pipe_name, sizeof pipe_name, "\\\\.\\pipe\\vl-conformance-%lu", GetCurrentProcessId());
    HANDLE pipe = CreateNamedPipeA(pipe_name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE | PIPE_WAIT, 1, 4096, 4096, 0, NULL);
    PROCESS_INFORMATION child = { 0 };
    int started = pipe != INVALID_HANDLE_VALUE && start_child(pipe_name, &child);
    /* A child that dies before it connects leaves this wait to the run's progress watch. */
    int connected = started && (ConnectNamedPipe(pipe, NULL) || GetLastError() == ERROR_PIPE_CONNECTED);
    check("child.started", "started=%d connected=%d", started, connected);
    if (!connected) {
        closesocket(s);
        if (started) { TerminateProcess(child.hProcess, 1); CloseHandle(child.hProcess); CloseHandle(child.hThread); }
        return;
    }
    WSAPROTOCOL_INFOA info;
    int r = WSADuplicateSocketA(s, child.dwProcessId, &info);
    check("child.wsaduplicatesocket", "%s", rc(r));
    DWORD moved;
    WriteFile(pipe, &info, sizeof info, &moved, NULL);
    /* The parent lets go first: the child's copy keeps the socket. */
    closesocket(s);
    char line[128] = "";
    int opened = 0;
    unsigned child_port = 0;
    read_line(pipe, line, sizeof line);
    sscanf(line, "%d %u", &opened, &child_port);
    check("child.opened", "valid=%d same-port=%d", opened, child_port == port);
    SOCKET again = udp();
    struct sockaddr_in at = address("0.0.0.0", port);
    check("child.bind-while-child-holds", "%s", rc(bind(again, (struct sockaddr *)&at, sizeof at)));
    closesocket(again);
    SOCKET u = bound("127.0.0.1", 0);
    send_to(u, address("127.0.0.1", port), "kid", 3);
    write_line(pipe, "sent");
    int received = -1;
    char data[8] = "";
    unsigned from_port = 0;
    read_line(pipe, line, sizeof line);
    sscanf(line, "%d %3s %u", &received, data, &from_port);
    check("child.received", "bytes=%d data=%s from-parent=%d", received, data, from_port == port_of(u));
    char answer[8] = "";
    struct sockaddr_in from;
    int length = sizeof from;
    int n = recv_ready(u, answer, sizeof answer, 0, &from, &length);
    check("child.answer", "%s data=%.4s from-copy=%d", rc(n), n > 0 ? answer : "", n > 0 && ntohs(from.sin_port) == port);
    closesocket(u);
    write_line(pipe, "close");
    read_line(pipe, line, sizeof line);
    DWORD ended = WaitForSingleObject(child.hProcess, WAIT_MS);
    DWORD code = 0;
    GetExitCodeProcess(child.hProcess, &code);
    check("child.ended", "said=%s ended=%d code=%lu", line, ended == WAIT_OBJECT_0, code);
    again = udp();
    check("child.bind-after-child-closed", "%s", rc(bind(again, (struct sockaddr *)&at, sizeof at)));
    closesocket(again);
    CloseHandle(pipe);
    CloseHandle(child.hProcess);
    CloseHandle(child.hThread);
}
