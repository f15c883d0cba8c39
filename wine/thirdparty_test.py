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
  3. Control: without the DLL the second OscDump cannot bind 7000."""
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


def main():
    work, prefix, base, started = one_prefix_stage("thirdparty")
    try:
        expected = reference(base)
        env = {**base, "VIRTUALLAN_REGISTRY": os.path.join(work, "registry"), "VIRTUALLAN_LOG": os.path.join(work, "log.txt")}
        if expected:
            lan(env, expected)
        control(base)
    finally:
        stop_prefix(prefix)
    finish(started)


if __name__ == "__main__":
    main()
