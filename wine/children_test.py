#!/usr/bin/env python3
"""Wine test of "a copy is a PC, not a process" (run it through wine/test, which puts it in
a private network namespace). Processes that a hooked process starts get the DLL and join
its instance:

  1. 4 copies of the stand-in lobby (wine/tests/lantest.c), each started through a
     launcher the injector started: two through `cmd /c`, two through launcher.exe (ours,
     CreateProcessW). Each copy is its own PC (address, MAC, name) and every copy gets a
     unicast from every other and a broadcast; `virtuallan status` shows 4 live instances
     while they run (launcher and game are one instance) and none after.
  2. A game that starts its own server process (launcher.exe --host-child): the server
     binds UDP and TCP 23800; the game reaches it at 127.0.0.1 and at its own virtual
     address, and its own bind of 23800 fails with WSAEADDRINUSE (one PC, one port space).
  3. Controls, VIRTUALLAN_CHILDREN=ignore (the launcher hooked, the game started as asked,
     as before this was built): the second copy's bind of 23757 fails with 10048, and the
     game does not reach its server through the virtual LAN.
"""
import os
import tempfile
import time

from lan_test import lan_run
from winelab import (Copy, check, default_prefixes, finish, hooked, prepare_prefix, require_private_network, status_rows,
                     stop_prefix, windows_path, OUT)

CMD = "C:\\windows\\system32\\cmd.exe"


def through_cmd(*program):
    return hooked_path(CMD, "/c", windows_path(os.path.join(OUT, program[0])), *program[1:])


def hooked_path(program, *args):
    """The injector starting `program` (a Windows path) with `args`."""
    return ["wine", windows_path(os.path.join(OUT, "inject.exe")), windows_path(os.path.join(OUT, "virtuallan.dll")), program, *args]


def through_launcher(*program):
    return hooked("launcher.exe", windows_path(os.path.join(OUT, program[0])), *program[1:])


def live_instances(registry):
    rows = status_rows(registry)
    return None if rows is None else len([row for row in rows if " live " in row])


def host_child(env, expect_ok):
    copy = Copy(hooked("launcher.exe", "--host-child"), env)
    result = copy.line("RESULT")
    code = copy.finish()
    if expect_ok:
        check(result is not None and result.startswith("RESULT ok") and code == 0,
              f"the game reaches the server process it started at 127.0.0.1 and at its own address, and cannot bind its port: {result}")
    else:
        check(result is not None and result.startswith("RESULT fail") and "loopback-echo=error" in result,
              f"control: a server process started outside the instance is not reached through the virtual LAN: {result}")


def control_lobby(env):
    first = Copy(through_cmd("lantest.exe", "--control"), env)
    check(first.line("READY") == "READY control", "control: the first copy (through cmd /c) binds 23757")
    second = Copy(through_cmd("lantest.exe", "--control"), env)
    result = second.line("RESULT")
    check(result == "RESULT bind23757=10048", f"control: without following children the second copy cannot bind 23757: {result}")
    second.finish()
    first.send("quit")
    first.finish()


def main():
    require_private_network()
    work = tempfile.mkdtemp(prefix="virtuallan-children-")
    prefix = default_prefixes()[0]
    started = time.monotonic()
    prepare_prefix(prefix)
    base = {**os.environ, "WINEDEBUG": "-all", "WINEPREFIX": prefix}
    try:
        registry = os.path.join(work, "registry-lobby")
        env = {**base, "VIRTUALLAN_REGISTRY": registry, "VIRTUALLAN_LOG": os.path.join(work, "log-lobby.txt"),
               "VIRTUALLAN_LOG_LEVEL": "info"}
        commands = [through_cmd("lantest.exe"), through_launcher("lantest.exe")] * 2
        lan_run("4 copies, each started through a launcher (cmd /c, launcher.exe)", [env] * 4, "192.168.80.3", registry, commands)
        check(live_instances(registry) == 0, "when every copy has ended, no instance is live")
        registry = os.path.join(work, "registry-host")
        env = {**base, "VIRTUALLAN_REGISTRY": registry, "VIRTUALLAN_LOG": os.path.join(work, "log-host.txt"),
               "VIRTUALLAN_LOG_LEVEL": "info"}
        print("a game that starts its own server process")
        host_child(env, expect_ok=True)
        print("controls: VIRTUALLAN_CHILDREN=ignore")
        ignore = {**base, "VIRTUALLAN_REGISTRY": os.path.join(work, "registry-ignore"), "VIRTUALLAN_CHILDREN": "ignore"}
        host_child(ignore, expect_ok=False)
        control_lobby(ignore)
    finally:
        stop_prefix(prefix)
    finish(started)


if __name__ == "__main__":
    main()
