"""A test stage's results as scripts/test sums them: one JSON file per stage in the folder
$VIRTUALLAN_RESULTS ({"stage", "passed", "failed", "finished"}), written when the stage
starts, after each check and at its end, so a stage that died is there, unfinished. Without the
variable (a stage run by hand) nothing is written. Each check also prints one line."""
import json
import os
import sys


class Results:
    def __init__(self, stage):
        self.stage = stage
        self.passed = 0
        self.failed = 0
        folder = os.environ.get("VIRTUALLAN_RESULTS")
        self.path = os.path.join(folder, f"{stage}.json") if folder else None
        self._write(finished=False)

    def check(self, condition, what):
        if condition:
            self.passed += 1
        else:
            self.failed += 1
        self._write(finished=False)
        print(f"  {'ok' if condition else 'FAILED'}: {what}", flush=True)
        return condition

    def finish(self):
        """Writes the end record and prints the stage's "N passed, M failed" line; the exit status."""
        self._write(finished=True)
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        return 1 if self.failed else 0

    def _write(self, finished):
        if not self.path:
            return
        record = {"stage": self.stage, "passed": self.passed, "failed": self.failed, "finished": finished}
        with open(self.path + ".tmp", "w") as f:
            json.dump(record, f)
        os.replace(self.path + ".tmp", self.path)


def stage_name():
    """The running script's name without .py (lan_test, e2e, bridge_test...)."""
    return os.path.splitext(os.path.basename(sys.argv[0]))[0]


def summed(folder):
    """(passed, failed, unfinished stage names) over every stage file in `folder`."""
    passed = failed = 0
    unfinished = []
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(folder, name)) as f:
            record = json.load(f)
        passed += record["passed"]
        failed += record["failed"]
        if not record["finished"]:
            unfinished.append(record["stage"])
    return passed, failed, unfinished


def report(folder):
    """One line per stage, in name order."""
    for name in sorted(os.listdir(folder)):
        if name.endswith(".json"):
            with open(os.path.join(folder, name)) as f:
                r = json.load(f)
            print(f"test: stage {r['stage']}: {r['passed']} passed, {r['failed']} failed{'' if r['finished'] else ', did not finish'}")


if __name__ == "__main__":
    # scripts/test: `results.py sum FOLDER` -> "passed failed unfinished...", `results.py report FOLDER`.
    if sys.argv[1] == "report":
        report(sys.argv[2])
    else:
        p, f, u = summed(sys.argv[2])
        print(p, f, *u)
