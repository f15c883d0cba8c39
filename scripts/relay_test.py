#!/usr/bin/env python3
"""Two hosts behind NAT, one relay: the bridge across the internet (issue 27).

Builds a small internet of network namespaces: a "public" segment (a Linux bridge as the
switch, 10.214.0.0/24) with the relay host R (10.214.0.1) and two home routers, RA and RB
(10.214.0.2, .3); host A (10.215.1.2) behind RA, host B (10.215.2.2) behind RB. The routers
masquerade (nftables) and let nothing in that does not belong to a connection from inside,
like a home router with no port forwarded. RA keeps one public port per socket whatever the
destination; RB starts symmetric (a new random port per destination), then keeps one too. No namespace has a route off these segments:
nothing of ours can leave the machine. One bridge per host (R: instances 0-15, A: 16-31,
B: 32-47; A and B name only R as --peer) and four test instances (`peer serve`) per host.

Checks:
  - the NATs hold: A cannot reach B's bridge, B cannot reach A's, both reach R;
  - control: with R a plain bridge, a broadcast from A finds R's and A's 8 lobby hosts and
    none of B's (they do not see each other);
  - with R relaying (`bridge --relay`): a broadcast from A, and one from B, finds all 12
    and unicast works both ways with each of them, exactly once; R counts the frames it
    passed on; a TCP stream of 16 MiB from A to a listener behind B's NAT passes through
    R (B calls R back; R joins the two connections), and one from a copy on R itself;
  - B's NAT symmetric: R tells A where it sees B and A probes there, yet no probe gets
    through and A and B stay relayed;
  - the relay killed (kill -9) looks like a pulled cable: A's bridge drops R's and B's
    instances once they are silent; a relay started again is found again without
    restarting A or B, and a broadcast from A finds all 12 once more;
  - both NATs keeping one port per socket: A and B punch through them to each other's
    public side (R the meeting point), status says so, a broadcast from A finds all 12, a
    TCP stream from A to B still goes through R, and with R killed A and B go on playing
    (a broadcast from A finds A's and B's 8 lobby hosts);
  - over a WireGuard overlay (wireguard-go) with R as its hub, A's and B's bridges name each
    other's overlay address and no relay bridge runs: a broadcast from A finds B's lobby
    hosts and pings each once;
  - with --wine (the hook DLL built): the stand-in game under Wine, 2 copies on A and 2 on
    B (one Wine prefix and wineserver per host), a copy on B hosting: every copy finds the
    lobby behind B's NAT, joins, and plays its rounds with nothing lost (their datagrams go
    direct once the holes are punched); and the TCP game with its host copy behind B's NAT,
    through the relay, 64 KB each way per player intact.
Usage: scripts/relay_test.py <virtuallan binary> [--wine]. Prints "N passed, M failed" last.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from results import Results  # noqa: E402
import testhosts  # noqa: E402
import winehosts  # noqa: E402
from testhosts import (GAME_PORT, LINK_PORT, SERVERS, Process, instance, processes, sh, wait_instances,  # noqa: E402
                       wait_peers, wait_ports)

results = Results("relay_test")
check = results.check
tag = f"vlnat{os.getpid()}"
SWITCH, ROUTERS = f"{tag}s", [f"{tag}ra", f"{tag}rb"]
HOSTS = [f"{tag}r", f"{tag}a", f"{tag}b"]            # R, A, B: the test hosts' namespaces
ADDR = ["10.214.0.1", "10.215.1.2", "10.215.2.2"]    # where each host's bridge listens
NAMES = "RAB"
NFT = shutil.which("nft") or "/usr/sbin/nft"
CONNTRACK = shutil.which("conntrack") or "/usr/sbin/conntrack"
# A home router: masquerade out of its public side; in, only what belongs to a connection,
# to its hosts and to itself. An unasked datagram dropped in the input hook leaves no
# connection-tracking entry behind (an entry is confirmed only after that hook), as on a
# home router whose firewall drops it; an entry would make the router give its host's own
# later datagrams to that sender another public port.
NAT_RULES = """
flush ruleset
table ip nat {
    chain out {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "pub0" MASQUERADE
    }
}
table ip filter {
    chain forward {
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        iifname "lan0" oifname "pub0" accept
    }
    chain input {
        type filter hook input priority filter; policy drop;
        ct state established,related accept
        iifname { "lo", "lan0" } accept
    }
}
"""


def set_nat(router, symmetric):
    """Router `router` (0: RA, 1: RB) keeps one public port per socket whatever the
    destination (Linux's masquerade keeps the host's port when it is free), or, symmetric,
    gives each destination a new random port (`masquerade random`); the mappings it had are
    flushed."""
    rules = NAT_RULES.replace("MASQUERADE", "masquerade random" if symmetric else "masquerade")
    subprocess.run(["ip", "netns", "exec", ROUTERS[router], NFT, "-f", "-"], input=rules, text=True, check=True)
    subprocess.run(["ip", "netns", "exec", ROUTERS[router], CONNTRACK, "-F"], capture_output=True, check=True)


def make_internet():
    for ns in [SWITCH, *ROUTERS, *HOSTS]:
        sh("ip", "netns", "add", ns)
    sh("ip", "-n", SWITCH, "link", "add", "switch", "type", "bridge")
    sh("ip", "-n", SWITCH, "link", "set", "switch", "up")

    def public(ns, i, addr):
        sh("ip", "link", "add", "pub0", "netns", ns, "type", "veth", "peer", "name", f"port{i}", "netns", SWITCH)
        sh("ip", "-n", SWITCH, "link", "set", f"port{i}", "master", "switch")
        sh("ip", "-n", SWITCH, "link", "set", f"port{i}", "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", "pub0")
        sh("ip", "-n", ns, "link", "set", "pub0", "up")

    public(HOSTS[0], 0, ADDR[0])
    for i, (router, host) in enumerate(zip(ROUTERS, HOSTS[1:])):
        public(router, i + 1, f"10.214.0.{i + 2}")
        sh("ip", "link", "add", "lan0", "netns", router, "type", "veth", "peer", "name", "eth0", "netns", host)
        sh("ip", "-n", router, "addr", "add", f"10.215.{i + 1}.1/24", "dev", "lan0")
        sh("ip", "-n", router, "link", "set", "lan0", "up")
        sh("ip", "-n", host, "link", "set", "lo", "up")
        sh("ip", "-n", host, "addr", "add", f"{ADDR[i + 1]}/24", "dev", "eth0")
        sh("ip", "-n", host, "link", "set", "eth0", "up")
        sh("ip", "-n", host, "route", "add", "default", "via", f"10.215.{i + 1}.1")
        sh("ip", "netns", "exec", router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        set_nat(i, symmetric=i == 1)  # B's NAT starts symmetric: A and B need the relay
    # Routes only on these segments: a default route only in A and B, towards their router.
    for ns in [*ROUTERS, *HOSTS]:
        for line in sh("ip", "-n", ns, "-4", "route", "show").stdout.splitlines():
            if not (line.startswith("10.214.0.0/24") or line.startswith("10.215.")
                    or (ns in HOSTS[1:] and line.startswith("default via 10.215."))):
                sys.exit(f"relay test: namespace {ns} has a route off the test segments: {line}")


def remove_internet():
    for p in processes:
        if p.proc.poll() is None:
            p.proc.kill()
            p.proc.wait()
    for ns in [*HOSTS, *ROUTERS, SWITCH]:
        sh("ip", "netns", "del", ns, check_status=False)


def reaches(source, target):
    """Whether a UDP datagram from host `source` reaches a socket on host `target` (one
    datagram each way through a tiny Python echo, bounded by timeouts)."""
    echo = Process(f"echo-{NAMES[target]}", HOSTS[target], [sys.executable, "-c",
        "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
        f"s.bind(('{ADDR[target]}',{LINK_PORT + 5}));print('ready',flush=True);s.settimeout(3)\n"
        "try:\n d,a=s.recvfrom(64);s.sendto(d,a)\nexcept OSError: pass\n"])
    if echo.expect(lambda l: l == "ready", "ready") is None:
        return False
    probe = subprocess.run(["ip", "netns", "exec", HOSTS[source], sys.executable, "-c",
        "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.settimeout(1.5)\n"
        f"s.sendto(b'x',('{ADDR[target]}',{LINK_PORT + 5}))\n"
        "try:\n print(s.recvfrom(64)[0]==b'x')\nexcept OSError: print(False)\n"], capture_output=True, text=True)
    echo.stop()
    return probe.stdout.strip() == "True"


def bridge(host, workdir, *extra, registry="registry"):
    peers = [] if host == 0 else ["--peer", f"{ADDR[0]}:{LINK_PORT}"]
    p = Process(f"bridge-{NAMES[host]}", HOSTS[host], [testhosts.TOOL, "bridge", "--listen", f"{ADDR[host]}:{LINK_PORT}",
                                                      "--range", testhosts.RANGES[host], "--key-file", os.path.join(workdir, "key"),
                                                      "--registry", os.path.join(workdir, f"{registry}-{host}"), *peers, *extra])
    check(p.expect(lambda l: "listening on" in l, "listening") is not None, f"bridge on host {NAMES[host]} starts {' '.join(extra)}")
    return p


def discover(host, workdir, count, timeout_ms, registry="registry"):
    """`peer discover` on `host`: the 'found ...' line (or discover's failure line) and the 'pinged ...' line."""
    p = Process(f"discover-{NAMES[host]}", HOSTS[host], [testhosts.PEER, "peer", "discover", "--port", str(GAME_PORT),
                                                         "--timeout-ms", str(timeout_ms), "--count", str(count)],
                {"VIRTUALLAN_REGISTRY": os.path.join(workdir, f"{registry}-{host}")})
    found = p.expect(lambda l: l.startswith("found") or "discover:" in l, "found", timeout=timeout_ms / 1000 + 20) or ""
    pinged = p.expect(lambda l: l.startswith("pinged") or "discover:" in l, "pinged") if found.startswith("found") else ""
    p.proc.wait(timeout=30)
    return found, pinged or ""


def tcp_sink(workdir, count, registry="registry"):
    """A `peer sink` on B taking `count` connections on TCP 23800: the process and its instance."""
    sink = Process("sink-B", HOSTS[2], [testhosts.PEER, "peer", "sink", "--count", str(count), "--port", "23800", "--timeout-ms", "60000"],
                   {"VIRTUALLAN_REGISTRY": os.path.join(workdir, f"{registry}-2")})
    return sink, int((sink.expect(lambda l: l.startswith("ready"), "ready") or "ready -1").split()[1])


def tcp_stream(workdir, host, sink, index, mib, registry="registry"):
    """`mib` MiB from a `peer stream` on `host` to the sink's instance: the sink's 'sank ...' line (or its failure)."""
    Process(f"stream-{NAMES[host]}", HOSTS[host], [testhosts.PEER, "peer", "stream", "--count", str(mib), "--port", "23800",
                                                   "--peer-instance", str(index)],
            {"VIRTUALLAN_REGISTRY": os.path.join(workdir, f"{registry}-{host}")})
    return sink.expect(lambda l: l.startswith("sank") or "sink:" in l, "sank", timeout=120) or ""


def wine_hosts(workdir, name):
    """Hosts A and B behind their NATs for Wine copies (scripts/lib/winehosts.py), R relaying;
    fresh registries `name`."""
    def start_bridges():
        bridges = [bridge(h, workdir, *(["--relay"] if h == 0 else []), registry=name) for h in range(3)]
        check(wait_peers(bridges[0], 2), "the relay sees A's and B's bridges")
        return bridges
    return winehosts.WineHosts({1: HOSTS[1], 2: HOSTS[2]}, lambda host: os.path.join(workdir, f"{name}-{host}"), start_bridges)


def wine_lobby(workdir):
    """fo2sim.exe across the NATs: copies on A and B, the first on B hosting (through R until
    A and B have punched through to each other)."""
    print("relay test: the stand-in game under Wine, 2 copies on A and 2 on B, a copy behind B's NAT hosting")
    with wine_hosts(workdir, "registry-lobby") as hosts:
        winehosts.play_lobby(check, hosts, (1, 2))


def wine_tcp(workdir):
    """The TCP stand-in game (wine/tests/tcpgame.c) across the NATs: copy 2 (behind B's NAT)
    hosts on TCP 6112; the copies on A connect to it through R (B calls R back), the one on
    B directly; 64 KB each way per player, checked byte for byte."""
    print("relay test: the TCP game under Wine, 2 copies on A and 2 on B, the host copy behind B's NAT")
    with wine_hosts(workdir, "registry-tcp") as hosts:
        copies, ready = winehosts.four_copies(check, hosts, "tcpgame.exe", [(1, 16), (1, 17), (2, 32), (2, 33)],
                                              [(hosts.bridges[1], [32, 33]), (hosts.bridges[2], [16, 17])],
                                              ("6111", "tcp 6112"), "bound UDP 6111 and listen on TCP 6112")
        if ready:
            winehosts.play_tcp_game(check, hosts, copies, ready, "through the relay")
    stats = next((l for l in hosts.bridges[0].lines if "stats:" in l), "")
    check("spliced=2" in stats, f"R joined A's 2 connections to B's call backs ({stats})")


def other_hosts(host, workdir, wanted, within=10, registry="registry"):
    """The rows of `virtuallan status` on `host` about the other hosts, read again (at most
    `within` seconds) until `wanted(rows)` holds; the last rows read."""
    deadline = time.monotonic() + within
    while True:
        out = subprocess.run(["ip", "netns", "exec", HOSTS[host], testhosts.TOOL, "status", "--registry",
                              os.path.join(workdir, f"{registry}-{host}")], capture_output=True, text=True).stdout
        rows = out.split("other hosts (this host's bridge):")[-1].splitlines()[2:] if "other hosts" in out else []
        if wanted(rows) or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)  # the bridge rewrites its view once a second: look again (bounded above)


