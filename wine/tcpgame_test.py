#!/usr/bin/env python3
"""Wine test of virtual TCP with a stand-in TCP LAN game (wine/tests/tcpgame.c; run it
through wine/test, which puts it in a private network namespace): every copy binds UDP
6111 for discovery and listens on TCP 6112, as lobby games do.

  1. 8 copies in one prefix through the DLL; copy 5 (a non-zero instance) hosts, the other
     7 find it by UDP broadcast and connect to its TCP 6112 (non-blocking connect,
     FD_CONNECT). The host (WSAEventSelect, WSAWaitForMultipleEvents) checks that each
     player's claimed address is the one accept reports, and answers every 64 KB HELLO with
     its checksum and 64 KB of its own, which the player reads through an I/O completion
     port and checks byte for byte.
  2. 8 new copies, copy 3 hosting as an IOCP server: every AcceptEx posted at once onto
     sockets it made, GetAcceptExSockaddrs for each player's address, overlapped
     WSARecv/WSASend on one completion port; the odd copies connect with ConnectEx (the
     HELLO going with the handshake), the others as above. Same checks.
  3. Control: the same program without the DLL: the second copy cannot bind TCP 6112
     (nor UDP 6111), which proves the test can fail."""

from winelab import Copy, check, hooked, lan_stage, second_copy_collides, status_json, unhooked

COPIES = 8


def lan(env):
    session(env, host=5, how="host", joins=lambda i: "join", status=True)
    session(env, host=3, how="host-iocp", joins=lambda i: "join-ex" if i % 2 else "join", status=False)


def session(env, host, how, joins, status):
    """One LAN session of COPIES new copies: copy `host` hosts (`how`), the others join."""
    print(f"{COPIES} copies of the TCP game, copy {host} hosting ({how}; players: {', '.join(sorted({joins(i) for i in range(COPIES) if i != host}))})")
    copies = [Copy(hooked("tcpgame.exe"), {**env, "VIRTUALLAN_INSTANCE": str(i)}) for i in range(COPIES)]
    ready = [copy.line("READY") for copy in copies]
    if not check(all(ready), f"all {COPIES} copies bound UDP 6111 and listen on TCP 6112"):
        for copy in copies:
            copy.process.kill()
        return
    ips = [line.split()[2] for line in ready]
    check(ips == [f"192.168.80.{i + 1}" for i in range(COPIES)], f"each copy has its own virtual address: {' '.join(ips)}")
    if status:
        found = status_json(env["VIRTUALLAN_REGISTRY"]) or {"instances": []}
        listeners = [[s["virtualPort"] for s in i["sockets"] if s["transport"] == "tcp" and s["listening"]] for i in found["instances"]]
        check(listeners == [[6112]] * COPIES, f"virtuallan status shows each copy's TCP listener on 6112: {listeners}")
    copies[host].send(f"{how} {COPIES}")
    for i, copy in enumerate(copies):
        if i != host:
            copy.send(joins(i))
    results = [copy.line("RESULT") for copy in copies]
    codes = [copy.finish() for copy in copies]
    frame = 28 + 65536
    for i, (result, code) in enumerate(zip(results, codes)):
        if i == host:
            check(result == f"RESULT ok players={COPIES - 1} done={COPIES - 1} errors=0 in={frame * (COPIES - 1)} out={frame * (COPIES - 1)}"
                  and code == 0, f"host {ips[i]} accepted every player, each as the address it claims: {result} (exit {code})")
        else:
            check(result == f"RESULT ok host={ips[host]} seen-as={ips[i]} sent={frame} received={frame}" and code == 0,
                  f"player {ips[i]} found the host, was seen as itself and got its 64 KB intact: {result} (exit {code})")


def control(env):
    print("control: the same program without the DLL")
    second_copy_collides(unhooked("tcpgame.exe", "--control"), env, "the first copy binds UDP 6111 and listens on TCP 6112",
                         lambda r: "bind6112=10048" in r, "the second copy cannot listen on TCP 6112")


def main():
    lan_stage("tcpgame", lan, control)


if __name__ == "__main__":
    main()
