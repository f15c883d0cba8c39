#!/usr/bin/env python3
"""Wine end-to-end test of the hook DLL (run it through wine/test, which puts it in a
private network namespace). Copies of wine/tests/lantest.c run under Wine through the
injector, unpinned, so they also race for registry slots:

  1. 2 copies, then 4 copies in one prefix: each sees its own virtual IP (getsockname,
     gethostbyname(gethostname()), GetAdaptersInfo) and a distinct MAC; all bind 23757;
     every copy gets a unicast from every other (overlapped WSARecvFrom + events +
     WSAGetOverlappedResult); a broadcast from instance 2 (a non-zero one) reaches all;
     `virtuallan status` on Linux shows the Windows instances live.
  2. Control: the same program WITHOUT the DLL: the second copy's bind to 23757 fails
     with WSAEADDRINUSE (10048), which proves the test can fail.
  3. A program importing ws2_32 by ordinal, and resolving functions late through
     GetProcAddress (by name and ordinal), is hooked too; without the DLL it fails.
  4. Two copies in two different Wine prefixes (two wineservers) find each other.
  5. Copies sharing one log at trace level: every line each wrote is there, whole (exact
     counts of traced calls); control: Wine's plain append from 4 processes loses lines.
"""
import os
import re
import subprocess
import tempfile
import time

from winelab import (Copy, check, default_prefixes, fields, finish, hooked, prepare_prefix, require_private_network,
                     status_rows, stop_prefix, unhooked, windows_path, LINE_TIMEOUT)


def lan_run(title, envs, broadcaster_ip, registry, commands=None):
    """`commands`: how each copy starts (default: lantest.exe through the injector)."""
    print(f"{title}")
    commands = commands or [hooked("lantest.exe")] * len(envs)
    copies = [Copy(command, env) for command, env in zip(commands, envs)]
    ready = [copy.line("READY") for copy in copies]
    if not check(all(ready), f"all {len(copies)} copies bound 23756 and 23757 and reported READY"):
        for copy in copies:
            copy.process.kill()
        return
    infos = [fields(line) for line in ready]
    ips = [info["hostip"] for info in infos]
    for info in infos:
        ip = info["hostip"]
        number = int(ip.split(".")[-1])
        check(ip.startswith("192.168.80.") and info["adapterip"] == ip and info["addrinfoip"] == ip
              and info["gamesock"] == f"{ip}:23756",
              f"{ip}: gethostbyname(gethostname()), getaddrinfo, GetAdaptersInfo and getsockname agree on the own virtual IP")
        check(info["host"] == f"VLAN-{number}" and info["mac"] == f"02:56:4c:00:00:{number:02x}",
              f"{ip}: host name {info['host']} and MAC {info['mac']} are this instance's")
        check(info["discoverysock"] == "0.0.0.0:23757", f"{ip}: getsockname of the ANY-bound socket is 0.0.0.0:23757")
    check(len(set(ips)) == len(ips), f"every copy has its own address: {' '.join(sorted(ips))}")
    check(len({info['mac'] for info in infos}) == len(infos), "every copy has its own MAC")
    rows = status_rows(registry)
    if rows is not None:
        live = [row for row in rows if " live " in row]
        check(len(live) == len(copies), f"virtuallan status on Linux shows {len(live)} live Windows instances")
    broadcaster = broadcaster_ip if broadcaster_ip in ips else sorted(ips)[-1]
    for copy in copies:
        copy.send("go " + broadcaster + " " + " ".join(ips))
    results = [copy.line("RESULT") for copy in copies]
    codes = [copy.finish() for copy in copies]
    for ip, result, code in zip(ips, results, codes):
        check(result is not None and result.startswith("RESULT ok") and code == 0,
              f"{ip}: unicast from every other copy and the broadcast from {broadcaster}: {result} (exit {code})")


def bindings_run(env):
    print("ordinal imports and GetProcAddress")
    with_dll = subprocess.run(hooked("bindings.exe"), env=env, capture_output=True, text=True, timeout=LINE_TIMEOUT)
    result = next((line for line in with_dll.stdout.splitlines() if line.startswith("RESULT")), None)
    check(with_dll.returncode == 0 and result and result.startswith("RESULT ok"),
          f"a program importing ws2_32 by ordinal, and looking up late, is hooked: {result}")
    plain = subprocess.run(unhooked("bindings.exe"), env=env, capture_output=True, text=True, timeout=LINE_TIMEOUT)
    result = next((line for line in plain.stdout.splitlines() if line.startswith("RESULT")), None)
    check(plain.returncode != 0 and result and result.startswith("RESULT fail"),
          f"control: without the DLL the same program fails: {result}")


def control_run(env):
    print("control: the same program without the DLL")
    first = Copy(unhooked("lantest.exe", "--control"), env)
    check(first.line("READY") == "READY control", "the first copy binds 23757")
    second = Copy(unhooked("lantest.exe", "--control"), env)
    result = second.line("RESULT")
    check(result == "RESULT bind23757=10048", f"the second copy cannot bind 23757: {result}")
    check(second.finish() == 3, "and exits with its bind failure")
    first.send("quit")
    first.finish()


