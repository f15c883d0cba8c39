#!/usr/bin/env python3
"""Cross-host round trip: plain UDP between two network namespaces (on a virtual switch)
against the virtual path through both bridges (instance -> proxy -> bridge -> link ->
bridge -> proxy -> instance, and back), alternating, 5 runs. Then a TCP stream's
throughput: plain TCP between the hosts against a virtual connection relayed by both
bridges (encrypted chunks over the link), 3 runs, alternating. The CPU a bridge spends per
datagram it passes (time on a CPU, from /proc/<pid>/schedstat) beside what a plain endpoint spends on
one receive and one send: two bridges make four such passes per round trip, so four plain
receive-and-sends is the floor for what they can add, whatever the bridge does itself.
Last, hosts A and B are kept from reaching each other (nftables on each) and host C
relays for them: the same round trips and streams through the relay. Each ratio is the median
of the runs' ratios, its lowest and highest beside it. Prints Markdown rows.
Usage: scripts/bridge_bench.py <virtuallan binary> [--quick] [--output FILE] (rows to FILE, else stdout)"""
import os
import shutil
import subprocess
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import testhosts as bt  # noqa: E402
from spread import spread  # noqa: E402

QUICK = "--quick" in sys.argv
COUNT = 200 if QUICK else 3000
RUNS = 1 if QUICK else 5
STREAM_MIB = 8 if QUICK else 256
STREAM_RUNS = 1 if QUICK else 3
NFT = shutil.which("nft") or "/usr/sbin/nft"


def rtt(line):
    """(p50, p99) from 'pinged N, rtt p50 X p99 Y (µs)'."""
    words = line.split()
    return float(words[words.index("p50") + 1]), float(words[words.index("p99") + 1])


def ping(host, args, env=None):
    p = bt.Process("ping", bt.NS[host], [bt.PEER, "peer", "ping", "--count", str(COUNT), "--timeout-ms", "5000", *args], env)
    line = p.expect(lambda l: l.startswith("pinged") or "ping:" in l, "pinged", timeout=120)
    p.proc.wait(timeout=10)
    if not line or not line.startswith("pinged"):
        sys.exit(f"bridge bench: the ping run failed: {p.lines[-3:]}")
    return rtt(line)


def streams(sink_args, stream_args, sink_env=None, stream_env=None, listener_seen=None, runs=STREAM_RUNS):
    """MB/s of `runs` streams of STREAM_MIB MiB each, from host 1 to one sink on host 0;
    `stream_args` are made from the sink's instance index."""
    sink = bt.Process("sink", bt.NS[0], [bt.PEER, "peer", "sink", "--count", str(runs), "--timeout-ms", "60000", *sink_args],
                      sink_env)
    ready = sink.expect(lambda l: l.startswith("ready"), "ready")
    if not ready:
        sys.exit(f"bridge bench: the sink did not start: {sink.lines[-3:]}")
    index = int(ready.split()[1]) if ready.split()[1] != "raw" else -1
    if listener_seen:
        listener_seen(index)
    rates = []
    for _ in range(runs):
        sender = bt.Process("stream", bt.NS[1], [bt.PEER, "peer", "stream", "--count", str(STREAM_MIB), *stream_args(index)], stream_env)
        line = sink.expect(lambda l: l.startswith("sank") or "sink:" in l, "sank", timeout=600)
        sender.proc.wait(timeout=30)
        if not line or not line.startswith("sank") or int(line.split()[1]) < STREAM_MIB << 20:
            sys.exit(f"bridge bench: the stream run failed: {sink.lines[-3:]} {sender.lines[-3:]}")
        rates.append(float(line.split()[-2]))
    sink.proc.wait(timeout=30)
    return rates


def on_cpu(pid):
    """(ns on a CPU, user and kernel alike; times it was scheduled in), summed over the
    process's threads (/proc/<pid>/task/*/schedstat)."""
    ns = runs = 0
    for thread in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{thread}/schedstat") as f:
            fields = f.read().split()
        ns, runs = ns + int(fields[0]), runs + int(fields[2])
    return ns, runs


