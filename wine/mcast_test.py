#!/usr/bin/env python3
"""Wine test of multicast on the virtual LAN with a stand-in game that discovers by
multicast (wine/tests/mcastgame.c; run it through wine/test, which puts it in a private
network namespace): every copy binds UDP 5500 on 0.0.0.0.

  1. 8 copies in one prefix through the DLL. Seven join 239.255.80.1, copy 3 does not (it
     is bound to the same port). Every copy, the non-member too, sends one HELLO to the
     group; then each drains what it got: every member has the 8 HELLOs (its own too:
     IP_MULTICAST_LOOP is on by default), each from its sender's virtual address; the
     non-member has none. Then copy 0 leaves; copy 1 sends once more: copy 0 and copy 3
     get nothing, the other six members get it.
  2. Control: the same program without the DLL: the second copy cannot bind UDP 5500."""

from winelab import Copy, check, hooked, lan_stage, second_copy_collides, status_json, unhooked

COPIES = 8
OUTSIDER = 3


def ask(copies, command, answer):
    for copy in copies:
        copy.send(command)
    return [copy.line(answer) for copy in copies]


def lan(env):
    print(f"{COPIES} copies of the multicast game, copy {OUTSIDER} not joining")
    copies = [Copy(hooked("mcastgame.exe"), {**env, "VIRTUALLAN_INSTANCE": str(i)}) for i in range(COPIES)]
    ready = [copy.line("READY") for copy in copies]
    if not check(all(ready), f"all {COPIES} copies bound UDP 5500"):
        for copy in copies:
            copy.process.kill()
        return
    ips = [line.split()[1] for line in ready]
    check(ips == [f"192.168.80.{i + 1}" for i in range(COPIES)], f"each copy has its own virtual address: {' '.join(ips)}")
    members = [copy for i, copy in enumerate(copies) if i != OUTSIDER]
    joined = ask(members, "join", "JOINED")
    check(joined == ["JOINED rc=0"] * len(members), f"{len(members)} copies joined the group: {joined}")
    status = status_json(env["VIRTUALLAN_REGISTRY"]) or {"instances": []}
    groups = [[f"{g['group']} on {g['virtualPort']}" for g in i["groups"]] for i in status["instances"]]
    expected = [[] if i == OUTSIDER else ["239.255.80.1 on 5500"] for i in range(COPIES)]
    check(groups == expected, f"virtuallan status shows the memberships, none for copy {OUTSIDER}: {groups}")
    sent = ask(copies, "announce", "SENT")
    check(sent == ["SENT rc=0"] * COPIES, f"every copy sent one HELLO to the group: {sent}")
    heard = ask(copies, "drain", "HEARD")
    for i, line in enumerate(heard):
        if i == OUTSIDER:
            check(line == "HEARD 0", f"copy {i}, not a member, saw nothing: {line}")
        else:
            # The copies send at the same time, so the HELLOs arrive in any order.
            words = line.split()
            check(words[1] == str(COPIES) and sorted(words[2:]) == sorted(ips),
                  f"member {i} got all {COPIES} HELLOs, each from its sender's address: {line}")
    left = ask([copies[0]], "leave", "LEFT")
    check(left == ["LEFT rc=0"], f"copy 0 left the group: {left}")
    check(ask([copies[1]], "announce", "SENT") == ["SENT rc=0"], "copy 1 sent once more")
    heard = ask(copies, "drain", "HEARD")
    for i, line in enumerate(heard):
        expected = "HEARD 0" if i in (0, OUTSIDER) else f"HEARD 1 {ips[1]}"
        check(line == expected, f"after the leave, copy {i}: {line} (expected {expected})")
    for copy in copies:
        copy.send("quit")
    codes = [copy.finish() for copy in copies]
    check(codes == [0] * COPIES, f"every copy exits cleanly: {codes}")


def control(env):
    print("control: the same program without the DLL")
    second_copy_collides(unhooked("mcastgame.exe"), env, "the first copy binds UDP 5500",
                         lambda r: r == "RESULT bind=10048", "the second copy cannot bind UDP 5500")


def main():
    lan_stage("mcastgame", lan, control)


if __name__ == "__main__":
    main()
