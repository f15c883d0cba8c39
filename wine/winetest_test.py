#!/usr/bin/env python3
"""Wine's own Winsock tests (run through wine/test): dlls/ws2_32/tests/sock.c and protocol.c
of the installed Wine's source, built by wine/winetest/build with one entry per test
function, named `<file>:<function>` (sock.c:test_events). Every entry runs as its own
process, without the DLL (plain Wine: the control) and with it (instance 0 of a registry
of its own). Each of the two runs has a network namespace of its own, nested in
wine/test's, with loopback and one adapter (a veth whose peer answers nothing: sock.c
wants a PC with an adapter) and /etc/resolv.conf masked to 127.0.0.1 so a name lookup
fails at once; its wineserver starts inside it.

An entry passes when every failure Wine's summary line counts is a check inside a
todo_wine block that held ("Test succeeded inside todo block"): such a check states what
Windows answers and Wine does not yet, so it holding is Windows' answer, counted apart and
printed, never a failure (plain Wine's run is judged by the same rule). The stage fails
when an entry passes without the DLL and not with it, unless docs/CONFORMANCE.md's "Wine's
tests: not passing yet" table lists it (not done yet, or a difference of the virtual PC
argued there) and it fails only as listed: never a crash or a hang, and every failed
check's line contains one of the row's "fails only in" texts (a row with none allows any
failed check). A listed entry that passes now is named so the table can shrink, and one
the tests do not have fails the stage. An entry that broke with the DLL runs once more
with it and fails the stage only when it fails so again (plain Wine's timing checks vary
now and then). An entry listed as flaky there (it fails now and then without the DLL)
counts as passing with the DLL when it fails no more often than the control's worst run.
Prints both outcomes per entry, the counts, and the per-entry table docs/CONFORMANCE.md
shows.
VIRTUALLAN_WINETEST_ENTRIES=sock.c:a,protocol.c:b runs only those entries (while fixing one)."""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from winelab import OUT, ROOT, check, default_prefixes, finish, require_private_network, stop_prefix, windows_path  # noqa: E402

TESTS = ["sock.c", "protocol.c"]  # each built into winetest/<name>.exe


def program(test):
    return os.path.join(OUT, "winetest", test[:-2] + ".exe")


TABLE = os.path.join(ROOT, "docs", "CONFORMANCE.md")
SECTION = "## Wine's tests: not passing yet"
# Seconds an entry may take without the DLL: sock.c's test_send receives 1 MiB one byte at
# a time (25 to 140 s here), every other entry of either file took 5 s at most.
CONTROL_TIMEOUT = {"sock.c": 300, "protocol.c": 60}


def control_timeout(name):
    return CONTROL_TIMEOUT[name.split(":", 1)[0]]


def timeout_with_dll(name, control):
    """30 s plus 5 times the control's time. An entry plain Wine hung in cannot be judged
    (protocol.c's WSAAsync tests hang when plain Wine fails to make their window, now and
    then): with the DLL it gets the control's limit, not five times it."""
    if control["state"] == "timeout":
        return control_timeout(name)
    return 30 + 5 * control["seconds"]
SUMMARY = re.compile(r"^[0-9a-f]+:(\S+?):.*?(\d+) tests executed \((\d+) marked as todo, (\d+) as flaky, "
                     r"(\d+) failures?\), (\d+) skipped\.")
FAILED_LINE = re.compile(r"^\S+\.c:\d+:.*Test (failed|succeeded inside todo block)")
WINDOWS_ANSWER = "Test succeeded inside todo block"


def ip(*args):
    subprocess.run(["ip", *args], check=True)


def make_pc():
    """This namespace becomes a PC with one adapter (its peer end answers nothing)."""
    ip("link", "set", "lo", "up")
    ip("link", "add", "wt0", "type", "veth", "peer", "name", "wt1")
    ip("link", "set", "wt0", "addrgenmode", "none")
    ip("link", "set", "wt1", "addrgenmode", "none")
    ip("link", "set", "wt1", "up")
    ip("link", "set", "wt0", "up")
    ip("addr", "add", "198.51.100.2/24", "dev", "wt0")
    ip("-6", "addr", "add", "2001:db8:51::2/64", "dev", "wt0", "nodad")
    ip("route", "add", "default", "via", "198.51.100.1")
    ip("-6", "route", "add", "default", "via", "2001:db8:51::1")
    resolv = tempfile.NamedTemporaryFile("w", prefix="virtuallan-resolv-", delete=False)
    resolv.write("nameserver 127.0.0.1\n")
    resolv.close()
    subprocess.run(["mount", "--bind", resolv.name, "/etc/resolv.conf"], check=True)


