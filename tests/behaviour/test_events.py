"""The run's event log: every transition, with times, nodes and dependencies."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hpcflow.runtime.events import read_events

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_event_log_of_a_run_with_a_retry(tmp_path):
    run_dir = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "hpcflow", "run", "--quiet", "--run-dir",
                           str(run_dir), str(EXAMPLES / "failure_retry.py"), "--",
                           str(tmp_path / "marks"), "--fail-times", "1"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    events = read_events(str(run_dir / "events.jsonl"))
    kinds = [e["event"] for e in events]
    assert kinds[0] == "node_joined" and kinds[-1] == "run_finished"
    assert kinds.count("retrying") == 1
    first = [e for e in events if e.get("task") == 1]
    assert [e["event"] for e in first] == ["submitted", "started", "retrying", "started",
                                           "finished"]
    successor = next(e for e in events if e["event"] == "submitted" and e["task"] == 2)
    assert successor["deps"] == [1]
    assert all(e["t"] > 0 for e in events)
    assert events[-1]["status"] == 0
    assert (run_dir / "records.jsonl").exists() and (run_dir / "status.json").exists()


def test_a_torn_last_line_is_ignored(tmp_path):
    log = tmp_path / "events.jsonl"
    log.write_text('{"t": 1, "event": "submitted"}\n{"t": 2, "event": "sta')
    assert [e["event"] for e in read_events(str(log))] == ["submitted"]
