"""The master lets go of values and records nothing depends on any more."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

APPS = Path(__file__).resolve().parent / "apps"


def test_dropped_values_and_finished_records_leave_the_master(tmp_path):
    run_dir = tmp_path / "run"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "hpcflow",
            "run",
            "--quiet",
            "--workers",
            "2",
            "--run-dir",
            str(run_dir),
            str(APPS / "memory_release.py"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("MEMORY "))
    report = json.loads(line.removeprefix("MEMORY "))
    # the values still reachable are right, however long ago they were produced
    assert report["chain"] == 50 and report["kept"] == 1
    assert report["sizes"] == [100_000] * 30
    assert report["box"] == list(range(20))
    # no 100 kB result is kept once its reader is done and its future is gone
    assert report["stored"] < 100_000
    # succeeded tasks left the master's memory for the spool on disk ...
    assert report["records"] <= 2
    # ... and every task is in records.jsonl all the same, in order, with its details
    rows = [json.loads(x) for x in (run_dir / "records.jsonl").read_text().splitlines()]
    assert [row["id"] for row in rows] == list(range(1, len(rows) + 1))
    assert len(rows) == 1 + 50 + 60 + 20 + 1
    assert all(row["state"] == "done" and row["host"] and row["ended"] for row in rows)
    assert not (run_dir / "records.part").exists()
    status = json.loads((run_dir / "status.json").read_text())
    assert status["tasks"] == len(rows)
