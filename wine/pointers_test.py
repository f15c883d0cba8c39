#!/usr/bin/env python3
"""The pointer sweep (run through wine/test): wine/out/pointers.exe calls every function of
the DLL's hook table with a bad pointer in each pointer parameter (NULL, 1, memory without
access, read-only memory; wine/tests/conformance_pointers.c), once without the DLL (plain
Wine) and once with it. With the DLL the program must run to its end and no call may raise
an access violation that plain Wine does not raise: the layer answers with an error
instead (where Wine's own ws2_32 faults under the layer, that fault is Wine's). The
outcomes that differ from plain Wine are counted and written to a file in the run's
folder; judging each against Windows' documented error is not done yet (issue 26, item 3),
so they do not fail the stage. Control: plain Wine itself faults on some of these calls,
which shows the sweep reaches a fault when there is one."""
import os

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
    different = [f"{name}: without the DLL `{plain.get(name, '(not reached)')}`, with it `{virtual[name]}`"
                 for name in sweep if plain.get(name) != virtual[name]]
    listing = os.path.join(work, "differences.txt")
    with open(listing, "w") as f:
        f.write("\n".join(different) + "\n")
    print(f"  pointers: {len(sweep)} calls, {len(sweep) - len(different)} equal to plain Wine, "
          f"{len(different)} different (not judged yet: {listing})")
    finish(started)


if __name__ == "__main__":
    main()
