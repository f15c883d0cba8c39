/* A socket copied into a child process, three ways: with WSADuplicateSocket (the child
 * opens the copy with WSASocket), with DuplicateHandle, and inherited (a child started
 * with bInheritHandles; the child uses those handles as they are). Each time the parent
 * closes its own handle first; the child receives on the copy and answers; the port stays
 * taken until the child lets go. conformance.exe starts itself as the child
 * ("--socket-child <pipe>"); the two talk over a named pipe. The first child inherits no
 * handle (an inherited socket would hold the port on its own). */
#include <winsock2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conformance.h"

#define WAIT_MS 10000
#ifndef WSA_FLAG_NO_HANDLE_INHERIT
#define WSA_FLAG_NO_HANDLE_INHERIT 0x80
#endif

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

/* The child's side, once per copy the parent sends ("info" and the WSAPROTOCOL_INFOA, or
 * "handle <value>"): report the copy's port, receive one datagram and answer it, close
 * when told (closesocket; a handle Winsock does not list, with CloseHandle). */
int socket_child(const char *pipe_name) {
    HANDLE pipe = CreateFileA(pipe_name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
    if (pipe == INVALID_HANDLE_VALUE) return 2;
    char line[128];
    while (read_line(pipe, line, sizeof line)) {
        SOCKET s = INVALID_SOCKET;
        if (strcmp(line, "info") == 0) {
            WSAPROTOCOL_INFOA info;
            DWORD got = 0;
            if (!ReadFile(pipe, &info, sizeof info, &got, NULL) || got != sizeof info) return 3;
            s = WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, &info, 0, 0);
        } else if (strncmp(line, "handle ", 7) == 0) {
            s = (SOCKET)strtoul(line + 7, NULL, 10);
        }
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
        int closed = closesocket(s);
        int error = closed ? WSAGetLastError() : 0;
        if (closed) CloseHandle((HANDLE)s);
        snprintf(line, sizeof line, "closed %d/%d", closed, error);
        write_line(pipe, line);
    }
    CloseHandle(pipe);
    return 0;
}

/* Starts this program as a child (`inherit`: with bInheritHandles) connected to a new
 * pipe: 1, or 0 with nothing left running. */
static int start_child(int inherit, HANDLE *pipe, PROCESS_INFORMATION *child) {
    char pipe_name[64], path[MAX_PATH], command[MAX_PATH + 128];
    snprintf(pipe_name, sizeof pipe_name, "\\\\.\\pipe\\vl-conformance-%lu-%d", GetCurrentProcessId(), inherit);
    *pipe = CreateNamedPipeA(pipe_name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE | PIPE_WAIT, 1, 4096, 4096, 0, NULL);
    if (*pipe == INVALID_HANDLE_VALUE) return 0;
    GetModuleFileNameA(NULL, path, sizeof path);
    snprintf(command, sizeof command, "\"%s\" --socket-child %s", path, pipe_name);
    STARTUPINFOA startup = { sizeof startup };
    if (!CreateProcessA(path, command, NULL, NULL, inherit, 0, NULL, NULL, &startup, child)) {
        CloseHandle(*pipe);
        return 0;
    }
    /* A child that dies before it connects leaves this wait to the run's progress watch. */
    return ConnectNamedPipe(*pipe, NULL) || GetLastError() == ERROR_PIPE_CONNECTED;
}

/* The child's end: its loop ends with the pipe; it must exit by itself. */
static void end_child(const char *id, HANDLE pipe, PROCESS_INFORMATION *child) {
    CloseHandle(pipe);
    DWORD ended = WaitForSingleObject(child->hProcess, WAIT_MS);
    DWORD code = 0;
    GetExitCodeProcess(child->hProcess, &code);
    check(id, "ended=%d code=%lu", ended == WAIT_OBJECT_0, code);
    if (ended != WAIT_OBJECT_0) TerminateProcess(child->hProcess, 1);
    CloseHandle(child->hProcess);
    CloseHandle(child->hThread);
}

/* Socket `s` copied into the child (`how`: "wsaduplicatesocket", "duplicatehandle", or
 * "inherited": the child has it already), checks named child.<how>-*. */
