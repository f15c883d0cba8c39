#!/usr/bin/env python3
"""Three hosts, one virtual LAN: the bridge end to end.

Creates three network namespaces on one virtual Ethernet switch (a Linux bridge in a
fourth namespace; 10.213.0.1-3, no route anywhere else: nothing of ours can leave the
machine), runs one bridge and four test instances (`virtuallan-testpeer peer serve`) per "host",
and checks:
  - a broadcast from an instance on each host discovers every lobby host on all three,
    and unicast works both ways (`peer discover`), exactly once (server tallies: a
    broadcast crosses once per other host, and is never looped back or passed on);
  - a bridge with a wrong key is dropped and named; a replayed frame is dropped (frames
    sealed here by scripts/lib/linkcipher.py, ChaCha20-Poly1305 written from RFC 8439, which
    also cross-checks swift-crypto's and the frame layout);
  - a bridge killed and restarted recovers; a stopping bridge takes its instances away.
  - with --wine (the hook DLL built): the stand-in game under Wine, 2 copies per host, each
    host with its own Wine prefix and wineserver: a lobby on host B found and played from A;
    the TCP game with its host on B and players on A and B (connections through the bridges);
    a TCP stream whose far host's bridge is killed mid-stream (a reset; a new bridge goes on);
    and multicast discovery across the two hosts (a group datagram crosses once per host and
    reaches only the copies that joined).
Usage: scripts/bridge_test.py <virtuallan binary> [--wine]. Prints "N passed, M failed" last.
"""
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import linkcipher  # noqa: E402
import winehosts  # noqa: E402
from results import Results  # noqa: E402
from testhosts import (ADDR, GAME_PORT, LINK_PORT, NAMES, NS, SERVERS, Process, instance, make_hosts,  # noqa: E402
                       processes, remove_hosts, sh, wait_instances, wait_peers, wait_ports)
import testhosts  # noqa: E402

results = Results("bridge_test")
check = results.check


def bridge(host, workdir, hosts=3, **how):
    """Host `host`'s bridge (testhosts.bridge), checked to start."""
    p = testhosts.bridge(host, workdir, hosts, **how)
    check(p.started, f"bridge on host {NAMES[host]} starts")
    return p



def discover(host, workdir, expected):
    p = instance(host, workdir, "discover", "--count", str(expected))
    found = p.expect(lambda l: l.startswith("found") or "discover:" in l, "found")
    pinged = p.expect(lambda l: l.startswith("pinged") or "discover:" in l, "pinged") if found and found.startswith("found") else None
    p.proc.wait(timeout=30)
    return p, found or "", pinged or ""


def frame(key, kind, first, count, session, sequence, body):
    """A link frame (docs/ARCHITECTURE.md): the header in the clear, the body sealed under the
    frame key with the header's nonce (first instance, low 5 bytes of session and sequence)."""
    header = struct.pack("<IBBHHHQQQ", 0x52424C56, 2, kind, first, count, 0, session, sequence, int(time.time() * 1000))
    nonce = header[6:8] + header[12:17] + header[20:25]
    return header + linkcipher.seal(linkcipher.frame_key(key), nonce, body, header)


def announce_body(instances):
    out = struct.pack("<H", len(instances))
    for index, ports in instances:
        out += struct.pack("<HB", index, len(ports)) + b"".join(struct.pack("<H", p) for p in ports)
    return out


def send_raw(ns, frames, port):
    """Sends the frames from namespace ns to host B's bridge, in order, from one socket."""
    code = ("import socket,sys\n"
            "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
            f"s.bind(('{ADDR[0]}',{port}))\n"
            "for h in sys.argv[1:]: s.sendto(bytes.fromhex(h),('%s',%d))\n" % (ADDR[1], LINK_PORT))
    sh("ip", "netns", "exec", ns, sys.executable, "-c", code, *[f.hex() for f in frames])


def wine_hosts(workdir):
    """Hosts A and B for Wine copies (scripts/lib/winehosts.py), one bridge each."""
    def start_bridges():
        bridges = [bridge(0, workdir, hosts=2), bridge(1, workdir, hosts=2)]
        for b in bridges:
            wait_peers(b, 1)
        return bridges
    return winehosts.WineHosts({0: NS[0], 1: NS[1]}, lambda host: os.path.join(workdir, f"registry-{host}"), start_bridges, report=1)


def four_copies(hosts, program, ports, what):
    """Copies 0 and 1 on A, 16 and 17 on B, each seen by the other host's bridge."""
    return winehosts.four_copies(check, hosts, program, [(0, 0), (0, 1), (1, 16), (1, 17)],
                                 [(hosts.bridges[0], [16, 17]), (hosts.bridges[1], [0, 1])], ports, what)


