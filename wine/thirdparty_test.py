#!/usr/bin/env python3
"""Real third-party programs through the hook DLL (run through wine/test, inside a private
network namespace). Built from Debian's source packages by wine/thirdparty/build:

oscpack (Ross Bencina's OSC library) as its own DLL: every Winsock call of its programs is
made by oscpack.dll (WSAEventSelect + WaitForMultipleObjects, connected UDP send), the
exes import no Winsock at all. OscDump listens on a fixed UDP port and prints every packet;
OscSendTests sends the library's test packets to a host name.

  1. Reference, without the DLL: one OscDump, one OscSendTests to localhost: what OscDump prints.
  2. 4 OscDump copies on port 7000 through the DLL (instances 0-3) and 4 OscSendTests
     copies (instances 4-7), copy k sending to the next receiver by its host name VLAN-n:
     every receiver prints exactly the reference, and nothing else arrives.
  3. Control: without the DLL the second OscDump cannot bind 7000.

netcat for Windows (nc 1.11 NT): blocking calls and select, all in the exe. A UDP listener
(nc -u -l -p 9000) peeks at the first datagram (recvfrom MSG_PEEK) to learn its sender,
connects to it, names it (gethostbyaddr) and prints what arrives.

  4. Reference without the DLL: a listener and a sender (nc -u localhost 9000) with one line.
  5. 4 listeners on UDP 9000 through the DLL and 4 senders, each to the next listener by
     host name: each listener prints its sender's line and names it as the reference does
     ("connect to [own address] from NAME [sender's address] PORT"), the name and the
     addresses being the virtual ones.
  6. Control: the same sender without the DLL finds no VLAN-2.
  7-9. The same in TCP (nc -l -p 9000; nc VLAN-n 9000): a reference without the DLL, 4
     listeners on TCP 9000 through the DLL each connected to by another copy by host name
     (accept's peer and getsockname are the virtual addresses), and the control: without
     the DLL a second TCP listener on 9000 cannot bind.

libuv (Debian's libuv1, cross-built unchanged) under our uvecho.exe (wine/tests/uvecho.c):
libuv's Windows TCP is an IOCP program none of us wrote (AcceptEx posted in advance onto
its own sockets, ConnectEx, zero-byte overlapped WSARecv then non-blocking reads,
overlapped WSASend, SetFileCompletionNotificationModes, one completion port).

  10. Reference without the DLL: a server on TCP 7100, a client to 127.0.0.1 echoes 256 KB.
  11. 4 servers on TCP 7100 through the DLL, 4 clients, client k to server k+1 by its
      virtual address: every byte comes back, each side names the other's virtual address.
  12. Control: without the DLL a second server cannot bind TCP 7100."""
import os

from winelab import Copy, check, finish, one_prefix_stage, stop_prefix, windows_path, OUT

THIRDPARTY = os.path.join(OUT, "thirdparty")
PORT = "7000"
RECEIVERS = 4
LAST_LINE = "[/an_int int32:6]"  # OscSendTests sends a nested bundle last; its last message is this


def program(name, *args, hooked):
    path = windows_path(os.path.join(THIRDPARTY, name))
    if hooked:
        return ["wine", windows_path(os.path.join(OUT, "inject.exe")), windows_path(os.path.join(OUT, "virtuallan.dll")), path, *args]
    return ["wine", path, *args]


def dump(receiver):
    """The packets a ready OscDump prints, up to the end of the test's last bundle."""
    if receiver.line("    " + LAST_LINE) is None:
        return None
    receiver.line("  }", timeout=10)
    receiver.line("}", timeout=10)
    start = next(i for i, text in enumerate(receiver.lines) if text.startswith("press ctrl-c")) + 1
    return receiver.lines[start:]


def stop(copy):
    copy.process.kill()
    copy.finish()


def reference(env):
    receiver = Copy(program("OscDump.exe", PORT, hooked=False), env)
    ready = receiver.line("listening for input on port")
    sender = Copy(program("OscSendTests.exe", "localhost", PORT, hooked=False), env)
    sender.finish()
    lines = dump(receiver) if ready else None
    stop(receiver)
    check(lines is not None and len(lines) > 10,
          f"reference without the DLL: OscDump printed {len(lines or [])} lines of OscSendTests' packets")
    return lines


