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
"""
import os
import selectors
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.environ.get("VIRTUALLAN_WINE_OUT", os.path.join(ROOT, "wine", "out"))
LINE_TIMEOUT = 90  # seconds for one expected line (Wine starts slowly on 2 cores)
passed = 0
failed = 0


def windows_path(path):
    return "Z:" + os.path.abspath(path).replace("/", "\\")


def check(condition, what):
    global passed, failed
    if condition:
        passed += 1
        print(f"  ok: {what}")
    else:
        failed += 1
        print(f"  FAILED: {what}")
    return condition


class Copy:
    """One Wine process of lantest.exe, talking line by line."""

    def __init__(self, env, with_dll=True, args=()):
        program = [windows_path(os.path.join(OUT, "lantest.exe")), *args]
        if with_dll:
            program = [windows_path(os.path.join(OUT, "inject.exe")), windows_path(os.path.join(OUT, "virtuallan.dll")), *program]
        self.process = subprocess.Popen(["wine", *program], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        env=env, text=True, bufsize=1)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.process.stdout, selectors.EVENT_READ)

    def line(self, prefix):
        """The next line starting with `prefix` (others are Wine's chatter), or None."""
        deadline = time.monotonic() + LINE_TIMEOUT
        while time.monotonic() < deadline:
            if not self.selector.select(deadline - time.monotonic()):
                break
            text = self.process.stdout.readline()
            if not text:
                break
            if text.startswith(prefix):
                return text.strip()
        return None

    def send(self, text):
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def finish(self):
        try:
            self.process.stdin.close()
        except BrokenPipeError:
            pass
        try:
            return self.process.wait(timeout=LINE_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return None


def fields(line):
    return dict(word.split("=", 1) for word in line.split()[1:] if "=" in word)


def prepare_prefix(path):
    subprocess.run([os.path.join(ROOT, "wine", "prefix"), path], check=True)
    subprocess.run(["wineserver", "-p"], env={**os.environ, "WINEPREFIX": path}, check=True)


def stop_prefix(path):
    subprocess.run(["wineserver", "-k"], env={**os.environ, "WINEPREFIX": path})


def status_rows(registry):
    tool = os.environ.get("VIRTUALLAN_TOOL")
    if not tool:
        return None
    out = subprocess.run([tool, "status", "--registry", registry], capture_output=True, text=True)
    return [row for row in out.stdout.splitlines() if row[:1].isdigit()]


def lan_run(title, envs, broadcaster_ip, registry):
    print(f"{title}")
    copies = [Copy(env) for env in envs]
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
        check(ip.startswith("192.168.80.") and info["adapterip"] == ip and info["gamesock"] == f"{ip}:23756",
              f"{ip}: gethostbyname(gethostname()), GetAdaptersInfo and getsockname agree on the own virtual IP")
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
    program = windows_path(os.path.join(OUT, "bindings.exe"))
    hooked = subprocess.run(["wine", windows_path(os.path.join(OUT, "inject.exe")), windows_path(os.path.join(OUT, "virtuallan.dll")),
                             program], env=env, capture_output=True, text=True, timeout=LINE_TIMEOUT)
    result = next((line for line in hooked.stdout.splitlines() if line.startswith("RESULT")), None)
    check(hooked.returncode == 0 and result and result.startswith("RESULT ok"),
          f"a program importing ws2_32 by ordinal, and looking up late, is hooked: {result}")
    plain = subprocess.run(["wine", program], env=env, capture_output=True, text=True, timeout=LINE_TIMEOUT)
    result = next((line for line in plain.stdout.splitlines() if line.startswith("RESULT")), None)
    check(plain.returncode != 0 and result and result.startswith("RESULT fail"),
          f"control: without the DLL the same program fails: {result}")


def control_run(env):
    print("control: the same program without the DLL")
    first = Copy(env, with_dll=False, args=["--control"])
    check(first.line("READY") == "READY control", "the first copy binds 23757")
    second = Copy(env, with_dll=False, args=["--control"])
    result = second.line("RESULT")
    check(result == "RESULT bind23757=10048", f"the second copy cannot bind 23757: {result}")
    check(second.finish() == 3, "and exits with its bind failure")
    first.send("quit")
    first.finish()


def main():
    routes = subprocess.run(["ip", "-4", "route", "show"], capture_output=True, text=True).stdout
    if routes.strip():
        sys.exit("lan_test: this machine has routes; run me through wine/test (private network namespace)")
    os.umask(0o077)  # Wine creates the registry with the process umask: keep it private
    work = tempfile.mkdtemp(prefix="virtuallan-wine-")
    prefixes = [os.environ.get("VIRTUALLAN_WINE_PREFIX", os.path.join(ROOT, ".wine-test", "prefix")),
                os.path.join(ROOT, ".wine-test", "prefix-b")]
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
        registry = os.path.join(work, "registry-prefixes")
        envs = [{**base, "WINEPREFIX": prefix, "VIRTUALLAN_REGISTRY": registry} for prefix in prefixes]
        lan_run("2 copies in 2 Wine prefixes", envs, "192.168.80.2", registry)
    finally:
        for prefix in prefixes:
            stop_prefix(prefix)
    print(f"wine stage: {time.monotonic() - started:.1f} s")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