static void copy_round(HANDLE pipe, PROCESS_INFORMATION *child, const char *how, SOCKET s) {
    char id[64], line[128] = "";
    unsigned short port = port_of(s);
    DWORD moved;
    if (strcmp(how, "inherited") == 0) {
        snprintf(line, sizeof line, "handle %lu", (unsigned long)s);
        write_line(pipe, line);
    } else if (strcmp(how, "wsaduplicatesocket") == 0) {
        WSAPROTOCOL_INFOA info;
        int r = WSADuplicateSocketA(s, child->dwProcessId, &info);
        snprintf(id, sizeof id, "child.%s", how);
        check(id, "%s", rc(r));
        write_line(pipe, "info");
        WriteFile(pipe, &info, sizeof info, &moved, NULL);
    } else {
        HANDLE copy = NULL;
        BOOL ok = DuplicateHandle(GetCurrentProcess(), (HANDLE)s, child->hProcess, &copy, 0, FALSE, DUPLICATE_SAME_ACCESS);
        snprintf(id, sizeof id, "child.%s", how);
        check(id, "ok=%d error=%lu", ok, ok ? 0 : GetLastError());
        snprintf(line, sizeof line, "handle %lu", (unsigned long)(ULONG_PTR)copy);
        write_line(pipe, line);
    }
    /* The parent lets go first: the child's copy keeps the socket. */
    closesocket(s);
    int opened = 0;
    unsigned child_port = 0;
    read_line(pipe, line, sizeof line);
    sscanf(line, "%d %u", &opened, &child_port);
    snprintf(id, sizeof id, "child.%s-opened", how);
    check(id, "valid=%d same-port=%d", opened, child_port == port);
    SOCKET again = udp();
    struct sockaddr_in at = address("0.0.0.0", port);
    snprintf(id, sizeof id, "child.%s-bind-while-child-holds", how);
    check(id, "%s", rc(bind(again, (struct sockaddr *)&at, sizeof at)));
    closesocket(again);
    SOCKET u = bound("127.0.0.1", 0);
    send_to(u, address("127.0.0.1", port), "kid", 3);
    write_line(pipe, "sent");
    int received = -1;
    char data[8] = "";
    unsigned from_port = 0;
    read_line(pipe, line, sizeof line);
    sscanf(line, "%d %3s %u", &received, data, &from_port);
    snprintf(id, sizeof id, "child.%s-received", how);
    check(id, "bytes=%d data=%s from-parent=%d", received, data, from_port == port_of(u));
    char answer[8] = "";
    struct sockaddr_in from;
    int length = sizeof from;
    int n = recv_ready(u, answer, sizeof answer, 0, &from, &length);
    snprintf(id, sizeof id, "child.%s-answer", how);
    check(id, "%s data=%.4s from-copy=%d", rc(n), n > 0 ? answer : "", n > 0 && ntohs(from.sin_port) == port);
    closesocket(u);
    write_line(pipe, "close");
    read_line(pipe, line, sizeof line);
    snprintf(id, sizeof id, "child.%s-closed", how);
    check(id, "%s", line);
    again = udp();
    snprintf(id, sizeof id, "child.%s-bind-after-child-closed", how);
    check(id, "%s", rc(bind(again, (struct sockaddr *)&at, sizeof at)));
    closesocket(again);
}

void child_checks(void) {
    HANDLE pipe;
    PROCESS_INFORMATION child = { 0 };
    int started = start_child(FALSE, &pipe, &child);
    check("child.started", "%d", started);
    if (started) {
        copy_round(pipe, &child, "wsaduplicatesocket", bound("0.0.0.0", 0));
        copy_round(pipe, &child, "duplicatehandle", bound("0.0.0.0", 0));
        end_child("child.ended", pipe, &child);
    }
    /* A socket open when a child starts with bInheritHandles is the child's too, unless
     * it was made with WSA_FLAG_NO_HANDLE_INHERIT. */
    SOCKET s = bound("0.0.0.0", 0);
    SOCKET kept = WSASocketA(AF_INET, SOCK_DGRAM, IPPROTO_UDP, NULL, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    struct sockaddr_in any = address("0.0.0.0", 0);
    bind(kept, (struct sockaddr *)&any, sizeof any);
    unsigned short kept_port = port_of(kept);
    started = start_child(TRUE, &pipe, &child);
    check("child.inheriting-started", "%d", started);
    closesocket(kept);
    SOCKET again = udp();
    struct sockaddr_in at = address("0.0.0.0", kept_port);
    check("child.not-inherited-port-free", "%s", rc(bind(again, (struct sockaddr *)&at, sizeof at)));
    closesocket(again);
    if (started) {
        copy_round(pipe, &child, "inherited", s);
        end_child("child.inheriting-ended", pipe, &child);
    } else {
        closesocket(s);
    }
}
