#!/usr/bin/env python3
"""End-to-end LAN lobby with the stand-in game (wine/fo2sim) under Wine, through the
hook DLL; run it through wine/e2e (private network namespace). Checks every copy's
RESULT line: it saw the lobby, joined, and received every peer's packets (0 lost).

  lobby N=2 and N=8 (copy 3 hosts: instance 3, not 0), copies pinned to instance k
  lobby N=4 over 2 Wine prefixes
  control: 2 copies without the DLL: the second cannot bind its ports
  crash: kill -9 one client mid-race; the others finish; once its slot is stale a new
         copy takes that very slot (reclaimed) and plays a new lobby
"""
import os
import subprocess
import tempfile
import time

import winelab
from winelab import (Copy, check, default_prefixes, fields, finish, hooked, prepare_prefix, require_private_network,
                     status_json, status_rows, stop_prefix, unhooked)

ROUNDS = int(os.environ.get("FO2SIM_ROUNDS", "50"))
totals = {"datagrams": 0}


def fo2sim_args(index, host, players, rounds, tick):
    role = ["-host", f"-players={players}"] if host else ["-join"]
    return ["-lan", *role, f"-name=copy-{index}", f"-rounds={rounds}", f"-tick={tick}", "-timeout=60"]  # ends before the harness stops waiting (90 s)


def start(index, host, players, env, with_dll=True, rounds=ROUNDS, tick=0):
    command = (hooked if with_dll else unhooked)("fo2sim.exe", *fo2sim_args(index, host, players, rounds, tick))
    return Copy(command, env)


def lobby(title, envs, host_copy, registry):
    print(title)
    started = time.monotonic()
    players = len(envs)
    kernel_before = winelab.udp_drops()
    # 40 ms a round: the race (2 s at 50 rounds) outlasts the status query below; at full
    # speed a 2-copy race was once over before `virtuallan status` had read the registry.
    copies = [start(i, i == host_copy, players, env, tick=40) for i, env in enumerate(envs)]
    races = [copy.line("race:") for copy in copies]
    check(all(races), f"all {players} copies found the lobby of copy {host_copy} and joined")
    status = status_json(registry) or {"instances": []}
    drops = sum(sum(instance["drops"].values()) for instance in status["instances"])
    check(len(status["instances"]) == players, f"virtuallan status --json lists {len(status['instances'])} instances")
    results = [copy.line("RESULT") for copy in copies]
    codes = [copy.finish() for copy in copies]
    for i, (result, code) in enumerate(zip(results, codes)):
        f = fields(result) if result else {}
        check(code == 0 and f.get("ok") == "1" and f.get("lobby") == "1" and f.get("players") == str(players)
              and f.get("lost") == "0",
              f"copy {i} ({'host' if i == host_copy else 'client'}, {f.get('ip')}): {result}")
        totals["datagrams"] += int(f.get("sent", 0))
    seconds = time.monotonic() - started
    sent = sum(int(fields(r).get("sent", 0)) for r in results if r)
    resent = sum(int(fields(r).get("resent", 0)) for r in results if r)
    buffer_drops, in_errors = (after - before for after, before in zip(winelab.udp_drops(), kernel_before))
    # Where a lost datagram went, if one did: our receive check (registry drops) or a full
    # socket buffer (the kernel's counters for this namespace), and how often copies resent.
    print(f"  {players} copies: {seconds:.1f} s wall, {sent} datagrams sent ({resent} resent while waiting), "
          f"registry drops while racing: {drops}, kernel UDP drops (buffer full / in errors): {buffer_drops} / {in_errors}")


def control(env):
    print("control: 2 copies of the stand-in game without the DLL")
    first = start(0, True, 2, env, with_dll=False)
    check(first.line("ready") is not None, "the first copy binds 23756 and 23757")
    second = start(1, False, 2, env, with_dll=False)
    result = second.line("RESULT")
    check(result is not None and "error=bind23756:10048" in result, f"the second copy cannot bind: {result}")
    check(second.finish() == 3, "and gives up")
    first.process.kill()
    first.finish()


def fo2sim_pid(name):
    """The Linux pid of the fo2sim.exe process started with -name=<name>."""
    pattern = f"^[^ ]*fo2sim.exe .*-name={name}( |$)"  # the game itself, not the injector
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else None