def wine_lobby(workdir):
    """The stand-in game across the two hosts: copy 2 (host B) hosts, copies 0-1 on A and 3 on B join."""
    print("bridge test: the stand-in game under Wine, 2 copies per host, one Wine prefix and wineserver per host")
    with wine_hosts(workdir) as hosts:
        winehosts.play_lobby(check, hosts, (0, 1))


def wine_tcp(workdir):
    """The TCP stand-in game (wine/tests/tcpgame.c) across the two hosts: copy 2 (host B)
    hosts, copies on A and B find it by UDP broadcast and connect to its TCP 6112 through
    the bridges; 64 KB each way per player, checked byte for byte."""
    print("bridge test: the TCP game under Wine, 2 copies per host, copy 2 (host B) hosting")
    with wine_hosts(workdir) as hosts:
        copies, ready = four_copies(hosts, "tcpgame.exe", ("6111", "tcp 6112"), "bound UDP 6111 and listen on TCP 6112")
        if ready:
            winehosts.play_tcp_game(check, hosts, copies, ready, "over the bridge")
    stats = next((l for l in hosts.bridges[0].lines if "stats:" in l), "")
    check("streams relayed=2 reset=0" in stats, f"host A's bridge relayed the 2 connections, none reset ({stats})")


def wine_host_lost(workdir):
    """A long TCP stream from a copy on A to a copy on B; B's bridge is killed mid-stream
    (SIGKILL: no goodbye, the kernel closes its connections): A's copy sees a reset at once,
    and a new bridge on B carries a new stream whole."""
    print("bridge test: host B's bridge killed in the middle of a TCP stream from A")
    with wine_hosts(workdir) as hosts:
        def pair(sink_instance, player_instance):
            sink = hosts.copy(1, "tcpgame.exe", instance=sink_instance)
            player = hosts.copy(0, "tcpgame.exe", instance=player_instance)
            ready = sink.line("READY") is not None and player.line("READY") is not None
            return sink, player, ready and wait_instances(hosts.bridges[0], "ports", [sink_instance], "the sink's listener",
                                                          ports=("6111", "tcp 6112"))
        sink, player, ready = pair(16, 0)
        if not check(ready, "a copy on B listens, host A's bridge stands in for it"):
            return
        sink.send("sink")
        player.send("stream 2000000000")  # 2 GB: still flowing when the bridge dies
        check(sink.line("SINK flowing", timeout=60) is not None, "A's copy streams to B's through the bridges")
        hosts.bridges[1].stop(signal.SIGKILL)
        result = player.line("RESULT", timeout=30)
        check(result is not None and result.endswith(" error=10054"), f"A's copy sees WSAECONNRESET in its send: {result}")
        # Windows' answer is WSAECONNRESET; Wine 8 gives it only to a recv waiting as the reset
        # comes, and after it reads 0 with the reset kept as a mark (tcpgame.c's sink). Which
        # one a copy gets is Wine's timing, with or without the DLL; a graceful end (below) has
        # no mark, so either way this is the reset and nothing else.
        ended = sink.line("RESULT", timeout=30)
        check(ended is not None and (ended.endswith(" end=10054") or ended.endswith(" end=0 reset-mark")),
              f"B's copy sees the reset too, its bridge gone: {ended}")
        # The bridge's line can come after the copies' results: wait for it (bounded), not
        # for a snapshot of the lines read so far.
        def says_why(l):
            return "reset: the other host's bridge went away" in l or "reset: the link failed" in l
        check(any(says_why(l) for l in hosts.bridges[0].lines)
              or hosts.bridges[0].expect(says_why, "why the stream was reset", timeout=10) is not None,
              "host A's bridge says why it reset the stream")
        # The LAN goes on: a new bridge on B, a new pair of copies, a stream of 4 MB whole.
        hosts.bridges[1] = bridge(1, workdir, hosts=2)
        check(wait_peers(hosts.bridges[1], 1), "a new bridge on B finds A's")
        sink, player, ready = pair(17, 1)
        check(ready, "a new copy on B listens, host A's bridge stands in for it")
        sink.send("sink")
        player.send(f"stream {4 << 20}")
        result = player.line("RESULT", timeout=60)
        check(result == f"RESULT stream bytes={4 << 20} error=0", f"after it, a 4 MB stream from A ends gracefully: {result}")
        ended = sink.line("RESULT", timeout=30)
        check(ended == f"RESULT sink bytes={4 << 20} end=0", f"and B's copy got every byte: {ended}")
    stats = next((l for l in hosts.bridges[0].lines if "stats:" in l), "")
    check("streams relayed=2 reset=1" in stats, f"host A's bridge: 2 streams, 1 reset ({stats})")


