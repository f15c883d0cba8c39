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
  2. Control: the same program without the DLL: the second copy cannot bind TCP 6112
     (nor UDP 6111), which proves the test can fail."""

from winelab import Copy, check, hooked, lan_stage, second_copy_collides, status_json, unhooked

COPIES = 8
HOST = 5


def lan(env):
    print(f"{COPIES} copies of the TCP game, copy {HOST} hosting")
    copies = [Copy(hooked("tcpgame.exe"), {**env, "VIRTUALLAN_INSTANCE": str(i)}) for i in range(COPIES)]
    ready = [copy.line("READY") for copy in copies]
    if not check(all(ready), f"all {COPIES} copies bound UDP 6111 and listen on TCP 6112"):
        for copy in copies:
            copy.process.kill()
        return
    ips = [line.split()[2] for line in ready]
    check(ips == [f"192.168.80.{i + 1}" for i in range(COPIES)], f"each copy has its own virtual address: {' '.join(ips)}")
    status = status_json(env["VIRTUALLAN_REGISTRY"]) or {"instances": []}
    listeners = [[s["virtualPort"] for s in i["sockets"] if s["transport"] == "tcp" and s["listening"]] for i in status["instances"]]
    check(listeners == [[6112]] * COPIES, f"virtuallan status shows each copy's TCP listener on 6112: {listeners}")
    copies[HOST].send(f"host {COPIES}")
    for i, copy in enumerate(copies):
        if i != HOST:
            copy.send("join")
    results = [copy.line("RESULT") for copy in copies]
    codes = [copy.finish() for copy in copies]
    frame = 28 + 65536
    for i, (result, code) in enumerate(zip(results, codes)):
        if i == HOST:
            check(result == f"RESULT ok players={COPIES - 1} done={COPIES - 1} errors=0 in={frame * (COPIES - 1)} out={frame * (COPIES - 1)}"
                  and code == 0, f"host {ips[i]} accepted every player, each as the address it claims: {result} (exit {code})")
        else:
            check(result == f"RESULT ok host={ips[HOST]} seen-as={ips[i]} sent={frame} received={frame}" and code == 0,
                  f"player {ips[i]} found the host, was seen as itself and got its 64 KB intact: {result} (exit {code})")


def control(env):
    print("control: the same program without the DLL")
    second_copy_collides(unhooked("tcpgame.exe", "--control"), env, "the first copy binds UDP 6111 and listens on TCP 6112",
                         lambda r: "bind6112=10048" in r, "the second copy cannot listen on TCP 6112")


def main():
    lan_stage("tcpgame", lan, control)


if __name__ == "__main__":
    main()