LOG_LINE = re.compile(r"^\[\d+\] pid (\d+) (error|warning|info|debug|trace): ")
SENDS = 3000  # datagrams each udpbench client sends after its round trips
CONTROL_LINES = 10000  # lines each plain writer appends


def read_log(path):
    """The log's lines: each whole one's (pid, text), and how many are not whole."""
    whole, broken = [], 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f.read().splitlines():
            match = LOG_LINE.match(line)
            if match:
                whole.append((match.group(1), line[match.end():]))
            else:
                broken += 1
    return whole, broken


def calls(lines, pid, function):
    return sum(1 for who, text in lines if who == pid and text.startswith(function + "("))


def shared_log_run(env, work):
    """Copies may share one log (VIRTUALLAN_LOG): every line each writes is there, whole."""
    print(f"one log shared by 4 copies, every hooked call traced (2 udpbench pairs, {SENDS} datagrams each)")
    # Control: Wine's own append from 4 processes at once loses lines (the DLL appended so).
    control = os.path.join(work, "log-control.txt")
    writers = [Copy(unhooked("appendlog.exe", windows_path(control), str(CONTROL_LINES)), env) for _ in range(4)]
    check(all(writer.line("READY") == "READY" for writer in writers), "control: 4 plain writers are ready")
    for writer in writers:
        writer.send("go")
    pids = [(writer.line("RESULT") or "").partition("pid=")[2] for writer in writers]
    for writer in writers:
        writer.finish()
    lines, broken = read_log(control)
    kept = sum(calls(lines, pid, "sendto") for pid in pids)
    check(broken > 0 or kept < 4 * CONTROL_LINES,
          f"control: 4 processes appending to one file at once the plain way lose lines under Wine: {kept} of {4 * CONTROL_LINES} whole, {broken} broken")
    log = os.path.join(work, "log-shared.txt")
    env = {**env, "VIRTUALLAN_REGISTRY": os.path.join(work, "registry-log"), "VIRTUALLAN_LOG": log, "VIRTUALLAN_LOG_LEVEL": "trace"}
    servers = [Copy(hooked("udpbench.exe", "server", "5000"), {**env, "VIRTUALLAN_INSTANCE": str(i)}) for i in range(2)]
    if not check(all(server.line("ready") == "ready" for server in servers), "both servers are ready"):
        return
    clients = [Copy(hooked("udpbench.exe", "client", f"192.168.80.{i + 1}", "5000", "1", str(SENDS)),
                    {**env, "VIRTUALLAN_INSTANCE": str(2 + i)}) for i in range(2)]
    results = [client.line("RESULT") for client in clients]
    for copy in clients + servers:
        copy.finish()
    lines, broken = read_log(log)
    check(broken == 0, f"all {len(lines)} lines of the shared log are whole ({broken} broken)")
    pids = sorted({pid for pid, _ in lines})
    check(len(pids) == 4, f"the 4 copies wrote to it: pids {pids}")
    # Each count holds only if no line is missing: a client sends once per trip, SENDS
    # datagrams and its end (one more than its receives); a server receives once per trip,
    # per datagram that reached it and per end, and answers once per trip and end.
    received = [int(fields(result)["received"].split("/")[0]) if result and "received=" in result else -1 for result in results]
    clients = [pid for pid in pids if calls(lines, pid, "sendto") - calls(lines, pid, "recv") == SENDS + 1]
    check(len(clients) == 2, f"each client's traced sends minus receives is {SENDS + 1}: {results}")
    answered = sorted(calls(lines, pid, "recvfrom") - calls(lines, pid, "sendto") for pid in pids if pid not in clients)
    check(answered == sorted(count + 1 for count in received),
          f"each server's traced receives minus answers is the datagrams it counted plus one: {answered}, counted {received}")


def main():
    require_private_network()
    work = tempfile.mkdtemp(prefix="virtuallan-wine-")
    prefixes = default_prefixes()
    started = time.monotonic()
    for prefix in prefixes:
        prepare_prefix(prefix)
    print(f"prefixes ready in {time.monotonic() - started:.1f} s")
    base = {**os.environ, "WINEDEBUG": "-all", "WINEPREFIX": prefixes[0]}
    try:
        for count in (2, 4):
            registry = os.path.join(work, f"registry-{count}")
            env = {**base, "VIRTUALLAN_REGISTRY": registry, "VIRTUALLAN_LOG": os.path.join(work, f"log-{count}.txt")}
            lan_run(f"{count} copies in one prefix", [env] * count, "192.168.80.3", registry)
        control_run(base)
        bindings_run({**base, "VIRTUALLAN_REGISTRY": os.path.join(work, "registry-bindings")})
        shared_log_run(base, work)
        registry = os.path.join(work, "registry-prefixes")
        envs = [{**base, "WINEPREFIX": prefix, "VIRTUALLAN_REGISTRY": registry} for prefix in prefixes]
        lan_run("2 copies in 2 Wine prefixes", envs, "192.168.80.2", registry)
    finally:
        for prefix in prefixes:
            stop_prefix(prefix)
    finish(started)


if __name__ == "__main__":
    main()
