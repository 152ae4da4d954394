"""Live counts of a job from its event log (``hpcflow status``, the ``--wait`` progress
line), the event tail, RUN resolution and the default run directory (fake Slurm)."""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
from observe_events import chain_run

from hpcflow.errors import UsageError
from hpcflow.runtime import submit as sub
from hpcflow.runtime.artifacts import resolve_run
from hpcflow.runtime.events import FLUSH_EVERY, EventLog, read_events
from hpcflow.runtime.live import EventTail, ProgressTails
from hpcflow.runtime.rundir import RUNS_DIR, default_run_dir, imported_modules
from hpcflow.slurm.client import SlurmClient


@dataclass
class Result:
    returncode: int = 0
    stdout: str = ""
    stderr: str = ""


@dataclass
class FakeSlurm:
    """Answers scontrol with the next state, appending the next batch of events."""

    run_dir: Path
    states: list[str]
    batches: list[list[dict]] = field(default_factory=list)
    calls: int = 0

    def __call__(self, argv: list[str], timeout: float) -> Result:
        if argv[0] != "scontrol":
            raise FileNotFoundError(2, "No such file", argv[0])
        if self.calls < len(self.batches):
            with open(self.run_dir / "events.jsonl", "a", encoding="utf-8") as fh:
                fh.writelines(json.dumps(e) + "\n" for e in self.batches[self.calls])
        self.calls += 1
        if not self.states:
            return Result(1, "", "slurm_load_jobs error: Invalid job id specified\n")
        state = self.states[min(self.calls - 1, len(self.states) - 1)]
        return Result(0, f"JobId=42 JobName=hpcflow-chain UserId=u(1) JobState={state} "
                         f"Reason=None ExitCode=0:0 NodeList=n1 NumNodes=1 WorkDir=/w "
                         f"StdErr={self.run_dir}/slurm-42.err StdIn=/dev/null "
                         f"StdOut={self.run_dir}/slurm-42.out Power=\n")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def job_dir(tmp_path: Path) -> tuple[Path, Path]:
    cwd = tmp_path / "project"
    run_dir = cwd / RUNS_DIR / "hpcflow-chain-20240101-000000"
    run_dir.mkdir(parents=True)
    (run_dir / "job.json").write_text(json.dumps({"job_id": "42"}))
    return cwd, run_dir


def context(cwd: Path, runner: FakeSlurm, err: io.StringIO | None = None) -> sub.Context:
    return sub.Context(cwd, {}, SlurmClient(runner, timeout=5), io.StringIO(),
                       err or io.StringIO(), sleep=lambda s: None, user="alice")


def test_status_of_a_running_job_counts_tasks_per_state_and_node(tmp_path):
    cwd, run_dir = job_dir(tmp_path)
    events = chain_run()
    ctx = context(cwd, FakeSlurm(run_dir, ["RUNNING"], [events[:10]]))
    assert sub.show_status("42", ctx) == 0
    lines = ctx.out.getvalue().splitlines()
    assert lines[:2] == ["job        42 (hpcflow-chain)", "state      RUNNING"]
    assert lines[5] == "tasks      pending 3  running 1  done 1  failed 0  cancelled 0"
    assert lines[6] == "node       n1: running 1  done 1  failed 0"


def test_status_of_a_local_run_directory(tmp_path):
    cwd, run_dir = job_dir(tmp_path)
    (run_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in chain_run()))
    ctx = context(cwd, FakeSlurm(run_dir, []))
    assert sub.show_status(str(run_dir.relative_to(cwd)), ctx) == 0
    assert ctx.out.getvalue().splitlines() == [
        "tasks      pending 0  running 0  done 5  failed 0  cancelled 0",
        "node       n1: running 0  done 5  failed 0", "app        finished, exit status 0"]


