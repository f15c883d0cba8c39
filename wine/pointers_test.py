#!/usr/bin/env python3
"""The pointer sweep (run through wine/test): wine/out/pointers.exe calls every function of
the DLL's hook table with a bad pointer in each pointer parameter (NULL, 1, memory without
access, read-only memory; wine/tests/conformance_pointers.c), once without the DLL (plain
Wine) and once with it. With the DLL the program must run to its end and no call may raise
an access violation that plain Wine does not raise: the layer answers with an error
instead (where Wine's own ws2_32 faults under the layer, that fault is Wine's). The
outcomes that differ from plain Wine must each match a row of docs/CONFORMANCE.md's "The
pointer sweep's differences" (its calls, then both outcomes, as shell patterns, and why);
a row that matches nothing fails too. Control: plain Wine itself faults on some of these
calls, which shows the sweep reaches a fault when there is one."""
import fnmatch
import os
import re

from conformance_test import run_both
from winelab import check, finish, one_prefix_stage


def main():
    work, prefix, env, started = one_prefix_stage("pointers")
    print("pointer sweep: every hooked function with bad pointers, without and with the DLL")
    plain, plain_other, virtual, virtual_other = run_both("pointers.exe", env, work, prefix)
    sweep = [name for name in virtual if name.startswith("ptr.")]
    # The DLL's own faults: where plain Wine itself faults, the fault is Wine's (its ws2_32
    # under ours), not the layer's.
    faults = [name for name in sweep if virtual[name] == "fault" and plain.get(name) != "fault"]
    plain_faults = [name for name in plain if plain[name] == "fault"]
    check(any(line.startswith("DONE") for line in virtual_other) and len(sweep) >= 200,
          f"with the DLL the sweep runs to its end: {len(sweep)} calls ({' '.join(virtual_other[-1:]) or 'no last line'})")
    check(not faults, f"with the DLL no call faults where plain Wine does not ({len(faults)} do: {', '.join(faults[:8])})")
    check(bool(plain_faults), f"control: plain Wine faults on {len(plain_faults)} of the calls it made "
          f"({'ran to its end' if any(l.startswith('DONE') for l in plain_other) else ' '.join(plain_other[-1:])})")
    different = [(name, plain.get(name, "(not reached)"), virtual[name]) for name in sweep if plain.get(name) != virtual[name]]
    listing = os.path.join(work, "differences.txt")
    with open(listing, "w") as f:
        f.write("".join(f"{name}: without the DLL `{without}`, with it `{with_dll}`\n" for name, without, with_dll in different))
    rules = judgements()
    used = set()
    unjudged = []
    for name, without, with_dll in different:
        call = name[len("ptr."):]
        rule = next((i for i, (calls, w, v, _) in enumerate(rules)
                     if any(fnmatch.fnmatchcase(call, c) for c in calls)
                     and fnmatch.fnmatchcase(without, w) and fnmatch.fnmatchcase(with_dll, v)), None)
        if rule is None:
            unjudged.append(f"{name}: without the DLL `{without}`, with it `{with_dll}`")
        else:
            used.add(rule)
    stale = [" ".join(rules[i][0]) + f" `{rules[i][1]}` -> `{rules[i][2]}`" for i in range(len(rules)) if i not in used]
    print(f"  pointers: {len(sweep)} calls, {len(sweep) - len(different)} equal to plain Wine, {len(different)} different "
          f"({len(different) - len(unjudged)} judged by {len(rules)} rows; all: {listing})")
    check(not unjudged, f"every difference is judged in docs/CONFORMANCE.md ({len(unjudged)} are not)")
    for line in unjudged[:20]:
        print(f"    {line}")
    check(not stale, f"every judgement still matches a difference ({len(stale)} do not: {'; '.join(stale[:4])})")
    finish(started)


def judgements():
    """The rows of docs/CONFORMANCE.md between its pointer-judgement markers: ([call
    patterns], without-DLL pattern, with-DLL pattern, why)."""
    doc = open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "CONFORMANCE.md"),
               encoding="utf-8").read()
    section = doc.split("<!-- pointer judgements -->", 1)[1].split("<!-- end of pointer judgements -->", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].startswith("`"):
            continue
        calls = re.findall(r"`([^`]+)`", cells[0])
        rows.append((calls, cells[1].strip("`"), cells[2].strip("`"), cells[3]))
    return rows


if __name__ == "__main__":
    main()