def lan(env, expected):
    print(f"{RECEIVERS} OscDump copies on UDP {PORT} through the DLL, each sent to by another copy by host name")
    receivers = [Copy(program("OscDump.exe", PORT, hooked=True), {**env, "VIRTUALLAN_INSTANCE": str(i)}) for i in range(RECEIVERS)]
    ready = [r.line("listening for input on port") for r in receivers]
    check(all(ready), f"all {RECEIVERS} copies listen on port {PORT}")
    senders = []
    for k in range(RECEIVERS):
        target = f"VLAN-{(k + 1) % RECEIVERS + 1}"
        senders.append((target, Copy(program("OscSendTests.exe", target, PORT, hooked=True),
                                     {**env, "VIRTUALLAN_INSTANCE": str(RECEIVERS + k)})))
    for target, sender in senders:
        line = sender.line("sending test messages to")
        code = sender.finish()
        check(line is not None and f"({'192.168.80.' + target.split('-')[1]})" in line and code == 0,
              f"OscSendTests resolved {target} to its virtual address and sent: {line} (exit {code})")
    for i, receiver in enumerate(receivers):
        lines = dump(receiver)
        check(lines == expected, f"copy {i} (VLAN-{i + 1}) printed exactly the reference ({len(lines or [])} lines)")
        stop(receiver)


def control(env):
    first = Copy(program("OscDump.exe", PORT, hooked=False), env)
    ready = first.line("listening for input on port")
    second = Copy(program("OscDump.exe", PORT, hooked=False), env)
    code = second.finish()
    stop(first)
    check(ready is not None and code not in (0, None) and not any(l.startswith("listening") for l in second.lines),
          f"control without the DLL: a second OscDump cannot bind {PORT} (exit {code}): {second.lines[-1:] }")


NC_PORT = "9000"


def nc(*args, hooked, env, instance=None, udp=True):
    command = program("nc.exe", "-v", *(["-u"] if udp else []), *args, hooked=hooked)
    copy = Copy(command, env if instance is None else {**env, "VIRTUALLAN_INSTANCE": str(instance)}, with_stderr=True)
    if "-l" in args:
        copy.process.stdin.close()  # a listener whose input is an open pipe waits on it before it prints the network's
    return copy


def send_line(sender, text):
    """Pipes one line into a sender: nc for Windows sends a piped input when it ends, then
    keeps running until stopped."""
    sender.send(text)
    sender.process.stdin.close()
    return sender


def connect_line(listener):
    """The listener's "connect to [local] from NAME [peer] PORT" words, and the line after it."""
    line = listener.line("connect to [")
    words = line.split() if line else []
    return (words[2:6] if len(words) >= 6 else None), (listener.line("hello") if line else None)


def netcat_reference(env, udp=True):
    kind = "UDP" if udp else "TCP"
    listener = nc("-l", "-p", NC_PORT, hooked=False, env=env, udp=udp)
    ready = listener.line("listening on")
    sender = send_line(nc("localhost", NC_PORT, hooked=False, env=env, udp=udp), "hello from the reference")
    words, data = connect_line(listener) if ready else (None, None)
    stop(sender)
    stop(listener)
    check(words == ["[127.0.0.1]", "from", "localhost", "[127.0.0.1]"] and data == "hello from the reference",
          f"netcat {kind} reference without the DLL: the listener names its peer and prints its line: {words} {data!r}")


def netcat_lan(env, udp=True):
    kind = "UDP" if udp else "TCP"
    verb = "sent to" if udp else "connected to"
    print(f"{RECEIVERS} netcat listeners on {kind} {NC_PORT} through the DLL, each {verb} by another copy by host name")
    listeners = [nc("-l", "-p", NC_PORT, hooked=True, env=env, instance=i, udp=udp) for i in range(RECEIVERS)]
    check(all(l.line("listening on") for l in listeners), f"all {RECEIVERS} listeners bound {kind} {NC_PORT}")
    for k in range(RECEIVERS):
        target = (k + 1) % RECEIVERS
        sender = send_line(nc(f"VLAN-{target + 1}", NC_PORT, hooked=True, env=env, instance=RECEIVERS + k, udp=udp),
                           f"hello from copy {k}")
        words, data = connect_line(listeners[target])
        stop(sender)
        me, peer = f"192.168.80.{target + 1}", f"192.168.80.{RECEIVERS + k + 1}"
        check(words == [f"[{me}]", "from", f"VLAN-{RECEIVERS + k + 1}", f"[{peer}]"] and data == f"hello from copy {k}",
              f"{kind} listener VLAN-{target + 1} names its peer as the reference does and prints its line: {words} {data!r}")
    for listener in listeners:
        stop(listener)


def netcat_tcp_control(env):
    """Without the DLL two TCP listeners cannot share the port (Linux refuses a second
    listening socket even with nc's SO_REUSEADDR): the second copy does not listen."""
    first = nc("-l", "-p", NC_PORT, hooked=False, env=env, udp=False)
    first.line("listening on")
    second = nc("-l", "-p", NC_PORT, hooked=False, env=env, udp=False)
    listening = second.line("listening on", timeout=15)
    stop(second)
    stop(first)
    check(listening is None, f"netcat TCP control without the DLL: a second listener on TCP {NC_PORT} does not listen: {second.lines[-3:]}")