def through_relay(workdir):
    """Hosts A and B that cannot reach each other (nftables drops what one sends the other)
    and host C relaying for them (`bridge --relay`): round trips from B to an echo on A, and
    TCP streams from B to a sink on A, all through C. Returns (pings, stream rates)."""
    for host, other in ((0, 1), (1, 0)):
        rules = f"table ip vlbench {{ chain out {{ type filter hook output priority 0; ip daddr {bt.ADDR[other]} drop\n }}\n }}\n"
        subprocess.run(["ip", "netns", "exec", bt.NS[host], NFT, "-f", "-"], input=rules, text=True, check=True)
    bridges = [bt.bridge(0, workdir, peers=[2]), bt.bridge(1, workdir, peers=[2]), bt.bridge(2, workdir, peers=[], extra=["--relay"])]
    if not all(b.started for b in bridges):
        sys.exit("bridge bench: a bridge of the relay runs did not start")
    registry = [{"VIRTUALLAN_REGISTRY": os.path.join(workdir, f"registry-{h}")} for h in (0, 1)]
    echo = bt.Process("echo-relayed", bt.NS[0], [bt.PEER, "peer", "echo", "--port", "23757", "--count", str(COUNT * RUNS),
                                                 "--timeout-ms", "60000"], registry[0])
    ready = echo.expect(lambda l: l.startswith("ready"), "ready")
    if not ready or not bt.wait_ports(bridges[1], [int(ready.split()[1])], "the echo instance, through the relay"):
        sys.exit("bridge bench: B did not learn A's echo through the relay")
    pings = [ping(1, ["--port", "23757", "--peer-instance", ready.split()[1]], registry[1]) for _ in range(RUNS)]
    rates = []
    for run in range(STREAM_RUNS):
        port = 23768 + run
        rates += streams(["--port", str(port)], lambda index: ["--port", str(port), "--peer-instance", str(index)], registry[0], registry[1],
                         lambda index: bt.wait_instances(bridges[1], "ports", [index], "the sink's TCP listener", ports=(f"tcp {port}",)),
                         runs=1)
    stats = [l for l in bridges[2].lines if "passes through this relay" in l]
    if len(stats) < STREAM_RUNS:
        sys.exit(f"bridge bench: the streams did not pass through the relay ({bridges[2].lines[-3:]})")
    for p in bridges + [echo]:
        p.stop()
    return pings, rates


