"""Checkpoint and continue on the testbed: a one-minute job with three minutes of work
finishes across continuation jobs; a master killed with SIGKILL is resumed with
``hpcflow submit --resume`` (and so is a cancelled job); a truncated checkpoint and an edited
task are recomputed.
Executions are counted through side-effect files."""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import SlurmTestbed

APP = Path(__file__).resolve().parents[1] / "behaviour" / "apps" / "resumable.py"
TIMEOUT = 420


class _Run:
    """An app copied into a scratch directory, submitted with hpcflow, its jobs cancelled
    at the end whatever happens."""

    def __init__(self, testbed: SlurmTestbed, tmp: Path) -> None:
        self.tmp = tmp
        self.marks = tmp / "marks"
        self.marks.mkdir()
        shutil.copy(APP, tmp / "app.py")
        xdg = tmp / "xdg"
        (xdg / "hpcflow").mkdir(parents=True)
        (xdg / "hpcflow" / "config.toml").write_text(
            f'default_site = "testbed"\n\n[sites.testbed]\npython = {json.dumps(sys.executable)}\n')
        self.env = {**testbed.env, "XDG_CONFIG_HOME": str(xdg)}

    def hpcflow(self, *args: object, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "hpcflow", *map(str, args)], cwd=self.tmp,
                              env=self.env, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def submit(self, n: int, seconds: float, *flags: object,
               timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
        """``hpcflow submit`` of the app on one node (2 CPUs); checked."""
        done = self.hpcflow("submit", "app.py", "--nodes", "1", "--cpus-per-node", "2", *flags,
                            "--", self.marks, n, seconds, timeout=timeout)
        assert done.returncode == 0, done.stderr
        return done

    def run_dir(self) -> Path:
        return next((self.tmp / "hpcflow-runs").iterdir())

    def jobs(self) -> list[str]:
        doc = json.loads((self.run_dir() / "job.json").read_text())
        return list(doc.get("chain") or [doc["job_id"]])

    def cancel_all(self) -> None:
        if (self.tmp / "hpcflow-runs").exists():
            subprocess.run(["scancel", *self.jobs()], env=self.env, timeout=30, check=False,
                           capture_output=True)

    def executions(self) -> collections.Counter[str]:
        return collections.Counter("-".join(n.split("-")[:2]) for n in os.listdir(self.marks))


def _expected(n: int) -> int:
    return sum(i * i + 1 for i in range(n))


def test_a_one_minute_job_finishes_three_minutes_of_work_in_continuations(
        testbed: SlurmTestbed, tmp_path: Path) -> None:
    run = _Run(testbed, tmp_path)
    n, seconds = 18, 5.0  # 36 tasks of 5 s: 3 minutes of work on 2 cores of one node
    try:
        done = run.submit(n, seconds, "--time", "00:01:00", "--continue", "--wait")
        jobs = run.jobs()
        assert len(jobs) >= 2, done.stderr  # it did not fit in one job
        assert re.search(rf"job {jobs[0]} continues in job {jobs[1]}", done.stderr)
        assert (tmp_path / "total.txt").read_text() == f"{_expected(n)}\n"
        counts = run.executions()
        assert set(counts) == {f"square-{i}" for i in range(n)} | \
            {f"plus-{i}" for i in range(n)} | {"total-0", "stamp-0"}
        assert set(counts.values()) == {1}, f"a task ran twice: {counts}"
        status = run.hpcflow("status", jobs[0], timeout=60)
        assert f"jobs       {' -> '.join(jobs)}" in status.stdout, status.stdout
        first = (run.run_dir() / f"slurm-{jobs[0]}.err").read_text()
        assert f"the run continues in job {jobs[1]}" in first and "error" not in first, first
        states = subprocess.run(["sacct", "-n", "-X", "-P", "-o", "JobID,State", "-j",
                                 ",".join(jobs)], env=run.env, capture_output=True,
                                text=True, timeout=60, check=True).stdout
        assert set(re.findall(r"\|(\w+)", states)) == {"COMPLETED"}, states
    finally:
        run.cancel_all()


def _master_pid(run_dir: Path) -> int | None:
    """The job's ``hpcflow run --resume RUN`` process (the testbed's nodes are local)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path("/proc", entry, "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"hpcflow" in argv and b"--resume" in argv and str(run_dir).encode() in argv \
                and not argv[0].endswith(b"srun"):
            return int(entry)
    return None


def _wait_gone(run: _Run, job_id: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        queue = subprocess.run(["squeue", "-h", "-j", job_id], env=run.env, timeout=30,
                               capture_output=True, text=True, check=False)
        if not queue.stdout.strip():
            return
        time.sleep(0.5)


def _finished_before(run_dir: Path, when: float) -> set[int]:
    done = set()
    for line in (run_dir / "events.jsonl").read_text().splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "finished" and event["t"] < when:
            done.add(event["task"])
    return done


@pytest.mark.parametrize("stop", ["sigkill", "cancel"])
def test_a_killed_master_or_cancelled_job_is_resumed_rerunning_only_unfinished_tasks(
        testbed: SlurmTestbed, tmp_path: Path, stop: str) -> None:
    run = _Run(testbed, tmp_path)
    n = 6
    try:
        run.submit(n, 2, "--time", "00:05:00", timeout=60)
        run_dir = run.run_dir()
        deadline = time.monotonic() + 120
        pid = None
        while time.monotonic() < deadline:
            events = run_dir / "events.jsonl"
            if events.exists() and len(_finished_before(run_dir, time.time())) >= 4:
                pid = _master_pid(run_dir)
                break
            time.sleep(0.2)
        assert pid is not None, "the job never got going"
        killed = time.time()
        if stop == "sigkill":
            os.kill(pid, signal.SIGKILL)
        else:
            assert run.hpcflow("cancel", run.jobs()[0], timeout=60).returncode == 0
        _wait_gone(run, run.jobs()[0])
        before = run.executions()
        assert sum(before.values()) < 2 * n + 1  # the run was cut short
        safe = _finished_before(run_dir, killed - 0.5)  # their checkpoints are on disk
        names = {f"square-{t - 1}" if t <= n else f"plus-{t - n - 1}" for t in safe}
        resumed = run.hpcflow("submit", "--resume", run_dir, "--wait")
        assert resumed.returncode == 0, resumed.stderr
        assert (tmp_path / "total.txt").read_text() == f"{_expected(n)}\n"
        after = run.executions()
        rerun = after - before
        assert names and not names & set(rerun), f"finished tasks ran again: {rerun}"
        assert set(after) >= {f"square-{i}" for i in range(n)} | {f"plus-{i}" for i in range(n)}
        assert len(run.jobs()) == 2
    finally:
        run.cancel_all()


def test_a_damaged_checkpoint_and_an_edited_task_are_recomputed_on_resume(
        testbed: SlurmTestbed, tmp_path: Path) -> None:
    run = _Run(testbed, tmp_path)
    n = 4
    try:
        run.submit(n, 0, "--time", "00:05:00", "--wait")
        run_dir, first = run.run_dir(), run.executions()
        total = f"{_expected(n)}\n".encode()
        blob = next(p for p in (run_dir / "checkpoints" / "objects").rglob("*")
                    if p.is_file() and p.read_bytes() == total)
        blob.write_bytes(total[:1])  # truncated: must not be trusted
        (tmp_path / "total.txt").unlink()
        again = run.hpcflow("submit", "--resume", run_dir, "--wait")
        assert again.returncode == 0, again.stderr
        assert (tmp_path / "total.txt").read_bytes() == total
        second = run.executions()
        assert second - first == collections.Counter({"total-0": 1, "stamp-0": 1})
        app = tmp_path / "app.py"
        app.write_text(app.read_text().replace("return x + 1", "return x + 1 + 0 * len('e')"))
        edited = run.hpcflow("submit", "--resume", run_dir, "--wait")
        assert edited.returncode == 0, edited.stderr
        assert run.executions() - second == collections.Counter(
            {**{f"plus-{i}": 1 for i in range(n)}, "total-0": 1, "stamp-0": 1})
        assert len(run.jobs()) == 3
    finally:
        run.cancel_all()
