"""Hosts of one machine for the cross-host tests and benchmarks (scripts/bridge_test.py,
scripts/bridge_bench.py): network namespaces on one virtual Ethernet switch (a Linux bridge
in a namespace of its own; 10.213.0.1-3, no route anywhere else: nothing of ours can leave
the machine), processes in them read line by line, one bridge per host and test instances
(the test-support executable, virtuallan-testpeer). `configure(tool)` first."""
import os
import queue
import signal
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # scripts/lib/ -> the checkout
TOOL = PEER = None
NS = [f"vlbr{os.getpid()}{name}" for name in "abc"]
SWITCH = f"vlbr{os.getpid()}s"
ADDR = ["10.213.0.1", "10.213.0.2", "10.213.0.3"]
NAMES = "ABC"
LINK_PORT = 47800
GAME_PORT = 23757
RANGES = ["0-15", "16-31", "32-47"]
SERVERS = [[0, 1, 2, 3], [16, 17, 18, 19], [32, 33, 34, 35]]  # the instances each host's servers take
LINE_TIMEOUT = 20  # seconds for one expected line
processes = []


def configure(tool):
    """The virtuallan binary to run; the test instances are the test-support executable built beside it."""
    global TOOL, PEER
    TOOL = os.path.abspath(tool)
    PEER = os.path.join(os.path.dirname(TOOL), "virtuallan-testpeer")


def sh(*args, check_status=True):
    return subprocess.run(list(args), check=check_status, capture_output=True, text=True)


class Process:
    """A process in a namespace whose output lines arrive on a queue."""

    def __init__(self, name, ns, args, env=None):
        self.name = name
        self.lines = []
        self.queue = queue.Queue()
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env={**os.environ, **(env or {})})
        processes.append(self)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            self.queue.put(line)
        self.queue.put(None)

    def expect(self, predicate, what, timeout=LINE_TIMEOUT):
        """The first new line that satisfies predicate, or None (and the lines seen) after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                print(f"  ({self.name}: no line for '{what}' within {timeout} s)")
                return None
            if line is None:
                print(f"  ({self.name} ended before '{what}': {self.lines[-5:]})")
                return None
            if predicate(line):
                return line

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def make_hosts():
    """Each host's veth goes to a port of a Linux bridge (the switch) in a namespace of its own."""
    for ns in NS + [SWITCH]:
        sh("ip", "netns", "add", ns)
    sh("ip", "-n", SWITCH, "link", "add", "switch", "type", "bridge")
    sh("ip", "-n", SWITCH, "link", "set", "switch", "up")
    for i, (ns, addr) in enumerate(zip(NS, ADDR)):
        sh("ip", "link", "add", "vlan0", "netns", ns, "type", "veth", "peer", "name", f"port{i}", "netns", SWITCH)
        sh("ip", "-n", SWITCH, "link", "set", f"port{i}", "master", "switch")
        sh("ip", "-n", SWITCH, "link", "set", f"port{i}", "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", "vlan0")
        sh("ip", "-n", ns, "link", "set", "vlan0", "up")
        routes = sh("ip", "-n", ns, "-4", "route", "show").stdout
        if any(not line.startswith("10.213.0.0/24") for line in routes.splitlines()):
            sys.exit(f"test hosts: namespace {ns} has a route off the test link: {routes}")


def remove_hosts():
    for p in processes:
        if p.proc.poll() is None:
            p.proc.kill()
            p.proc.wait()
    for ns in NS + [SWITCH]:
        sh("ip", "netns", "del", ns, check_status=False)


def bridge(host, workdir, hosts=3, peers=None, invite=None, extra=()):
    """Host `host`'s bridge, with the other hosts (of the first `hosts`, or `peers`) as peers;
    the key from the key file, or from `invite` (a line of `virtuallan bridge invite`)."""
    key = ["--invite", invite] if invite else ["--key-file", os.path.join(workdir, "key")]
    args = [TOOL, "bridge", "--listen", f"{ADDR[host]}:{LINK_PORT}", "--range", RANGES[host],
            *key, "--registry", os.path.join(workdir, f"registry-{host}"), *extra]
    for other in range(hosts) if peers is None else peers:
        if other != host:
            args += ["--peer", f"{ADDR[other]}:{LINK_PORT}"]
    p = Process(f"bridge-{NAMES[host]}", NS[host], args)
    p.started = p.expect(lambda l: "listening on" in l, "listening") is not None
    return p


def wait_peers(bridge_process, count):
    """Until the bridge has said `count` peers are up (other lines are passed over)."""
    return all(bridge_process.expect(lambda l: "peer" in l and " up" in l, "peer up") is not None for _ in range(count))


def instance(host, workdir, role, *args, registry="registry"):
    env = {"VIRTUALLAN_REGISTRY": os.path.join(workdir, f"{registry}-{host}")}
    p = Process(f"{role}-{NAMES[host]}", NS[host], [PEER, "peer", role, "--port", str(GAME_PORT), "--timeout-ms", "20000", *args], env)
    line = p.expect(lambda l: l.startswith("ready"), "ready")
    p.instance = int(line.split()[1]) if line else -1
    return p


def wait_instances(bridge_process, event, instances, what, ports=(str(GAME_PORT),)):
    """Until the bridge has logged `event` ("ports" listing every one of `ports`, as
    "6111" or "tcp 6112", or "left") for every one of `instances`."""
    def matches(line):
        if not line.startswith("bridge: instance "):
            return False
        if event == "ports" and " ports " in line:
            listed = " " + line.split(" ports ")[1] + " "
            return all(f" {port} " in listed for port in ports)
        return line.endswith(" " + event)
    missing = set(instances)
    while missing:
        line = bridge_process.expect(matches, what)
        if line is None:
            return False
        missing.discard(int(line.split("instance ")[1].split()[0]))
    return True


def wait_ports(bridge_process, instances, what):
    return wait_instances(bridge_process, "ports", instances, what)