def direct(workdir):
    """Both NATs keep one public port per socket: A and B punch through them, R only their
    meeting point. Their datagrams go directly, TCP still through R (a NAT lets no
    connection in), and with R gone they go on playing."""
    print("relay test: both NATs keep one public port per socket: A and B go direct, R their meeting point")
    set_nat(1, symmetric=False)
    name = "registry-punch"
    bridges = [bridge(h, workdir, *(["--relay"] if h == 0 else []), registry=name) for h in range(3)]
    try:
        at_a = bridges[1].expect(lambda l: "instances 32-47 reached directly at" in l, "B reached directly", timeout=20) or ""
        at_b = bridges[2].expect(lambda l: "instances 16-31 reached directly at" in l, "A reached directly", timeout=20) or ""
        check(f"at 10.214.0.3:{LINK_PORT} (hole punched)" in at_a and f"at 10.214.0.2:{LINK_PORT} (hole punched)" in at_b,
              f"A and B reach each other directly at their NATs' public side: their probes punched through ({at_a}; {at_b})")
        servers = [[instance(h, workdir, "serve", registry=name) for _ in range(4)] for h in range(3)]
        check([[s.instance for s in host] for host in servers] == SERVERS, "instances take their host's range")
        check(wait_ports(bridges[1], SERVERS[0] + SERVERS[2], "R's and B's servers") and wait_ports(bridges[2], SERVERS[0] + SERVERS[1], "R's and A's"),
              "A learns B's servers and B A's")
        punched = lambda rows: any(r.split()[:1] == ["32-47"] and "direct (hole punched)" in r and r.split()[-1] == "ms" for r in rows)  # noqa: E731
        rows = other_hosts(1, workdir, punched, registry=name)
        check(punched(rows), f"status on A: B direct (hole punched), with its round trip ({rows})")
        found, pinged = discover(1, workdir, 12, 20000, registry=name)
        check(found.split()[1:] == addresses([0, 1, 2]) and pinged.startswith("pinged 12, own broadcast copies 1, duplicates 0"),
              f"a broadcast from A finds all 12 lobby hosts, each pinged once ({found}; {pinged})")

        sink, index = tcp_sink(workdir, 1, name)
        check(wait_instances(bridges[1], "ports", [index], "B's TCP listener", ports=("tcp 23800",)), "A learns the TCP listener of B's sink")
        sank = tcp_stream(workdir, 1, sink, index, 4, name)
        joined = bridges[0].expect(lambda l: "passes through this relay" in l, "spliced", timeout=5)
        check(sank.startswith(f"sank {4 << 20} bytes") and joined is not None,
              f"a TCP stream of 4 MiB from A to B's listener still goes through R, whole ({sank}; {joined})")

        bridges[0].stop(signal.SIGKILL)
        check(wait_instances(bridges[1], "left", SERVERS[0], "R's instances leave"), "relay killed: A's bridge drops R's instances once R is silent")
        found, pinged = discover(1, workdir, 8, 20000, registry=name)
        check(found.split()[1:] == addresses([1, 2]) and pinged.startswith("pinged 8, own broadcast copies 1, duplicates 0"),
              f"with R gone, a broadcast from A still finds A's and B's 8 lobby hosts, each pinged once: direct ({found}; {pinged})")
        check(not any(l.startswith("bridge: instance 32 ") and l.endswith(" left") for l in bridges[1].lines), "B's instances never left A")
    finally:
        for p in bridges:
            p.stop()


