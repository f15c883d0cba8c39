#!/usr/bin/env python3
"""Differential conformance (run through wine/test): wine/tests/conformance.c, one line per
Winsock check, runs under Wine twice in this private namespace, without the DLL (plain
Wine) and with it (instance 0), and the outcomes are compared check by check. A difference
passes only when docs/CONFORMANCE.md lists it with exactly these two outcomes: as an
intended difference of the virtual identity or of Windows' semantics (with the reason), or
as not done yet (what is missing). A listed difference that is no longer there fails too,
so the table stays true. Prints the counts."""
import os
import subprocess

from winelab import ROOT, check, finish, hooked, one_prefix_stage, stop_prefix, unhooked

TABLE = os.path.join(ROOT, "docs", "CONFORMANCE.md")


def run(command, env, work, name):
    """{check: outcome} and the lines that were not checks (a hang, a crash). Output goes to
    a file, not a pipe: Wine's own processes (services, explorer) inherit it and outlive
    the program, so a pipe would never end."""
    path = os.path.join(work, f"{name}.out")
    with open(path, "w") as out_file:
        try:
            subprocess.run(command, env=env, stdout=out_file, stderr=subprocess.STDOUT, timeout=300)
            hung = ""
        except subprocess.TimeoutExpired:
            hung = "\nHUNG (killed after 300 s)"
    out = open(path, encoding="utf-8", errors="replace").read() + hung
    outcomes, other = {}, []
    for line in out.splitlines():
        line = line.rstrip("\r")
        if line.startswith("C "):
            _, name, outcome = (line.split(" ", 2) + [""])[:3]
            outcomes[name] = outcome
        elif line.strip():
            other.append(line)
    return outcomes, other


def listed():
    """{check: (section, without, with, why)} from the doc's two tables."""
    entries, section = {}, None
    for line in open(TABLE, encoding="utf-8"):
        if line.startswith("## "):
            section = {"## Intended differences": "intended", "## Not done yet": "gap"}.get(line.strip())
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")] if line.startswith("| `") else None
        if section and cells and len(cells) == 4:
            name = cells[0].strip("`")
            entries[name] = (section, cells[1].strip("`"), cells[2].strip("`"), cells[3])
    return entries


def run_both(program, env, work, prefix):
    """`program` (in wine/out) without the DLL, then with it (instance 0 of a registry of its
    own), then the prefix stopped: (outcomes, other lines) of each run."""
    plain, plain_other = run(unhooked(program), env, work, "without")
    hooked_env = {**env, "VIRTUALLAN_REGISTRY": os.path.join(work, "registry"), "VIRTUALLAN_INSTANCE": "0",
                  "VIRTUALLAN_LOG": os.path.join(work, os.path.splitext(program)[0] + ".log")}
    virtual, virtual_other = run(hooked(program), hooked_env, work, "with")
    stop_prefix(prefix)
    return plain, plain_other, virtual, virtual_other


def main():
    work, prefix, env, started = one_prefix_stage("conformance")
    print("differential conformance: the same checks without and with the DLL")
    plain, plain_other, virtual, virtual_other = run_both("conformance.exe", env, work, prefix)
    done = [line for line in plain_other if line.startswith("DONE")]
    check(bool(done) and int(done[0].split()[1]) == len(plain) + 1 and len(plain) >= 150,
          f"without the DLL the program runs to its end: {len(plain)} checks ({' '.join(plain_other[-2:])})")
    check(any(line.startswith("DONE") for line in virtual_other),
          f"with the DLL it runs to its end too ({' '.join(virtual_other[-2:]) or 'no last line'})")
    table = listed()
    equal, intended, gaps, unexpected, stale = 0, 0, 0, [], []
    for name in sorted(set(plain) | set(virtual), key=lambda n: list(plain).index(n) if n in plain else 10**6):
        without, with_dll = plain.get(name, "(missing)"), virtual.get(name, "(missing)")
        entry = table.get(name)
        if without == with_dll:
            equal += 1
            if entry:
                stale.append(f"{name}: now equal ({without}): remove it from docs/CONFORMANCE.md")
        elif entry and (entry[1], entry[2]) == (without, with_dll):
            intended += entry[0] == "intended"
            gaps += entry[0] == "gap"
        else:
            unexpected.append(f"{name}: without the DLL `{without}`, with it `{with_dll}`"
                              + (f" (the table says `{entry[1]}` / `{entry[2]}`)" if entry else " (not in docs/CONFORMANCE.md)"))
    for name in table:
        if name not in plain and name not in virtual:
            stale.append(f"{name}: listed but no such check")
    total = len(set(plain) | set(virtual))
    print(f"  conformance: {total} checks: {equal} equal, {intended} intended differences, {gaps} not done yet, "
          f"{len(unexpected)} unexpected, {len(stale)} stale table entries")
    for line in unexpected + stale:
        print(f"    {line}")
    check(not unexpected, f"every difference is listed in docs/CONFORMANCE.md ({len(unexpected)} are not)")
    check(not stale, f"every listed difference is still there ({len(stale)} are not)")
    finish(started)


if __name__ == "__main__":
    main()
