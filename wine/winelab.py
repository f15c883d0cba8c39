"""Shared pieces of the Wine test scripts: paths, Wine prefixes, a line-driven Wine
process, and pass/fail bookkeeping. Every script using it must run inside a private
network namespace (wine/test and wine/e2e see to that)."""
import json
import os
import selectors
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts", "lib"))
from results import Results, stage_name  # noqa: E402

OUT = os.environ.get("VIRTUALLAN_WINE_OUT", os.path.join(ROOT, "wine", "out"))
LINE_TIMEOUT = 90  # seconds for one expected line (Wine starts slowly on 2 cores)
results = Results(stage_name())


def windows_path(path):
    return "Z:" + os.path.abspath(path).replace("/", "\\")


def hooked(program, *args):
    """The command line that runs `program` (in wine/out) through the injector."""
    return ["wine", windows_path(os.path.join(OUT, "inject.exe")), windows_path(os.path.join(OUT, "virtuallan.dll")),
            windows_path(os.path.join(OUT, program)), *args]


def unhooked(program, *args):
    return ["wine", windows_path(os.path.join(OUT, program)), *args]


def check(condition, what):
    return results.check(condition, what)


def require_private_network():
    routes = subprocess.run(["ip", "-4", "route", "show"], capture_output=True, text=True).stdout
    if routes.strip():
        sys.exit("this machine has routes: run me through wine/test or wine/e2e (private network namespace)")
    os.umask(0o077)  # Wine creates the registry with the process umask: keep it private


def prepare_prefix(path):
    subprocess.run([os.path.join(ROOT, "wine", "prefix"), path], check=True)
    subprocess.run(["wineserver", "-p"], env={**os.environ, "WINEPREFIX": path}, check=True)


def one_prefix_stage(tag):
    """The start of a script that runs in the default prefix: checks the namespace, makes a
    work folder, readies the prefix; returns (work folder, prefix, base environment, start time)."""
    require_private_network()
    work = tempfile.mkdtemp(prefix=f"virtuallan-{tag}-")
    prefix = default_prefixes()[0]
    started = time.monotonic()
    prepare_prefix(prefix)
    return work, prefix, {**os.environ, "WINEDEBUG": "-all", "WINEPREFIX": prefix}, started


def lan_stage(tag, lan, control):
    """A script's whole run in the default prefix: `lan(env)` with a registry and a log of
    its own, then `control(env)` (the same program without the DLL), then the summary."""
    work, prefix, base, started = one_prefix_stage(tag)
    try:
        lan({**base, "VIRTUALLAN_REGISTRY": os.path.join(work, "registry"), "VIRTUALLAN_LOG": os.path.join(work, "log.txt")})
        control(base)
    finally:
        stop_prefix(prefix)
    finish(started)


def second_copy_collides(command, env, first_ready, collides, what):
    """The control of a fixed-port game without the DLL: a first copy binds (`first_ready`),
    a second one's RESULT line must satisfy `collides` and it exits with status 3."""
    first = Copy(command, env)
    check(first.line("READY") is not None, first_ready)
    second = Copy(command, env)
    result = second.line("RESULT")
    check(result is not None and collides(result), f"{what}: {result}")
    check(second.finish() == 3, "and exits with its bind failure")
    first.send("quit")
    first.finish()


def stop_prefix(path):
    subprocess.run(["wineserver", "-k"], env={**os.environ, "WINEPREFIX": path})


def default_prefixes():
    base = os.path.join(ROOT, ".wine-test")
    return [os.environ.get("VIRTUALLAN_WINE_PREFIX", os.path.join(base, "prefix")), os.path.join(base, "prefix-b")]


def status_rows(registry):
    """`virtuallan status` rows for the registry (None when the tool is not built)."""
    tool = os.environ.get("VIRTUALLAN_TOOL")
    if not tool:
        return None
    out = subprocess.run([tool, "status", "--registry", registry], capture_output=True, text=True)
    return [row for row in out.stdout.splitlines() if row[:1].isdigit()]


def status_json(registry):
    """`virtuallan status --json` as a dict (None when the tool is not built)."""
    tool = os.environ.get("VIRTUALLAN_TOOL")
    if not tool:
        return None
    out = subprocess.run([tool, "status", "--json", "--registry", registry], capture_output=True, text=True)
    return json.loads(out.stdout) if out.returncode == 0 else None


def udp_drops():
    """This network namespace's UDP receive drops so far (/proc/net/snmp: RcvbufErrors, InErrors):
    a datagram a socket buffer had no room for is counted here even after its socket closed."""
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Udp:")]
    counters = dict(zip(rows[0][1:], (int(v) for v in rows[1][1:])))
    return counters.get("RcvbufErrors", 0), counters.get("InErrors", 0)


def fields(line):
    return dict(word.split("=", 1) for word in line.split()[1:] if "=" in word)


def finish(started):
    print(f"wine stage: {time.monotonic() - started:.1f} s")
    sys.exit(results.finish())


class Copy:
    """One Wine process, read line by line (stdin kept open for commands)."""

    def __init__(self, command, env, with_stderr=False):
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                        stderr=subprocess.STDOUT if with_stderr else None)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.process.stdout, selectors.EVENT_READ)
        self.pending = b""  # read but not yet split into lines (no buffered reader: select must see it all)
        self.lines = []

    def line(self, prefix, timeout=LINE_TIMEOUT):
        """The next line starting with `prefix` (others are kept in .lines), or None."""
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self.pending:
                raw, self.pending = self.pending.split(b"\n", 1)
                text = raw.decode(errors="replace").rstrip()
                self.lines.append(text)
                if text.startswith(prefix):
                    return text
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.selector.select(remaining):
                return None
            chunk = os.read(self.process.stdout.fileno(), 65536)
            if not chunk:
                return None
            self.pending += chunk

    def send(self, text):
        self.process.stdin.write((text + "\n").encode())
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