def overlay(workdir):
    """The bridge over a WireGuard overlay the players already run (wireguard-go, userspace):
    R is the overlay's hub (10.219.0.1) and forwards between A (.2) and B (.3), which reach it
    from behind their NATs (a keepalive each second keeps their NATs open). The bridges of A
    and B name each other's overlay address; no relay bridge: the overlay gives the reach.
    Those addresses exist only on the WireGuard interfaces, and A and B do not reach each
    other outside it (checked first), so what crosses has crossed through WireGuard."""
    print("relay test: the bridges of A and B over a WireGuard overlay through R (no relay bridge)")
    env = {"WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD": "1"}
    names = {0: "vlwgr", 1: "vlwga", 2: "vlwgb"}
    keys = {h: subprocess.run(["wg", "genkey"], capture_output=True, text=True, check=True).stdout.strip() for h in names}
    public = {h: subprocess.run(["wg", "pubkey"], input=keys[h], capture_output=True, text=True, check=True).stdout.strip() for h in names}
    daemons = [Process(f"wireguard-{NAMES[h]}", HOSTS[h], ["wireguard-go", "-f", names[h]], env) for h in names]
    try:
        for h in names:
            key_file = os.path.join(workdir, f"wg-{h}.key")
            with open(key_file, "w") as f:
                f.write(keys[h] + "\n")
            os.chmod(key_file, 0o600)
            deadline = time.monotonic() + 10
            while subprocess.run(["ip", "-n", HOSTS[h], "link", "show", names[h]], capture_output=True).returncode != 0:
                if time.monotonic() > deadline:
                    check(False, f"wireguard-go made its interface on host {NAMES[h]} ({daemons[h].lines[-3:]})")
                    return
                time.sleep(0.1)  # wireguard-go creates the interface as it starts: look again (bounded above)
            if h == 0:
                peers = ["peer", public[1], "allowed-ips", "10.219.0.2/32", "peer", public[2], "allowed-ips", "10.219.0.3/32"]
                sh("ip", "netns", "exec", HOSTS[0], "sysctl", "-qw", "net.ipv4.ip_forward=1")
            else:
                peers = ["peer", public[0], "endpoint", f"{ADDR[0]}:51820", "allowed-ips", "10.219.0.0/24", "persistent-keepalive", "1"]
            sh("ip", "netns", "exec", HOSTS[h], "wg", "set", names[h], "private-key", key_file,
               *(["listen-port", "51820"] if h == 0 else []), *peers)
            sh("ip", "-n", HOSTS[h], "addr", "add", f"10.219.0.{h + 1}/24", "dev", names[h])
            sh("ip", "-n", HOSTS[h], "link", "set", names[h], "up")
        over = {1: "10.219.0.2", 2: "10.219.0.3"}
        bridges = [Process(f"bridge-{NAMES[h]}", HOSTS[h], [testhosts.TOOL, "bridge", "--listen", f"{over[h]}:{LINK_PORT}",
                                                            "--range", testhosts.RANGES[h], "--key-file", os.path.join(workdir, "key"),
                                                            "--registry", os.path.join(workdir, f"registry-wg-{h}"),
                                                            "--peer", f"{over[3 - h]}:{LINK_PORT}"]) for h in (1, 2)]
        check(all(b.expect(lambda l: "listening on" in l, "listening") for b in bridges) and wait_peers(bridges[0], 1)
              and wait_peers(bridges[1], 1), "A's and B's bridges, on their overlay addresses, see each other")
        servers = [Process(f"serve-{NAMES[h]}", HOSTS[h], [testhosts.PEER, "peer", "serve", "--port", str(GAME_PORT), "--timeout-ms", "20000"],
                           {"VIRTUALLAN_REGISTRY": os.path.join(workdir, f"registry-wg-{h}")}) for h in (1, 1, 2, 2)]
        check(all(p.expect(lambda l: l.startswith("ready"), "ready") for p in servers), "2 lobby hosts on A and 2 on B")
        check(wait_ports(bridges[0], SERVERS[2][:2], "B's servers"), "over the overlay, A learns B's servers")
        p = Process("discover-A", HOSTS[1], [testhosts.PEER, "peer", "discover", "--port", str(GAME_PORT), "--timeout-ms", "20000",
                                             "--count", "4"], {"VIRTUALLAN_REGISTRY": os.path.join(workdir, "registry-wg-1")})
        found = p.expect(lambda l: l.startswith("found") or "discover:" in l, "found", timeout=40) or ""
        pinged = p.expect(lambda l: l.startswith("pinged") or "discover:" in l, "pinged") if found.startswith("found") else ""
        check(found.split()[1:] == addresses([1, 2], each=2) and (pinged or "").startswith("pinged 4, own broadcast copies 1, duplicates 0"),
              f"a broadcast from A finds the 4 lobby hosts on A and B, each pinged once ({found}; {pinged})")
        for b in bridges:
            b.stop()
    finally:
        for d in daemons:
            d.stop()