def wine_settings(env):
    """No graphics (the WSAAsyncSelect tests make windows without X) and no crash debugger
    (a crash ends its process at once); both registry views for the 32-bit program."""
    for view in ("/reg:32", "/reg:64"):
        for key, value, data in (("HKCU\\Software\\Wine\\Drivers", "Graphics", "null"),
                                 ("HKLM\\Software\\Microsoft\\Windows NT\\CurrentVersion\\AeDebug", "Debugger",
                                  "virtuallan-no-debugger.exe")):
            subprocess.run(["wine", "reg", "add", key, "/v", value, "/d", data, "/f", view], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)


def outcome(text, status, timed_out, seconds):
    """{"state": pass|fail|crash|timeout, "checks", "failures" (Wine's count, Windows' answers
    included), "windows_answers", "seconds", "failed": every failed check's line but those}."""
    lines = [line.strip() for line in text.splitlines() if FAILED_LINE.match(line)]
    failed = [line for line in lines if WINDOWS_ANSWER not in line]
    summary = next((SUMMARY.match(line) for line in text.splitlines() if SUMMARY.match(line)), None)
    result = {"seconds": round(seconds, 1), "failed": failed[:500], "checks": 0, "failures": 0,
              "windows_answers": len(lines) - len(failed)}
    if timed_out:
        result["state"] = "timeout"
    elif not summary:
        result["state"] = "crash"
        result["failed"] = failed[:5] + [line.strip() for line in text.splitlines() if "nhandled" in line][:2]
    else:
        result.update(checks=int(summary.group(2)), failures=int(summary.group(5)))
        # The exit status is Wine's failure count (at most 255): anything else ended it otherwise.
        ended_as_counted = status == min(result["failures"], 255)
        only_windows_answers = result["failures"] == result["windows_answers"]
        result["state"] = "pass" if only_windows_answers and ended_as_counted else "fail"
    return result


def run_entry(command, env, log_path, timeout):
    started = time.monotonic()
    with open(log_path, "w") as log:
        # A session of its own: on a timeout the injector and the program it started go together.
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            status, timed_out = process.wait(timeout=timeout), False
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            status, timed_out = None, True
    seconds = time.monotonic() - started
    text = open(log_path, encoding="utf-8", errors="replace").read()
    return outcome(text, status, timed_out, seconds), timed_out


def run_all(mode, prefix, report, timeouts):
    """Inside a namespace of its own: every entry once, `mode` "without" or "with" the DLL."""
    make_pc()
    subprocess.run([os.path.join(ROOT, "wine", "prefix"), prefix], check=True)
    env = {**os.environ, "WINEDEBUG": "-all", "WINEPREFIX": prefix}
    subprocess.run(["wineserver", "-p"], env=env, check=True)
    wine_settings(env)
    work = tempfile.mkdtemp(prefix=f"virtuallan-winetest-{mode}-")
    names = []  # (entry, its test file)
    for test in TESTS:
        listing = subprocess.run(["wine", windows_path(program(test)), "--list"], env=env, capture_output=True,
                                 text=True, check=True).stdout.splitlines()
        names += [(f"{test}:{line.strip()}", test) for line in listing[1:] if line.strip()]  # after "Valid test names:"
    chosen = os.environ.get("VIRTUALLAN_WINETEST_ENTRIES")
    if chosen:
        names = [(name, test) for name, test in names if name in chosen.split(",")]
    results = {}
    for name, test in names:
        function = name.split(":", 1)[1]
        command = ["wine", windows_path(program(test)), function]
        run_env = env
        if mode == "with":
            command = ["wine", windows_path(os.path.join(OUT, "inject.exe")),
                       windows_path(os.path.join(OUT, "virtuallan.dll")), windows_path(program(test)), function]
            run_env = {**env, "VIRTUALLAN_REGISTRY": os.path.join(work, f"{name}.registry"), "VIRTUALLAN_INSTANCE": "0",
                       "VIRTUALLAN_LOG": os.path.join(work, f"{name}.dll.log")}
        result, timed_out = run_entry(command, run_env, os.path.join(work, f"{name}.log"), timeouts.get(name, control_timeout(name)))
        if timed_out:  # whatever the hung program left (its server-side state) goes with a new server
            subprocess.run(["wineserver", "-k"], env=env)
            subprocess.run(["wineserver", "-p"], env=env, check=True)
        results[name] = result
        print(f"    {mode:7} {name}: {describe(result)}", flush=True)
    subprocess.run(["wineserver", "-k"], env=env)
    with open(report, "w") as f:
        json.dump({"entries": results, "logs": work}, f)