@pytest.mark.parametrize("terminal", [True, False])
def test_wait_draws_a_progress_line_only_on_a_terminal(tmp_path, terminal):
    cwd, run_dir = job_dir(tmp_path)
    events = chain_run()
    slurm = FakeSlurm(run_dir, ["RUNNING", "RUNNING", "COMPLETED"],
                      [events[:4], events[4:12], events[12:]])
    err = Terminal() if terminal else io.StringIO()
    (run_dir / "slurm-42.err").write_text("a warning\n")
    assert sub.wait_for_job(context(cwd, slurm, err), "42", run_dir) == 0
    text = err.getvalue()
    assert "a warning\n" in text
    if terminal:
        assert "\r\x1b[Ka warning\n[hpcflow] done 0  running 0  pending 2  failed 0  " \
            "(1 node)\r\x1b[K[hpcflow] done 2  running 1  pending 2  failed 0" in text
        assert text.endswith("\r\x1b[K")  # the line is gone once the job ended
    else:
        assert "[hpcflow]" not in text and "\x1b" not in text


def test_progress_tails_erase_before_the_job_prints(tmp_path):
    stream = Terminal()

    class Printer:
        def pump(self, final=False):
            stream.write("output\n")

    (tmp_path / "events.jsonl").write_text(json.dumps(chain_run()[2]) + "\n")
    tails = ProgressTails(tmp_path / "events.jsonl", stream, [Printer()])
    tails.pump()
    tails.pump()
    assert stream.getvalue().count("\r\x1b[Koutput\n[hpcflow] done 0") == 2


def test_event_tail_reads_complete_lines_as_they_come(tmp_path):
    log = tmp_path / "events.jsonl"
    tail = EventTail(log)
    assert tail.read() == []  # no log yet
    log.write_text('{"t": 1, "event": "a"}\n{"t": 2, "ev')
    assert [e["event"] for e in tail.read()] == ["a"]
    with open(log, "a") as fh:
        fh.write('ent": "b"}\nnot json\n')
    assert [e["event"] for e in tail.read()] == ["b"]
    assert tail.read() == []


def test_resolve_run_by_path_name_job_id_or_newest(tmp_path):
    cwd, run_dir = job_dir(tmp_path)
    ctx = context(cwd, FakeSlurm(run_dir, []))
    with pytest.raises(UsageError, match="no runs under"):
        resolve_run(None, ctx)
    (run_dir / "events.jsonl").write_text("")
    assert resolve_run(None, ctx) == run_dir
    assert resolve_run(str(run_dir), ctx) == run_dir
    assert resolve_run(run_dir.name, ctx) == run_dir
    assert resolve_run("42", ctx) == run_dir
    with pytest.raises(UsageError, match="no run directory of job 43"):
        resolve_run("43", ctx)
    with pytest.raises(UsageError, match="neither a run directory nor a job id"):
        resolve_run("nope", ctx)


def test_default_run_dir():
    path = default_run_dir("/apps/my app.py", datetime(2024, 5, 6, 7, 8, 9), 4242, "/work")
    assert path == "/work/hpcflow-runs/my_app-20240506-070809-4242"
    assert RUNS_DIR == sub.RUNS_DIR


def test_imported_modules_leave_out_the_standard_library():
    assert imported_modules(["os.path", "numpy.linalg", "_private", "json", "click"]) == [
        "click", "numpy"]


def test_an_event_reaches_the_file_within_the_flush_interval_without_more_events(tmp_path):
    log = EventLog(str(tmp_path / "events.jsonl")).open()
    try:
        log.emit("submitted", task=1)
        log.emit("submitted", task=2)  # a burst, then silence (a long task runs)
        deadline = time.monotonic() + 5 * FLUSH_EVERY
        while len(read_events(str(tmp_path / "events.jsonl"))) < 2:
            assert time.monotonic() < deadline, "the events were not flushed"
            time.sleep(FLUSH_EVERY / 10)
        assert [e["task"] for e in read_events(str(tmp_path / "events.jsonl"))] == [1, 2]
    finally:
        log.close()
    log.emit("lost")  # after close: nothing, no error
