"""Wine copies on the test hosts of the cross-host stages (scripts/bridge_test.py,
scripts/relay_test.py): one Wine prefix and wineserver per host, started in the host's
network namespace, one bridge per host, and the games played across them."""
import os
import subprocess
import sys

from testhosts import ROOT, wait_instances


class WineHosts:
    """Two hosts for Wine copies: `namespaces` maps each host's number to its namespace (the
    first gets the first Wine prefix, the second the other), `registry(host)` is its
    registry file (removed first: the instances of the run before are gone) and
    `start_bridges()` starts the bridges once the wineservers run. A context manager: stops
    it all, then prints the stats line of bridge `report`."""

    def __init__(self, namespaces, registry, start_bridges, report=0):
        sys.path.insert(0, os.path.join(ROOT, "wine"))
        import winelab
        self.winelab, self.namespaces, self.registry, self.start_bridges = winelab, namespaces, registry, start_bridges
        self.report = report
        self.prefixes = dict(zip(namespaces, winelab.default_prefixes()))
        self.copies, self.bridges = [], []

    def __enter__(self):
        for host, prefix in self.prefixes.items():
            subprocess.run([os.path.join(ROOT, "wine", "prefix"), prefix], check=True)
            env = {**os.environ, "WINEPREFIX": prefix}
            subprocess.run(["wineserver", "-k"], env=env, capture_output=True)  # one left from elsewhere would hold the sockets
            subprocess.run(["ip", "netns", "exec", self.namespaces[host], "wineserver", "-p"], env=env, check=True)
            if os.path.exists(self.registry(host)):
                os.remove(self.registry(host))
        self.bridges = self.start_bridges()
        return self

    def copy(self, host, program, *args, instance=None):
        """A hooked copy of `program` (in wine/out) on `host`."""
        env = {**os.environ, "WINEPREFIX": self.prefixes[host], "WINEDEBUG": "-all", "VIRTUALLAN_REGISTRY": self.registry(host)}
        if instance is not None:
            env["VIRTUALLAN_INSTANCE"] = str(instance)
        copy = self.winelab.Copy(["ip", "netns", "exec", self.namespaces[host], *self.winelab.hooked(program, *args)], env)
        self.copies.append(copy)
        return copy

    def __exit__(self, *_):
        for copy in self.copies:
            if copy.process.poll() is None:
                copy.process.kill()
        for b in self.bridges:
            b.stop()
        for prefix in self.prefixes.values():
            subprocess.run(["wineserver", "-k"], env={**os.environ, "WINEPREFIX": prefix}, capture_output=True)
        if self.bridges:
            print("    " + next((l for l in self.bridges[self.report].lines if "stats:" in l), ""))


def play_lobby(check, hosts, where):
    """fo2sim.exe: 2 copies on each host (`where`: the two hosts' numbers), the first copy
    on the second host hosting; every copy must find the lobby, join and play 50 rounds with
    nothing lost."""
    players = 4
    placed = [where[0], where[0], where[1], where[1]]
    copies = [hosts.copy(host, "fo2sim.exe", "-lan", *(["-host", f"-players={players}"] if i == 2 else ["-join"]),
                         f"-name=copy-{i}", "-rounds=50", "-timeout=60") for i, host in enumerate(placed)]
    check(all(copy.line("race:") for copy in copies), "4 copies on the two hosts found copy 2's lobby on the second and joined")
    for i, copy in enumerate(copies):
        result = copy.line("RESULT")
        f = hosts.winelab.fields(result) if result else {}
        check(copy.finish() == 0 and f.get("ok") == "1" and f.get("players") == str(players) and f.get("lost") == "0",
              f"copy {i} (host {'AABB'[i]}, {f.get('ip')}): {result}")


def play_tcp_game(check, hosts, copies, ready, how):
    """wine/tests/tcpgame.c: copies[2] (on the second host) hosts, the others join; 64 KB
    each way per player, checked byte for byte. `how`: how the players reach the host."""
    ips = [line.split()[2] for line in ready]
    copies[2].send("host 4")
    for i in (0, 1, 3):
        copies[i].send("join")
    results = [copy.line("RESULT", timeout=60) for copy in copies]
    frame = 28 + 65536
    for i, (copy, result) in enumerate(zip(copies, results)):
        code = copy.finish()
        if i == 2:
            check(result == f"RESULT ok players=3 done=3 errors=0 in={frame * 3} out={frame * 3}" and code == 0,
                  f"host {ips[i]} accepted the 3 players, 2 of them {how}: {result}")
        else:
            check(result == f"RESULT ok host={ips[2]} seen-as={ips[i]} sent={frame} received={frame}" and code == 0,
                  f"player {ips[i]} (host {'AABB'[i]}) got its 64 KB intact: {result}")


def four_copies(check, hosts, program, placed, watchers, ports, what):
    """Copies of `program` at `placed` ((host, instance) x 4); each watcher (bridge, the
    instances it must see) must stand in for them with `ports` (as the bridge logs them:
    "5500", "tcp 6112"). The copies and their READY lines, or None."""
    copies = [hosts.copy(host, program, instance=index) for host, index in placed]
    ready = [copy.line("READY") for copy in copies]
    if not check(all(ready), f"4 copies {what} on the two hosts"):
        return copies, None
    for b, others in watchers:
        check(wait_instances(b, "ports", others, "the other host's copies", ports=ports),
              f"{b.name} stands in for the other host's copies ({', '.join(ports)})")
    return copies, ready
