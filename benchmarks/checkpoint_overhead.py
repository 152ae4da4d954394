"""Checkpoint overhead on the hot path: W1 (10,000 no-op tasks, 2 workers) with
``--checkpoint every`` vs ``off``, in alternating repetitions.

``python -m benchmarks.checkpoint_overhead [TASKS] [REPS]`` prints, per policy, the
in-app time of submit + wait (after a warm-up, as W1) and the whole process's wall time
(which includes writing the last checkpoints at the end), then the difference per task.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

APP = '''
import sys, time
from hpcflow import task, wait_on
from benchmarks.workloads import noop as _noop
noop = task(returns=1)(_noop)
wait_on([noop(i) for i in range(8)])
t0 = time.perf_counter()
values = wait_on([noop(i) for i in range(int(sys.argv[1]))])
assert values == list(range(int(sys.argv[1])))
print("in_app", time.perf_counter() - t0)
'''


def _one(policy: str, tasks: int, scratch: Path, rep: int) -> tuple[float, float, int]:
    app = scratch / "noop_app.py"
    app.write_text(APP)
    run_dir = scratch / f"run-{policy}-{rep}"
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    argv = [sys.executable, "-m", "hpcflow", "run", "--quiet", "--workers", "2",
            "--checkpoint", policy, "--run-dir", str(run_dir), str(app), "--", str(tasks)]
    t0 = time.perf_counter()
    out = subprocess.run(argv, env=env, cwd=scratch, capture_output=True, text=True,
                         check=True, timeout=600).stdout
    wall = time.perf_counter() - t0
    in_app = float(next(line.split()[1] for line in out.splitlines() if line.startswith("in_app")))
    files = sum(len(f) for _, _, f in os.walk(run_dir / "checkpoints"))
    return in_app, wall, files


def main() -> None:
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    results: dict[str, list[tuple[float, float, int]]] = {"every": [], "off": []}
    with tempfile.TemporaryDirectory() as scratch:
        for rep in range(reps):
            for policy in ("off", "every"):
                results[policy].append(_one(policy, tasks, Path(scratch), rep))
    for policy, rows in results.items():
        in_app = statistics.median(r[0] for r in rows)
        wall = statistics.median(r[1] for r in rows)
        print(f"{policy:6s} in-app {in_app:7.3f} s ({1e6 * in_app / tasks:6.1f} us/task)  "
              f"process {wall:7.3f} s  checkpoint files {rows[-1][2]}  "
              f"runs {[round(r[0], 2) for r in rows]}")
    for index, name in ((0, "in-app"), (1, "process")):
        on = statistics.median(r[index] for r in results["every"])
        off = statistics.median(r[index] for r in results["off"])
        print(f"overhead {name}: {1e6 * (on - off) / tasks:+.1f} us/task "
              f"({100 * (on - off) / off:+.1f} %)")


if __name__ == "__main__":
    main()