def wine_multicast(workdir):
    """Multicast discovery across the two hosts (wine/tests/mcastgame.c): 2 copies per host,
    three join 239.255.80.1, one on B does not; every copy sends one HELLO to the group."""
    print("bridge test: multicast under Wine, 2 copies per host, copy 3 (host B) not joining")
    with wine_hosts(workdir) as hosts:
        copies, ready = four_copies(hosts, "mcastgame.exe", ("5500",), "bound UDP 5500")
        if not ready:
            return
        ips = [line.split()[1] for line in ready]
        members = copies[:3]
        for copy in members:
            copy.send("join")
        check([copy.line("JOINED") for copy in members] == ["JOINED rc=0"] * 3, "3 copies joined the group")
        for copy in copies:
            copy.send("announce")
            check(copy.line("SENT") == "SENT rc=0", "a copy sent one HELLO to the group")
        # Members wait for the 4 HELLOs (2 of them cross the bridges); then the non-member,
        # whose would have come the same way, takes what it has.
        for copy in members:
            copy.send("await 4")
        heard = [copy.line("HEARD") or "HEARD ?" for copy in members]
        copies[3].send("drain")
        heard.append(copies[3].line("HEARD") or "HEARD ?")
        for i, line in enumerate(heard):
            if i == 3:
                check(line == "HEARD 0", f"copy 3 (host B), not a member, saw nothing: {line}")
            else:
                words = line.split()
                check(words[1] == "4" and sorted(words[2:]) == sorted(ips),
                      f"member {i} (host {'AABB'[i]}) got the 4 HELLOs of both hosts, each once from its sender: {line}")
        for copy in members:  # no second copy of any HELLO came after (each crossed once)
            copy.send("drain")
        late = [copy.line("HEARD") for copy in members]
        check(late == ["HEARD 0"] * 3, f"and no duplicate came later: {late}")
        for copy in copies:
            copy.send("quit")
        check([copy.finish() for copy in copies] == [0] * 4, "every copy exits cleanly")


