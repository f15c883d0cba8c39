/* bindings.exe: proves the hooks reach a program that imports ws2_32 by ORDINAL (its
 * import library is built from ws2_32_ordinals.def) and one that looks functions up late
 * with GetProcAddress, by name and by ordinal. Prints one RESULT line.
 *   - bind to 192.168.80.<n>: only our layer knows that address (the real stack answers
 *     WSAEADDRNOTAVAIL), and getsockname must show it;
 *   - gethostname through GetProcAddress("gethostname") and GetProcAddress(ordinal 57)
 *     must both answer the virtual name VLAN-<n>. */
#include <winsock2.h>
#include <stdio.h>
#include <string.h>

typedef int (WINAPI *gethostname_fn)(char *, int);

static SOCKET blocked_socket;
static volatile int blocked_error = -1;

/* Blocks in recvfrom until another thread closes the socket. */
static DWORD WINAPI blocked_receiver(void *unused) {
    (void)unused;
    char buffer[64];
    int n = recvfrom(blocked_socket, buffer, sizeof buffer, 0, NULL, NULL);
    blocked_error = n < 0 ? WSAGetLastError() : 0;
    return 0;
}

int main(void) {
    WSADATA data;
    if (WSAStartup(MAKEWORD(2, 2), &data) != 0) { printf("RESULT fail=WSAStartup\n"); return 2; }
    char name[64] = "";
    gethostname(name, sizeof name);
    int n = 0;
    sscanf(name, "VLAN-%d", &n);

    SOCKET s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(23756);
    char own[16];
    snprintf(own, sizeof own, "192.168.80.%d", n > 0 ? n : 1);
    a.sin_addr.s_addr = inet_addr(own);
    int bound = bind(s, (struct sockaddr *)&a, sizeof a) == 0 ? 0 : WSAGetLastError();
    struct sockaddr_in got;
    int length = sizeof got;
    memset(&got, 0, sizeof got);
    getsockname(s, (struct sockaddr *)&got, &length);
    closesocket(s);

    HMODULE ws2 = GetModuleHandleA("ws2_32.dll");
    char by_name[64] = "", by_ordinal[64] = "";
    gethostname_fn late = (gethostname_fn)GetProcAddress(ws2, "gethostname");
    if (late) late(by_name, sizeof by_name);
    late = (gethostname_fn)GetProcAddress(ws2, MAKEINTRESOURCEA(57));
    if (late) late(by_ordinal, sizeof by_ordinal);

    /* A blocking recvfrom in another thread ends with WSAEINTR when the socket is closed. */
    blocked_socket = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    a.sin_port = htons(23757);
    bind(blocked_socket, (struct sockaddr *)&a, sizeof a);
    HANDLE thread = CreateThread(NULL, 0, blocked_receiver, NULL, 0, NULL);
    WaitForSingleObject(thread, 300); /* give it time to block; the result does not depend on it */
    closesocket(blocked_socket);
    DWORD waited = WaitForSingleObject(thread, 10000);

    int ok = waited == WAIT_OBJECT_0 && (blocked_error == WSAEINTR || blocked_error == WSAENOTSOCK) && n > 0 && bound == 0 && got.sin_addr.s_addr == a.sin_addr.s_addr && ntohs(got.sin_port) == 23756
             && strcmp(by_name, name) == 0 && strcmp(by_ordinal, name) == 0;
    printf("RESULT %s ordinal-imports: host=%s bind=%d sockname=%s:%u late-by-name=%s late-by-ordinal=%s blocked-recv-after-close=%d\n",
           ok ? "ok" : "fail", name, bound, inet_ntoa(got.sin_addr), ntohs(got.sin_port), by_name, by_ordinal, blocked_error);
    fflush(stdout);
    return ok ? 0 : 1;
}
