#!/usr/bin/env python3
"""Nothing leaks (run through wine/test, last: it adds routes to its namespace). This
namespace gets a real-looking link: a veth whose peer sits alone in a namespace of its
own (the sink), IPv6 off on both ends (no neighbour discovery of the kernel's own), and
routes for 192.168.80.0/24, 224.0.0.0/4 and the default over it. Every frame that would
reach a real network is counted on the sink. Hooked copies (wine/tests/modules: from the
exe and from a DLL) aim everything at the virtual LAN: a lobby (broadcast FIND, unicast
PING, and TCP on the same port) and a probe (a virtual TCP connect and ConnectEx to a
virtual address, UDP unicast, the limited broadcast, joining a multicast group and a
datagram to it): 0 frames. Control: the same probe without the DLL puts frames there."""
import os
import subprocess

from winelab import (Copy, check, fields, finish, hooked, one_prefix_stage, stop_prefix, unhooked)

SINK = "vl-leak-sink"


def ip(*args, check_status=True):
    return subprocess.run(["ip", *args], check=check_status, capture_output=True, text=True)


def sysctl(name, value, namespace=None):
    prefix = ["ip", "netns", "exec", namespace] if namespace else []
    subprocess.run([*prefix, "sysctl", "-q", "-w", f"{name}={value}"], check=True)


def make_link():
    ip("netns", "del", SINK, check_status=False)
    ip("netns", "add", SINK)
    ip("link", "add", "vl-out", "type", "veth", "peer", "name", "vl-sink", "netns", SINK)
    sysctl("net.ipv6.conf.vl-out.disable_ipv6", 1)
    sysctl("net.ipv6.conf.vl-sink.disable_ipv6", 1, SINK)
    ip("-n", SINK, "link", "set", "vl-sink", "up")
    ip("addr", "add", "10.213.9.1/24", "dev", "vl-out")
    ip("link", "set", "vl-out", "up")
    for route in ("192.168.80.0/24", "224.0.0.0/4", "default"):
        ip("route", "add", route, "dev", "vl-out")


def remove_link():
    ip("link", "del", "vl-out", check_status=False)
    ip("netns", "del", SINK, check_status=False)


def frames_on_link():
    out = subprocess.run(["ip", "netns", "exec", SINK, "cat", "/sys/class/net/vl-sink/statistics/rx_packets"],
                         capture_output=True, text=True, check=True)
    return int(out.stdout)


def run_all(commands, env):
    copies = [Copy(command, {**env, "VIRTUALLAN_INSTANCE": str(i)}) for i, command in enumerate(commands)]
    results = [copy.line("RESULT") for copy in copies]
    for copy in copies:
        copy.finish()
    return results


def main():
    work, prefix, base, started = one_prefix_stage("leak")
    try:
        make_link()
        routes = ip("-4", "route", "show").stdout
        check("192.168.80.0/24 dev vl-out" in routes and "224.0.0.0/4 dev vl-out" in routes and "default dev vl-out" in routes,
              "the namespace routes the virtual subnet, multicast and the default to the counting link")
        quiet = frames_on_link()
        for mode in ("exe", "dll"):
            env = {**base, "VIRTUALLAN_REGISTRY": os.path.join(work, f"registry-{mode}"),
                   "VIRTUALLAN_LOG": os.path.join(work, f"log-{mode}.txt"), "VIRTUALLAN_LOG_LEVEL": "trace"}
            before = frames_on_link()
            results = run_all([hooked("modtest.exe", "-via", mode, "-host", "-clients", "1"),
                               hooked("modtest.exe", "-via", mode),
                               hooked("modtest.exe", "-via", mode, "-probe")], env)
            check(all(r and (r.startswith("RESULT ok") or r.startswith("RESULT probe")) for r in results[:2]),
                  f"{mode}: the hooked lobby still works: {results[:2]}")
            probe = fields(results[2] or "RESULT")
            # The probe's TCP socket is virtual: no copy is at 192.168.80.200, so the
            # non-blocking connect stays under way inside the machine, as towards a PC that
            # is not there (WSAEWOULDBLOCK; after the probe's 500 ms select neither writable
            # nor failed, SO_ERROR 0: what the control without the DLL sees on the real link). ConnectEx is ours on a virtual TCP socket: pending
            # (997) as a handshake is, on Windows' schedule inside the machine (no copy there). The group join and the datagram
            # to it are the virtual LAN's (the registry's membership; no member: no receiver).
            check(probe.get("tcpconnect") == "10035" and probe.get("tcpselect") == "-" and probe.get("tcperror") == "0" and probe.get("connectex") == "997"
                  and probe.get("join") == "0" and probe.get("unicast") == "0" and probe.get("broadcast") == "0"
                  and probe.get("multicast") == "0",
                  f"{mode}: the hooked probe: virtual TCP connect and ConnectEx kept inside the machine, join, unicast, broadcast and multicast virtual: {results[2]}")
            # The kernel sends a packet (or the ARP request for it) within the send call
            # itself, so once the copies have exited their frames are counted.
            leaked = frames_on_link() - before
            check(leaked == 0, f"{mode}: hooked copies put {leaked} frames on the link")
        log = open(os.path.join(work, "log-exe.txt"), errors="replace").read()
        check("TCP socket" in log and "is virtual" in log,
              "the probe's TCP socket is a virtual one in the copy's log")
        check("trace: connect(" in log and ":31000, 16) = -1 error 10035" in log
              and "trace: sendto(" in log and "255.255.255.255:31000" in log and "(virtual)" in log,
              "VIRTUALLAN_LOG_LEVEL=trace: the log shows every call with its socket, address, result and error")
        before = frames_on_link()
        control = run_all([unhooked("modtest.exe", "-via", "exe", "-probe")], base)
        leaked = frames_on_link() - before
        check(leaked > 0, f"control: the same probe without the DLL puts {leaked} frames on the link ({control[0]})")
        print(f"frames on the link: {before - quiet} with the DLL (before = after the hooked runs), {leaked} without")
    finally:
        remove_link()
        stop_prefix(prefix)
    finish(started)


if __name__ == "__main__":
    main()