def main():
    if os.geteuid() != 0 or subprocess.run(["ip", "netns", "add", f"vlbrprobe{os.getpid()}"], capture_output=True).returncode != 0:
        print("bridge test: SKIPPED: cannot create network namespaces here (needs root and iproute2's `ip netns`)")
        return results.finish()
    sh("ip", "netns", "del", f"vlbrprobe{os.getpid()}")
    started = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="vl-bridge-")
    os.chmod(workdir, 0o700)
    key = os.urandom(32)
    for name, data in [("key", key), ("wrong-key", os.urandom(32))]:
        with open(os.path.join(workdir, name), "wb") as f:
            f.write(data)
        os.chmod(os.path.join(workdir, name), 0o600)
    try:
        make_hosts()
        print("bridge test: 3 hosts (network namespaces on one virtual switch) x 4 instances, one bridge each")
        # Host C joins with an invite line from host A (`bridge invite`): the key, and A's
        # address, which neither C's nor A's command line names otherwise.
        made = subprocess.run([testhosts.TOOL, "bridge", "invite", "--key-file", os.path.join(workdir, "key"),
                               "--peer", f"{ADDR[0]}:{LINK_PORT}"], capture_output=True, text=True)
        line = made.stdout.strip()
        check(made.returncode == 0 and line.startswith("virtuallan-invite-1:") and "secret" in made.stderr,
              f"host A makes an invite line, with a warning that it is a secret ({made.stderr.strip()[:60]}...)")
        bridges = [bridge(0, workdir, peers=[1]), bridge(1, workdir), bridge(2, workdir, peers=[1], invite=line)]
        for b in bridges:
            check(wait_peers(b, 2), f"{b.name} sees the other two hosts' bridges")

        servers = [[instance(h, workdir, "serve") for _ in range(4)] for h in range(3)]
        taken = [[s.instance for s in host_servers] for host_servers in servers]
        check(taken == SERVERS, f"instances take their host's range ({taken})")
        for h, b in enumerate(bridges):
            others = [i for other in range(3) if other != h for i in SERVERS[other]]
            check(wait_ports(b, others, "the other hosts' servers"), f"{b.name} learns the other hosts' 8 instances and their ports")
        status = subprocess.run(["ip", "netns", "exec", NS[0], testhosts.TOOL, "status", "--registry", os.path.join(workdir, "registry-0")],
                                capture_output=True, text=True).stdout
        print("\n".join("    " + row for row in status.splitlines()))
        check("remote" in status and "instances 0-15" in status, "status shows the remote instances and this host's range")

        addresses = sorted(f"192.168.80.{i + 1}:{GAME_PORT}" for host_servers in SERVERS for i in host_servers)
        finders = []
        for host in (1, 0, 2):
            p, found, pinged = discover(host, workdir, 12)
            finders.append(p)
            check(found.split()[1:] == addresses, f"a broadcast from host {NAMES[host]} finds all 12 lobby hosts on the 3 hosts ({found})")
            check(pinged.startswith("pinged 12, own broadcast copies 1, duplicates 0"), f"unicast both ways with each of them, no duplicates ({pinged})")
        for s in [s for host_servers in servers for s in host_servers]:
            got = [l for l in s.lines if l.startswith("got ")]
            per_finder = {f.instance: [l for l in got if l.endswith(f"from {f.instance}")] for f in finders}
            if not check(all(len(v) == 2 for v in per_finder.values()) and len(got) == 6,
                         f"instance {s.instance} got each finder's broadcast and ping exactly once"):
                print(f"    {got}")

        # A bridge with another key: dropped, and the bridge says why.
        rogue_registry = os.path.join(workdir, "registry-rogue")
        rogue = Process("bridge-rogue", NS[0], [testhosts.TOOL, "bridge", "--listen", f"{ADDR[0]}:{LINK_PORT + 1}", "--range", "48-55",
                                                "--key-file", os.path.join(workdir, "wrong-key"), "--registry", rogue_registry,
                                                "--peer", f"{ADDR[1]}:{LINK_PORT}"])
        check(bridges[1].expect(lambda l: "wrong key" in l, "wrong key") is not None, "a frame with a wrong key is dropped and named")
        rogue.stop()
        check(not any("48-55" in l for l in bridges[1].lines), "the wrong-key bridge never became a peer")

        # Frames made here with the right key: accepted once; the same bytes again are a replay.
        check(linkcipher.self_test(), "the test's own ChaCha20-Poly1305 and HKDF give RFC 8439's and RFC 5869's vectors")
        session = int(time.time() * 1000)
        join = frame(key, 1, 56, 8, session, 1, announce_body([(56, [GAME_PORT])]))
        leave = frame(key, 1, 56, 8, session, 2, announce_body([]))
        send_raw(NS[0], [join, join, leave], LINK_PORT + 2)
        check(bridges[1].expect(lambda l: "instance 56" in l and "joined" in l, "56 joined") is not None,
              "a frame sealed by the test's own ChaCha20-Poly1305 with the key is accepted (the two implementations agree)")
        check(bridges[1].expect(lambda l: "instance 56" in l and "left" in l, "56 left") is not None, "and its next frame too")
        check(sum("instance 56" in l and "joined" in l for l in bridges[1].lines) == 1, "the replayed frame had no effect")

        # Kill A's bridge without a goodbye, start a new one: the LAN recovers.
        bridges[0].stop(signal.SIGKILL)
        bridges[0] = bridge(0, workdir)
        check(wait_ports(bridges[0], SERVERS[1] + SERVERS[2], "B's and C's servers again"), "a restarted bridge takes over the remote instances again")
        check(sum(" up: instances " in l for l in bridges[0].lines) == 2, "having found both peers again")
        p, found, pinged = discover(1, workdir, 12)
        check(found.split()[1:] == addresses and pinged.startswith("pinged 12,"),
              f"after the restart a broadcast from host B finds all 12 again and unicast works ({found})")

        # A bridge that stops says goodbye: the other hosts drop its instances at once.
        bridges[0].stop()
        check(all(wait_instances(b, "left", SERVERS[0], "A's instances leave") for b in bridges[1:]),
              "a stopping bridge's instances leave the other hosts at once")
        for b in bridges[1:]:
            b.stop()
        stats = next((l for l in bridges[1].lines if "stats:" in l), "")
        print(f"    host B {stats}")
        check("replayed=1" in stats and "bad-key-or-tampered=" in stats, "host B counted the replay and the wrong-key frames")
        if "--wine" in sys.argv:
            wine_lobby(workdir)
            wine_tcp(workdir)
            wine_host_lost(workdir)
            wine_multicast(workdir)
    finally:
        if results.failed:
            for p in processes:
                if p.name.startswith("bridge"):
                    print(f"--- {p.name}:\n" + "\n".join(p.lines[-30:]))
        for p in processes:
            if p.proc.poll() is None:
                p.stop(signal.SIGKILL)
        remove_hosts()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"bridge test: {time.monotonic() - started:.1f} s")
    return results.finish()


if __name__ == "__main__":
    testhosts.configure(sys.argv[1])
    sys.exit(main())