def addresses(hosts, each=4):
    return sorted(f"192.168.80.{i + 1}:{GAME_PORT}" for h in hosts for i in SERVERS[h][:each])


def main():
    if os.geteuid() != 0 or subprocess.run(["ip", "netns", "add", f"{tag}probe"], capture_output=True).returncode != 0:
        print("relay test: SKIPPED: cannot create network namespaces here (needs root and iproute2's `ip netns`)")
        return results.finish()
    sh("ip", "netns", "del", f"{tag}probe")
    if not os.path.exists(NFT) or not os.path.exists(CONNTRACK):
        check(False, "nftables and conntrack are installed for the NAT routers (scripts/install-deps installs them)")
        return results.finish()
    started = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="vl-relay-")
    os.chmod(workdir, 0o700)
    with open(os.path.join(workdir, "key"), "wb") as f:
        f.write(os.urandom(32))
    os.chmod(os.path.join(workdir, "key"), 0o600)
    # The test hosts' helpers (instances, registries) work on these namespaces.
    testhosts.NS = HOSTS
    try:
        make_internet()
        print("relay test: relay host R on a public segment; hosts A and B each behind a NAT router of its own")
        check(reaches(1, 0) and reaches(2, 0), "A and B reach R (their routers masquerade them)")
        check(not reaches(1, 2) and not reaches(2, 1), "A and B do not reach each other (nothing comes in through a NAT unasked)")

        bridges = [bridge(h, workdir) for h in range(3)]
        check(wait_peers(bridges[0], 2) and wait_peers(bridges[1], 1) and wait_peers(bridges[2], 1),
              "R sees A's and B's bridges, each of them R's")
        servers = [[instance(h, workdir, "serve") for _ in range(4)] for h in range(3)]
        check([[s.instance for s in host] for host in servers] == SERVERS, "instances take their host's range")
        check(wait_ports(bridges[0], SERVERS[1] + SERVERS[2], "A's and B's servers"), "R learns A's and B's servers")

        # Control: R does not relay, so A and B stay apart.
        found, _ = discover(1, workdir, 9, 3000)
        check("discover: found 8 of 9" in found and found.split(": ")[-1].split() == addresses([0, 1]),
              f"control, R not relaying: a broadcast from A finds R's and A's 8 lobby hosts and none of B's ({found})")

        rows = other_hosts(1, workdir, lambda rows: any(r.split()[:1] == ["0-15"] and "direct" in r and "ms" in r for r in rows))
        check(any(r.split()[:1] == ["0-15"] and "direct" in r and r.split()[-1] == "ms" for r in rows)
              and not any(r.split()[:1] == ["32-47"] for r in rows),
              f"status on A: R direct with its round trip, B not there ({rows})")

        # R relays: A and B play together through it.
        bridges[0].stop()
        bridges[0] = bridge(0, workdir, "--relay")
        check(wait_ports(bridges[1], SERVERS[0] + SERVERS[2], "R's and B's servers"), "through R, A learns B's servers (and R's)")
        check(wait_ports(bridges[2], SERVERS[0] + SERVERS[1], "R's and A's servers"), "through R, B learns A's servers (and R's)")
        everyone = addresses([0, 1, 2])
        for host in (1, 2):
            found, pinged = discover(host, workdir, 12, 20000)
            check(found.split()[1:] == everyone, f"a broadcast from host {NAMES[host]} finds all 12 lobby hosts through the relay ({found})")
            check(pinged.startswith("pinged 12, own broadcast copies 1, duplicates 0"),
                  f"unicast both ways with each of them, no duplicates ({pinged})")

        relayed = lambda rows: any(r.split()[:1] == ["32-47"] and f"relayed by {ADDR[0]}:{LINK_PORT}" in r and r.split()[-1] == "ms"  # noqa: E731
                                   for r in rows)
        rows = other_hosts(1, workdir, relayed)
        check(relayed(rows), f"status on A: B relayed by R, with the round trip through it ({rows})")
        check(any("instances 32-47: the relay sees it at 10.214.0.3:" in l for l in bridges[1].lines),
              "R told A where it sees B, and A probes B there")

        # TCP: a listener behind B's NAT, a stream from A; R has B call back and joins the two.
        sink, index = tcp_sink(workdir, 2)
        check(wait_instances(bridges[1], "ports", [index], "B's TCP listener", ports=("tcp 23800",)),
              "through R, A learns the TCP listener of B's sink")
        sank = tcp_stream(workdir, 1, sink, index, 16)
        check(sank.startswith(f"sank {16 << 20} bytes"), f"a TCP stream of 16 MiB from A to B's listener passes through the relay whole ({sank})")
        # The relay's own copy connects too: B calls it back as well.
        sank = tcp_stream(workdir, 0, sink, index, 16)
        check(sank.startswith(f"sank {16 << 20} bytes"), f"and one from a copy on R itself, B calling R back ({sank})")

        check(not any("reached directly" in l for b in bridges[1:] for l in b.lines),
              "B's NAT gives each destination a new port: no probe got through, A and B stayed relayed")

        # The relay dies without a goodbye: to A it is a pulled cable; back, the LAN resumes.
        spliced_by = bridges[0]
        bridges[0].stop(signal.SIGKILL)
        check(wait_instances(bridges[1], "left", SERVERS[0] + SERVERS[2], "R's and B's instances leave"),
              "relay killed: once it is silent, A's bridge drops R's and B's instances")
        bridges[0] = bridge(0, workdir, "--relay")
        check(wait_ports(bridges[1], SERVERS[0] + SERVERS[2], "R's and B's servers again"),
              "the relay back: A learns R's and B's servers again, neither A nor B restarted")
        found, pinged = discover(1, workdir, 12, 20000)
        check(found.split()[1:] == everyone and pinged.startswith("pinged 12, own broadcast copies 1, duplicates 0"),
              f"and a broadcast from A finds all 12 again, each pinged once ({found}; {pinged})")
        for p in bridges:
            p.stop()
        stats = next((l for l in bridges[0].lines if "stats:" in l), "")
        print(f"    relay {stats}")
        passed_on = int(stats.split("passed on=")[1].split()[0]) if "passed on=" in stats else 0
        check(passed_on > 0, f"R counted the frames it passed on ({passed_on})")
        check(any("passes through this relay" in l for l in spliced_by.lines), "R joined the stream's two connections (B called back)")
        direct(workdir)
        overlay(workdir)
        if "--wine" in sys.argv:
            wine_lobby(workdir)
            wine_tcp(workdir)
    finally:
        if results.failed:
            for p in processes:
                if p.name.startswith("bridge"):
                    print(f"--- {p.name}:\n" + "\n".join(p.lines[-30:]))
        remove_internet()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"relay test: {time.monotonic() - started:.1f} s")
    return results.finish()


if __name__ == "__main__":
    testhosts.configure(sys.argv[1])
    sys.exit(main())