def main():
    workdir = tempfile.mkdtemp(prefix="vl-bridge-bench-")
    with open(os.path.join(workdir, "key"), "wb") as f:
        f.write(os.urandom(32))
    raw, virtual = [], []
    try:
        bt.make_hosts()
        bridges = [bt.bridge(0, workdir, hosts=2), bt.bridge(1, workdir, hosts=2)]
        if not all(b.started for b in bridges):
            sys.exit("bridge bench: a bridge did not start")
        for b in bridges:
            b.expect(lambda l: "peer" in l and " up" in l, "peer up")
        registry = [{"VIRTUALLAN_REGISTRY": os.path.join(workdir, f"registry-{h}")} for h in (0, 1)]
        echo = bt.Process("echo", bt.NS[0], [bt.PEER, "peer", "echo", "--port", "23757", "--count", str(COUNT * RUNS),
                                             "--timeout-ms", "60000"], registry[0])
        echo.expect(lambda l: l.startswith("ready"), "ready")
        bt.wait_ports(bridges[1], [0], "the echo instance")
        plain_cpu, bridge_cpu = [], []  # per run: a plain endpoint's CPU per exchange; bridge A's per datagram
        for _ in range(RUNS):
            # One more than the ping sends: the echo is still there to be measured, then stopped.
            raw_echo = bt.Process("raw-echo", bt.NS[0], [bt.PEER, "peer", "echo", "--raw", f"{bt.ADDR[0]}:5555", "--count", str(COUNT + 1)])
            raw_echo.expect(lambda l: l.startswith("ready"), "ready")
            before = on_cpu(raw_echo.proc.pid)
            raw.append(ping(1, ["--raw", f"{bt.ADDR[0]}:5555"]))
            after = on_cpu(raw_echo.proc.pid)
            raw_echo.stop()
            plain_cpu.append((after[0] - before[0]) / 1000 / COUNT)  # µs; the echo receives and sends once per exchange
            before = on_cpu(bridges[0].proc.pid)
            virtual.append(ping(1, ["--port", "23757", "--peer-instance", "0"], registry[1]))
            after = on_cpu(bridges[0].proc.pid)
            # Bridge A passes each exchange's two datagrams: the ping out, the answer in.
            bridge_cpu.append(((after[0] - before[0]) / 1000 / (2 * COUNT), (after[1] - before[1]) / (2 * COUNT)))
        raw_stream, virtual_stream = [], []
        for run in range(STREAM_RUNS):  # alternating: one plain stream, one relayed
            raw_port, port = 5556 + run, 23758 + run
            raw_stream += streams(["--raw", f"{bt.ADDR[0]}:{raw_port}"], lambda _: ["--raw", f"{bt.ADDR[0]}:{raw_port}"], runs=1)
            virtual_stream += streams(
                ["--port", str(port)], lambda index: ["--port", str(port), "--peer-instance", str(index)], registry[0], registry[1],
                lambda index: bt.wait_instances(bridges[1], "ports", [index], "the sink's TCP listener", ports=(f"tcp {port}",)),
                runs=1)
        # An idle bridge: a peer and a remote instance, no traffic; it wakes 4 times a second.
        idle_seconds = 1 if QUICK else 10
        before = on_cpu(bridges[0].proc.pid)
        time.sleep(idle_seconds)  # a measurement over wall time, not synchronisation
        after = on_cpu(bridges[0].proc.pid)
        idle_cpu, idle_wakes = (after[0] - before[0]) / 1e9, after[1] - before[1]
        for p in bridges + [echo]:
            p.stop()
        relayed, relayed_stream = through_relay(workdir)
    finally:
        for p in bt.processes:
            if p.proc.poll() is None:
                p.stop()
        bt.remove_hosts()
        shutil.rmtree(workdir, ignore_errors=True)
    rows = ["| measure | plain sockets between the hosts (UDP; TCP for the stream) | virtual, through both bridges | virtual / raw |",
            "| --- | --- | --- | --- |"]
    for name, index in [("p50", 0), ("p99", 1)]:
        r = statistics.median(x[index] for x in raw)
        v = statistics.median(x[index] for x in virtual)
        ratio = spread([vx[index] / rx[index] for vx, rx in zip(virtual, raw)])
        rows.append(f"| cross-host round trip {name}, ~16 B, {COUNT} exchanges (µs, medians of {RUNS} runs) | {r:.1f} | {v:.1f} | {ratio} |")
    r, v = statistics.median(raw_stream), statistics.median(virtual_stream)
    rows.append(f"| TCP stream, {STREAM_MIB} MiB one way (MB/s, medians of {STREAM_RUNS} runs; virtual: relayed by both bridges) "
                f"| {r:.1f} | {v:.1f} | {spread([vx / rx for vx, rx in zip(virtual_stream, raw_stream)])} |")
    rows.append(f"| cross-host round trip p50 through a relay host (µs, medians of {RUNS} runs; plain: the runs above) | "
                f"{statistics.median(x[0] for x in raw):.1f} | {statistics.median(x[0] for x in relayed):.1f} | "
                f"{spread([vx[0] / rx[0] for vx, rx in zip(relayed, raw)])} |")
    rows.append(f"| TCP stream through a relay host, {STREAM_MIB} MiB one way (MB/s, medians of {STREAM_RUNS} runs; plain: the runs above) | "
                f"{statistics.median(raw_stream):.1f} | {statistics.median(relayed_stream):.1f} | "
                f"{spread([vx / rx for vx, rx in zip(relayed_stream, raw_stream)])} |")
    hop = [r[0] - v[0] for r, v in zip(relayed, virtual)]
    rows.append(f"| the relay's hop per round trip, p50 (µs; through the relay minus through both bridges directly, median, "
                f"lowest-highest of {RUNS} runs) | | {statistics.median(hop):.1f} ({min(hop):.1f}-{max(hop):.1f}) | |")
    added = [vx[0] - rx[0] for vx, rx in zip(virtual, raw)]
    rows.append(f"| added by the two bridges per round trip, p50 (µs; median, lowest-highest of {RUNS} runs) | | "
                f"{statistics.median(added):.1f} ({min(added):.1f}-{max(added):.1f}) | |")
    bridge_us = [us for us, _ in bridge_cpu]
    rows.append(f"| CPU per datagram (µs on a CPU, user and kernel; medians of {RUNS} runs): a plain endpoint's receive and send "
                f"of one exchange; bridge A's pass of one datagram (receive, check, seal or open, send), with the times it was scheduled in "
                f"| {statistics.median(plain_cpu):.1f} | {statistics.median(bridge_us):.1f}, "
                f"scheduled in {statistics.median(w for _, w in bridge_cpu):.2f} times | {spread([b / p for b, p in zip(bridge_us, plain_cpu)])} |")
    rows.append(f"| floor for what two bridges add per round trip: 4 passes, each at least a plain endpoint's receive and send (µs) | | "
                f"{4 * statistics.median(plain_cpu):.1f} | |")
    rows.append(f"| idle bridge (1 peer, remote instances, no traffic), {idle_seconds} s: CPU, times scheduled in | | "
                f"{idle_cpu * 1000:.1f} ms ({idle_cpu / idle_seconds * 100:.3f}%), {idle_wakes} | |")
    text = "\n".join(rows) + "\n"
    if "--output" in sys.argv:
        with open(sys.argv[sys.argv.index("--output") + 1], "w") as f:
            f.write(text)
    print(text, end="")


if __name__ == "__main__":
    bt.configure(sys.argv[1])
    main()
