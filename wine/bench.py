#!/usr/bin/env python3
"""Wine rows of docs/BENCHMARKS.md: udpbench.exe ping-pong and throughput between two
Wine processes, through the hook DLL (virtual) and without it (raw Wine loopback UDP),
and through the DLL with VIRTUALLAN_LOG_LEVEL=trace (every call logged: what leaving the
trace on while playing costs). Run through wine/bench (private network namespace).
Rounds of the three, interleaved (raw, virtual, traced, raw, ...): each ratio is the median
of the rounds' ratios with their lowest and highest beside it (single Wine runs differed by
1.7x from each other). Prints Markdown rows."""
import os
import statistics
import sys
import tempfile

from winelab import Copy, default_prefixes, fields, hooked, prepare_prefix, require_private_network, stop_prefix, unhooked
from spread import spread  # scripts/lib: winelab put it on the path

TRIPS = int(os.environ.get("WINE_BENCH_TRIPS", "5000"))
DATAGRAMS = int(os.environ.get("WINE_BENCH_DATAGRAMS", "50000"))
ROUNDS = int(os.environ.get("WINE_BENCH_ROUNDS", "5"))


def measure(env, virtual):
    run = hooked if virtual else unhooked
    server = Copy(run("udpbench.exe", "server", "23756"), {**env, "VIRTUALLAN_INSTANCE": "0"})
    if server.line("ready") is None:
        sys.exit("wine bench: the server did not start")
    target = "192.168.80.1" if virtual else "127.0.0.1"
    client = Copy(run("udpbench.exe", "client", target, "23756", str(TRIPS), str(DATAGRAMS)), {**env, "VIRTUALLAN_INSTANCE": "1"})
    result = client.line("RESULT", timeout=300)
    client.finish()
    server.finish()
    if not result or "error" in result:
        sys.exit(f"wine bench: {result}")
    return {k: float(v.split("/")[0]) for k, v in fields(result).items()}


IDLE_SECONDS = 5


def idle_cpu(env, virtual):
    """CPU ms of a process with two overlapped receives pending and nothing arriving."""
    run = hooked if virtual else unhooked
    copy = Copy(run("udpbench.exe", "idle", str(IDLE_SECONDS)), {**env, "VIRTUALLAN_INSTANCE": "0"})
    result = copy.line("RESULT", timeout=60)
    copy.finish()
    if not result or "error" in result:
        sys.exit(f"wine bench: {result}")
    return float(fields(result)["cpu_ms"])


def main():
    require_private_network()
    prefix = default_prefixes()[0]
    prepare_prefix(prefix)
    work = tempfile.mkdtemp(prefix="virtuallan-bench-")
    env = {**os.environ, "WINEDEBUG": "-all", "WINEPREFIX": prefix, "VIRTUALLAN_REGISTRY": os.path.join(work, "registry")}
    trace_env = {**env, "VIRTUALLAN_LOG": os.path.join(work, "trace.log"), "VIRTUALLAN_LOG_LEVEL": "trace"}
    raws, virtuals, traceds = [], [], []
    try:
        for _ in range(ROUNDS):
            raws.append(measure(env, virtual=False))
            virtuals.append(measure(env, virtual=True))
            traceds.append(measure(trace_env, virtual=True))
            if os.path.exists(trace_env["VIRTUALLAN_LOG"]):
                os.remove(trace_env["VIRTUALLAN_LOG"])  # each traced run writes its own
        idle_raw, idle_virtual = idle_cpu(env, virtual=False), idle_cpu(env, virtual=True)
    finally:
        stop_prefix(prefix)

    def median(runs, key):
        return statistics.median(run[key] for run in runs)

    print("| measure | without the DLL (Wine loopback UDP) | with the DLL (virtual) | virtual / raw | with the DLL, trace on | traced / raw |")
    print("| --- | --- | --- | --- | --- | --- |")
    for key, name in [("pps", f"throughput 1400 B, {DATAGRAMS} datagrams (datagrams/s)"),
                      ("rtt_p50_us", f"round trip p50, 64 B, {TRIPS} exchanges (µs)"), ("rtt_p99_us", "round trip p99 (µs)")]:
        virtual_ratio = spread([v[key] / r[key] for v, r in zip(virtuals, raws)])
        traced_ratio = spread([t[key] / r[key] for t, r in zip(traceds, raws)])
        print(f"| {name} (medians of {ROUNDS} runs) | {median(raws, key):.1f} | {median(virtuals, key):.1f} | {virtual_ratio}"
              f" | {median(traceds, key):.1f} | {traced_ratio} |")
    print(f"| datagrams received of {DATAGRAMS} (median) | {median(raws, 'received'):.0f} | {median(virtuals, 'received'):.0f} | |"
          f" {median(traceds, 'received'):.0f} | |")
    print(f"| idle, 2 overlapped receives pending, {IDLE_SECONDS} s: CPU of the process (ms; clock-tick resolution)"
          f" | {idle_raw:.1f} | {idle_virtual:.1f} | | | |")


if __name__ == "__main__":
    main()