def netcat_control(env):
    """The same commands without the DLL: there is no VLAN-n to send to. (Two listeners on
    one port alone would not show it: nc sets SO_REUSEADDR and connects to its first
    sender, so under Wine the second copy binds too and gets the other sender's datagrams.)"""
    listener = nc("-l", "-p", NC_PORT, hooked=False, env=env)
    listener.line("listening on")
    sender = nc("VLAN-2", NC_PORT, hooked=False, env=env)
    failure = sender.line("VLAN-2")
    code = sender.finish()
    stop(listener)
    check(code not in (0, None) and failure is not None and "lookup failed" in failure,
          f"netcat control without the DLL: the same sender finds no VLAN-2 (exit {code}): {failure}")


UV_PORT = "7100"
UV_BYTES = 256 * 1024


def uvecho(*args, hooked, env, instance=None):
    return Copy(program("uvecho.exe", *args, hooked=hooked), env if instance is None else {**env, "VIRTUALLAN_INSTANCE": str(instance)})


def libuv_reference(env):
    server = uvecho("server", UV_PORT, hooked=False, env=env)
    ready = server.line("READY")
    client = uvecho("client", "127.0.0.1", UV_PORT, hooked=False, env=env)
    result, served = client.line("RESULT"), server.line("SERVED") if ready else None
    client.finish()
    stop(server)
    check(result == f"RESULT ok bytes={UV_BYTES} peer=127.0.0.1" and served == f"SERVED 127.0.0.1 {UV_BYTES}",
          f"libuv reference without the DLL: 256 KB echoed over 127.0.0.1: {result} / {served}")


def libuv_lan(env):
    print(f"{RECEIVERS} libuv echo servers on TCP {UV_PORT} through the DLL, each used by another copy")
    servers = [uvecho("server", UV_PORT, hooked=True, env=env, instance=i) for i in range(RECEIVERS)]
    ready = [server.line("READY") for server in servers]
    check(ready == [f"READY 192.168.80.{i + 1} 0" for i in range(RECEIVERS)],
          f"all {RECEIVERS} servers listen on TCP {UV_PORT}, each seeing its own virtual address: {ready}")
    for k in range(RECEIVERS):
        target, me = (k + 1) % RECEIVERS, RECEIVERS + k
        client = uvecho("client", f"192.168.80.{target + 1}", UV_PORT, hooked=True, env=env, instance=me)
        result, served = client.line("RESULT"), servers[target].line("SERVED")
        code = client.finish()
        check(result == f"RESULT ok bytes={UV_BYTES} peer=192.168.80.{target + 1}" and code == 0
              and served == f"SERVED 192.168.80.{me + 1} {UV_BYTES}",
              f"client 192.168.80.{me + 1} got its 256 KB back from 192.168.80.{target + 1}, each naming the other: {result} / {served}")
    for server in servers:
        stop(server)
    # The DLL's log says which calls carried the connections: libuv's own AcceptEx and ConnectEx.
    log = open(env["VIRTUALLAN_LOG"], encoding="utf-8", errors="replace").read() if os.path.exists(env["VIRTUALLAN_LOG"]) else ""
    lines = log.splitlines()
    accepts = sum("AcceptEx: socket" in line and " accepted from 192.168.80." in line for line in lines)
    connects = sum("ConnectEx on socket" in line and ": connected" in line for line in lines)
    check(accepts >= RECEIVERS and connects >= RECEIVERS,
          f"the connections came through libuv's AcceptEx ({accepts}) and ConnectEx ({connects}), in the DLL's log")


def libuv_control(env):
    first = uvecho("server", UV_PORT, hooked=False, env=env)
    first.line("READY")
    second = uvecho("server", UV_PORT, hooked=False, env=env)
    refused = second.line("RESULT bind=")
    second.finish()
    stop(first)
    check(refused == "RESULT bind=EADDRINUSE 0", f"libuv control without the DLL: a second server cannot bind TCP {UV_PORT}: {refused}")


def main():
    work, prefix, base, started = one_prefix_stage("thirdparty")
    try:
        expected = reference(base)
        env = {**base, "VIRTUALLAN_REGISTRY": os.path.join(work, "registry"), "VIRTUALLAN_LOG": os.path.join(work, "log.txt")}
        if expected:
            lan(env, expected)
        control(base)
        netcat_reference(base)
        netcat_lan({**env, "VIRTUALLAN_REGISTRY": os.path.join(work, "registry-netcat")})
        netcat_control(base)
        netcat_reference(base, udp=False)
        netcat_lan({**env, "VIRTUALLAN_REGISTRY": os.path.join(work, "registry-netcat-tcp")}, udp=False)
        netcat_tcp_control(base)
        libuv_reference(base)
        libuv_lan({**env, "VIRTUALLAN_REGISTRY": os.path.join(work, "registry-libuv"), "VIRTUALLAN_LOG": os.path.join(work, "log-libuv.txt"),
                   "VIRTUALLAN_LOG_LEVEL": "debug"})
        libuv_control(base)
    finally:
        stop_prefix(prefix)
    finish(started)


if __name__ == "__main__":
    main()
