#!/usr/bin/env python3
"""Module coverage (run through wine/test, inside a private network namespace): the same
lobby (wine/tests/modules/lobby.c) runs from each place a game's networking can live:

  exe      the exe's own imports         dll      a DLL the exe imports
  late     a DLL loaded with LoadLibrary wsock32  a DLL that imports only wsock32.dll
  getproc  pointers from GetProcAddress taken before the hook DLL was loaded

Each runs as 4 copies on the same fixed UDP port, a different copy hosting each time:
every client finds the host by broadcast and exchanges 5 pings by unicast; every copy
also listens on the same port in TCP, each client connects to the host's and the host to
its own by its LAN address (virtual TCP from every module); in the wsock32 mode each client
also gets one answer through wsock32's own WSARecvEx. Control: the same mode
without the hook DLL, where the second copy's bind collides (10048)."""
import os

from winelab import (Copy, check, fields, finish, hooked, one_prefix_stage, stop_prefix, unhooked, windows_path, OUT)

MODES = ["exe", "dll", "late", "wsock32", "getproc"]
COPIES = 4
PORT = "31000"


def command(mode, with_dll, *args):
    if mode == "getproc":
        load = ["-load", windows_path(os.path.join(OUT, "virtuallan.dll"))] if with_dll else []
        return unhooked("modtest.exe", "-via", mode, *load, *args)
    return (hooked if with_dll else unhooked)("modtest.exe", "-via", mode, *args)


def lobby(mode, host_index, env):
    print(f"{mode}: {COPIES} copies, copy {host_index} hosts")
    copies = []
    for i in range(COPIES):
        role = ["-host", "-clients", str(COPIES - 1)] if i == host_index else []
        # Pinned, as `virtuallan launch` starts copies.
        copies.append(Copy(command(mode, True, "-port", PORT, *role), {**env, "VIRTUALLAN_INSTANCE": str(i)}))
    results = [copy.line("RESULT") for copy in copies]
    codes = [copy.finish() for copy in copies]
    host = fields(results[host_index] or "RESULT")
    for i, (result, code) in enumerate(zip(results, codes)):
        info = fields(result or "RESULT")
        ok = result is not None and result.startswith("RESULT ok") and code == 0
        check(ok and info.get("tcpsocket") == "0" and info.get("tcpconnect") == "0",
              f"{mode}: copy {i}: {result}")
        if i != host_index and ok:
            check(info.get("host") == host.get("name"), f"{mode}: copy {i} found the host {host.get('name')}")
        if i != host_index and mode == "wsock32":
            check(info.get("recvex") == "ok", f"{mode}: copy {i}: a ping answered through wsock32's WSARecvEx")


def control(mode, env):
    first = Copy(command(mode, False, "-port", PORT, "-host", "-clients", "1"), env)
    ready = first.line("READY", timeout=60)
    second = Copy(command(mode, False, "-port", PORT), env)
    result = second.line("RESULT")
    second.finish()
    first.process.kill()
    first.finish()
    check(ready is not None and result is not None and result.startswith("RESULT fail") and f"bind{PORT}=10048" in result,
          f"{mode}: control without the DLL: the second copy cannot bind {PORT}: {result}")


def main():
    work, prefix, base, started = one_prefix_stage("modules")
    try:
        for n, mode in enumerate(MODES):
            env = {**base, "VIRTUALLAN_REGISTRY": os.path.join(work, f"registry-{mode}"),
                   "VIRTUALLAN_LOG": os.path.join(work, f"log-{mode}.txt")}
            lobby(mode, (n + 1) % COPIES, env)
            control(mode, base)
    finally:
        stop_prefix(prefix)
    finish(started)


if __name__ == "__main__":
    main()