def describe(result):
    if result["state"] in ("crash", "timeout"):
        return f"{result['state'].upper()} after {result['seconds']} s"
    return f"{counts(result)} ({result['seconds']} s)"


def counts(result):
    """"N checks, M failed", and how many of Wine's failures were Windows' answers."""
    answers = result.get("windows_answers", 0)
    text = f"{result['checks']} checks, {result['failures'] - answers} failed"
    return text + (f", {answers} Windows' answers inside todo" if answers else "")


def markdown(plain, virtual):
    """The per-entry table docs/CONFORMANCE.md shows: both outcomes of every entry."""
    def cell(result):
        if result is None:
            return "missing"
        if result["state"] in ("crash", "timeout"):
            return result["state"]
        return counts(result)
    rows = ["| entry | without the DLL | with the DLL |", "|---|---|---|"]
    rows += [f"| `{name}` | {cell(without)} | {cell(virtual.get(name))} |" for name, without in plain.items()]
    return "\n".join(rows) + "\n"


def listed():
    """{entry: (kind, allowed)} from docs/CONFORMANCE.md's table of Wine's tests: kind "gap" (not done
    yet), "intended" (a difference of the virtual PC, argued there) or "flaky"; allowed is
    the most failures seen without the DLL for a flaky entry, else the texts (code spans) one
    of which every failed check's line with the DLL contains (none: any failure)."""
    entries, inside = {}, False
    for line in open(TABLE, encoding="utf-8"):
        if line.startswith("## "):
            inside = line.strip() == SECTION
        if inside and line.startswith("| `"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            allowed = cells[2] if len(cells) > 2 else ""
            entries[cells[0].strip("`")] = (cells[1], allowed if cells[1] == "flaky" else re.findall(r"`([^`]+)`", allowed))
    return entries


def one_mode(mode, prefix, timeouts):
    """Runs `mode` in a nested namespace (network and mounts) and returns its entries."""
    report = tempfile.NamedTemporaryFile(prefix=f"virtuallan-winetest-{mode}-", suffix=".json", delete=False).name
    stop_prefix(prefix)  # its wineserver, if any, must start inside the new namespace
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(timeouts, f)
    status = subprocess.run(["unshare", "--net", "--mount", "--propagation", "private", sys.executable,
                             os.path.abspath(__file__), "--run", mode, prefix, report, f.name]).returncode
    os.unlink(f.name)
    if status != 0 or os.path.getsize(report) == 0:
        return None, None
    with open(report) as f:
        data = json.load(f)
    os.unlink(report)
    return data["entries"], data["logs"]


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "--run":
        with open(sys.argv[5]) as f:
            timeouts = json.load(f)
        run_all(sys.argv[2], sys.argv[3], sys.argv[4], timeouts)
        return
    require_private_network()
    started = time.monotonic()
    for test in TESTS:
        if not os.path.exists(program(test)):
            sys.exit(f"no {program(test)}: wine/test builds it (wine/winetest/build)")
    prefix = default_prefixes()[0]
    print(f"Wine's own Winsock tests ({', '.join(TESTS)}), each entry a process of its own: without the DLL")
    plain, plain_logs = one_mode("without", prefix, {})
    if not check(plain is not None, "the run without the DLL finished"):
        finish(started)
    timeouts = {name: timeout_with_dll(name, result) for name, result in plain.items()}
    print("with the DLL")
    virtual, virtual_logs = one_mode("with", prefix, timeouts)
    if not check(virtual is not None, "the run with the DLL finished"):
        finish(started)
    table = listed()
    # Plain Wine's own runs vary now and then (timing checks): an entry that broke with the
    # DLL runs once more with it, and breaks the stage only when it fails again.
    broke = [name for name, without in plain.items()
             if without["state"] == "pass" and not holds(virtual.get(name), without, table.get(name, ("", [])))
             and not fails_as_listed(virtual.get(name), table.get(name, ("", [])))]
    if broke:
        print(f"once more with the DLL: {', '.join(broke)}")
        chosen = os.environ.get("VIRTUALLAN_WINETEST_ENTRIES")
        os.environ["VIRTUALLAN_WINETEST_ENTRIES"] = ",".join(broke)
        again, _ = one_mode("with", prefix, timeouts)
        if chosen is None:
            del os.environ["VIRTUALLAN_WINETEST_ENTRIES"]
        else:
            os.environ["VIRTUALLAN_WINETEST_ENTRIES"] = chosen
        for name in broke:
            retried = again.get(name) if again else None
            if retried and (retried["state"] == "pass" or fails_as_listed(retried, table.get(name, ("", [])))):
                first = virtual[name]
                warning = " - A CRASH IS A BUG, not a timing check: see its log" if first["state"] == "crash" else ""
                print(f"  {name}: passed on its second run (first: {describe(first)}{warning}; "
                      f"{'; '.join(first.get('failed', [])[:2])})")
                virtual[name] = retried
    compare(plain, virtual, table)
    table = os.path.join(virtual_logs, "winetest-table.md")
    with open(table, "w") as f:
        f.write(markdown(plain, virtual))
    print(f"  logs: {plain_logs} (without), {virtual_logs} (with); the per-entry table for docs/CONFORMANCE.md: {table}")
    finish(started)


def holds(with_dll, without, listing):
    """Whether the entry passes with the DLL. A flaky entry holds when it fails no more with
    the DLL than the control does at worst: this run's control, or the most failures the
    table records for it without the DLL."""
    kind, bound = listing
    if with_dll is None:
        return False
    return with_dll["state"] == "pass" or (
        kind == "flaky" and with_dll["state"] == "fail"
        and failures(with_dll) <= max(failures(without), int(bound) if bound.isdigit() else 0))


def fails_as_listed(with_dll, listing):
    """Whether a gap or intended entry fails with the DLL only as its row allows: never a
    crash or a hang, and every failed check names one of its texts (none: any check). With
    texts, every failure Wine counts must be a line read here (none unseen)."""
    kind, allowed = listing
    if kind not in ("gap", "intended") or with_dll is None or with_dll["state"] != "fail":
        return False
    if not allowed:
        return True
    lines = with_dll["failed"]
    return len(lines) == failures(with_dll) and all(any(text in line for text in allowed) for line in lines)


def failures(result):
    """Wine's failures that are not Windows' answers."""
    return result["failures"] - result.get("windows_answers", 0)


def compare(plain, virtual, table):
    print(f"  {'entry':45} {'without the DLL':32} with the DLL")
    regressions, stale, now_passing, passed_both, listed_gaps = [], [], [], 0, 0
    for name, without in plain.items():
        with_dll = virtual.get(name, {"state": "missing", "seconds": 0})
        print(f"  {name:45} {describe(without):32} {describe(with_dll) if with_dll['state'] != 'missing' else 'MISSING'}")
        kind, bound = table.get(name, ("", []))
        if without["state"] != "pass" and kind != "flaky":
            continue  # Windows' own behaviour this PC does not have (no DNS, ping rights): not ours to match
        if holds(with_dll, without, (kind, bound)):
            passed_both += 1
            if kind in ("gap", "intended"):
                now_passing.append(f"{name}: passes with the DLL now: remove it from docs/CONFORMANCE.md")
        elif fails_as_listed(with_dll, (kind, bound)):
            listed_gaps += 1
        else:
            how = "fails not only as docs/CONFORMANCE.md lists:" if kind in ("gap", "intended") else "with it"
            regressions.append(f"{name}: passes without the DLL, {how} {describe(with_dll)}: "
                               + "; ".join(with_dll.get("failed", [])[:3]))
    for name in table:
        if name not in plain and not os.environ.get("VIRTUALLAN_WINETEST_ENTRIES"):
            stale.append(f"{name}: listed in docs/CONFORMANCE.md but no such entry")
    answered = [name for name, result in virtual.items() if result.get("state") == "pass" and result.get("windows_answers")]
    print(f"  Wine's tests: {passed_both} passed, {listed_gaps + len(regressions)} failed "
          f"({listed_gaps} of them listed as not passing yet)")
    if answered:
        print(f"    with Windows' answers where Wine's are todo_wine: {', '.join(answered)}")
    for line in regressions + stale + now_passing:
        print(f"    {line}")
    check(not regressions, f"every entry that passes without the DLL passes with it or fails only as listed ({len(regressions)} do not)")
    # A listed entry that passed is told, not failed: several of them fail on timing now and
    # then, and one pass does not show it is fixed.
    check(not stale, f"every listed entry is one of the tests' ({len(stale)} are not)")


if __name__ == "__main__":
    main()