def wait_until_stale(registry, address, limit_s=30):
    """Polls `virtuallan status` (bounded) until the slot with `address` is stale or free."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        rows = status_rows(registry) or []
        row = next((r for r in rows if f" {address} " in r), None)
        if row is None or " stale " in row:
            return True
        subprocess.run(["sleep", "0.5"])  # the heartbeat limit is time itself: look twice a second
    return False


def crash(env, registry):
    print("crash: kill -9 a client mid-race")
    players = 4
    envs = [{**env, "VIRTUALLAN_INSTANCE": str(i)} for i in range(players)]
    # 400 rounds at 25 ms a frame: about 10 s of racing, time to pull the plug mid-race.
    copies = [start(i, i == 2, players, e, rounds=400, tick=25) for i, e in enumerate(envs)]
    check(all(copy.line("race:") for copy in copies), "4 copies racing")
    victim = fo2sim_pid("copy-3")
    if victim is None:
        print(subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout)
    check(victim is not None, f"found copy 3's process ({victim})")
    if victim:
        os.kill(victim, 9)
    results = [copy.line("RESULT") for copy in copies[:3]]
    for i, result in enumerate(results):
        f = fields(result) if result else {}
        check(f.get("ok") == "1" and f.get("dropped") == "1", f"copy {i} finishes without the killed player: {result}")
    for copy in copies:
        copy.finish()
    check(wait_until_stale(registry, "192.168.80.4"), "the killed copy's slot goes stale (heartbeat limit)")
    print("  a new lobby: a new copy takes the reclaimed instance 3 and hosts, another joins")
    fresh = [start(10, True, 2, {**env, "VIRTUALLAN_INSTANCE": "3"}), start(11, False, 2, env)]
    results = [copy.line("RESULT") for copy in fresh]
    for copy in fresh:
        copy.finish()
    f = fields(results[0]) if results[0] else {}
    check(f.get("ok") == "1" and f.get("ip") == "192.168.80.4", f"the new copy got the reclaimed slot and hosted: {results[0]}")
    check(results[1] is not None and fields(results[1]).get("ok") == "1", f"and a client joined it: {results[1]}")


def launch_run(env, prefix, registry):
    print("virtuallan launch: 2 copies, copy 1 hosts")
    tool = os.environ.get("VIRTUALLAN_TOOL")
    if not check(tool is not None, "the virtuallan tool is built"):
        return
    game = winelab.windows_path(os.path.join(winelab.OUT, "fo2sim.exe"))
    command = [tool, "launch", "--instances", "2", "--host", "1", "--prefix", prefix, "--registry", registry,
               "--host-args", "-lan -host -players=2 -rounds=30 -timeout=60", "--client-args", "-lan -join -rounds=30 -timeout=60",
               "--", game]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    results = [line for line in run.stdout.splitlines() if line.startswith("RESULT")]
    check(run.returncode == 0 and len(results) == 2 and all("ok=1" in r for r in results),
          f"both copies played and launch exited 0 ({run.returncode}): {results} {run.stderr.strip()}")
    check("copy 0: exit 0" in run.stdout and "copy 1: exit 0" in run.stdout, "launch reports each copy's exit")


def main():
    require_private_network()
    started = time.monotonic()
    work = tempfile.mkdtemp(prefix="virtuallan-e2e-")
    prefixes = default_prefixes()
    for prefix in prefixes:
        prepare_prefix(prefix)
    base = {**os.environ, "WINEDEBUG": "-all", "WINEPREFIX": prefixes[0]}
    counts = [int(n) for n in os.environ.get("E2E_COPIES", "2 8").split()]
    try:
        for n in counts:
            registry = os.path.join(work, f"registry-{n}")
            env = {**base, "VIRTUALLAN_REGISTRY": registry}
            host = min(3, n - 1)
            lobby(f"lobby: {n} copies, copy {host} hosts", [{**env, "VIRTUALLAN_INSTANCE": str(i)} for i in range(n)], host, registry)
        registry = os.path.join(work, "registry-prefixes")
        envs = [{**base, "WINEPREFIX": prefixes[i % 2], "VIRTUALLAN_REGISTRY": registry} for i in range(4)]
        lobby("lobby: 4 copies over 2 Wine prefixes, copy 1 hosts", envs, 1, registry)
        control(base)
        launch_run(base, prefixes[0], os.path.join(work, "registry-launch"))
        crash({**base, "VIRTUALLAN_REGISTRY": os.path.join(work, "registry-crash")}, os.path.join(work, "registry-crash"))
    finally:
        for prefix in prefixes:
            stop_prefix(prefix)
    print(f"datagrams sent by all copies in the lobbies: {totals['datagrams']}")
    finish(started)


if __name__ == "__main__":
    main()
