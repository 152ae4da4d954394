"""The benchmark suite runs inside a Slurm allocation (``--sbatch``) and says so."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import SlurmTestbed

REPO = Path(__file__).resolve().parents[2]
NUMBER = r"\d[\d,]*(?:\.\d+)?"


def test_the_suite_runs_as_a_batch_job_on_one_node(testbed: SlurmTestbed,
                                                    tmp_path: Path) -> None:
    out = tmp_path / "perf.md"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--sbatch", "--quick", "--reps", "1",
         "--systems", "hpcflow,processpool", "--workloads", "w1,w2", "--out", str(out)],
        cwd=REPO, env=testbed.env, capture_output=True, text=True, timeout=240,
        stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-3000:]
    job = done.stdout.strip()  # sbatch --parsable
    text = out.read_text(encoding="utf-8")
    assert re.search(rf"\*\*Inside Slurm\*\*: job {job} on node\d", text), text[:1500]
    assert re.search(rf"\| W1 throughput, 1,000 no-op tasks \| tasks/s \| higher \| {NUMBER} "
                     rf"\| {NUMBER} \|", text)
    assert (tmp_path / f"perf.slurm-{job}.log").exists()
