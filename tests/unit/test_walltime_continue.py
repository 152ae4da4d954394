"""Walltime handling and continuation jobs: the pure parts, and the batch shell that
forwards SIGUSR1 (run for real under bash)."""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fake_slurm import FakeRunner, Result
from test_submit_unit import make_ctx, scontrol_line

from hpcflow.config.site import BUILTIN_DEFAULTS, resolve_site
from hpcflow.errors import UsageError
from hpcflow.runtime import chain
from hpcflow.runtime.continuation import job_run_flags, walltime_lead
from hpcflow.runtime.submit import SubmitRequest, submit_app
from hpcflow.runtime.walltime import (
    MARGIN,
    Drain,
    Walltime,
    WalltimeSettings,
    deadline_for,
    default_lead,
)
from hpcflow.slurm.client import SlurmClient
from hpcflow.slurm.parse import parse_end_time
from hpcflow.slurm.script import SbatchSpec, launch_lines, render_sbatch
from hpcflow.slurm.srun import sbatch_argv


def test_deadline_is_the_job_end_less_a_margin_else_the_lead() -> None:
    assert deadline_for(1000.0, 60, 1100.0) == 1100.0 - MARGIN  # early signal: real end
    assert deadline_for(1000.0, 60, None) == 1060.0 - MARGIN
    assert deadline_for(1000.0, 60, 900.0) == 1060.0 - MARGIN  # a stale end time
    assert deadline_for(1000.0, 4, None) == 1002.0  # a short lead keeps half for tasks


@pytest.mark.parametrize(("walltime", "requested", "lead"), [
    ("01:00:00", None, 60), ("00:01:00", None, 15), ("00:00:02", None, 1),
    ("00:10:00", 120, 120)])
def test_walltime_lead_defaults_and_bounds(walltime: str, requested: int | None,
                                           lead: int) -> None:
    assert walltime_lead(walltime, requested) == lead
    assert default_lead(3600) == 60


def test_a_lead_not_shorter_than_the_walltime_is_refused() -> None:
    with pytest.raises(UsageError, match="shorter than the time limit"):
        walltime_lead("00:01:00", 60)


@pytest.mark.parametrize(("options", "flags"), [
    ({}, ["--resume", "/r"]),
    ({"checkpoint": "periodic"}, ["--resume", "/r", "--checkpoint", "periodic"]),
    ({"continue_run": True, "max_continuations": 3},
     ["--resume", "/r", "--continue", "--max-continuations", "3"]),
    ({"checkpoint": "off"}, ["--run-dir", "/r", "--checkpoint", "off"])])
def test_job_run_flags(options: dict[str, object], flags: list[str]) -> None:
    request = SubmitRequest("a.py", 1, **options)  # type: ignore[arg-type]
    assert job_run_flags(request, Path("/r")) == flags


def test_the_site_sets_the_policy_unless_the_command_line_does() -> None:
    site = resolve_site(BUILTIN_DEFAULTS, {"checkpoint": "periodic", "walltime_lead": 90},
                        None, {})
    assert job_run_flags(SubmitRequest("a.py", 1), Path("/r"), site)[2:] == \
        ["--checkpoint", "periodic"]
    assert job_run_flags(SubmitRequest("a.py", 1, checkpoint="every"), Path("/r"), site) == \
        ["--resume", "/r"]
    assert site.walltime_lead == 90


def test_continue_without_checkpoints_is_refused() -> None:
    with pytest.raises(UsageError, match="--continue needs checkpoints"):
        job_run_flags(SubmitRequest("a.py", 1, checkpoint="off", continue_run=True), Path("/r"))


def test_squeue_end_time_and_sbatch_dependency() -> None:
    assert parse_end_time("2026-11-30T00:25:55\n") == \
        time.mktime((2026, 11, 30, 0, 25, 55, 0, 0, -1))
    assert parse_end_time("Unknown\n") is None and parse_end_time("") is None
    assert sbatch_argv("/r/job.sbatch", dependency="afterany:12") == \
        ["sbatch", "--parsable", "--dependency=afterany:12", "/r/job.sbatch"]


def test_the_script_asks_for_the_signal_and_refuses_a_second_one() -> None:
    spec = SbatchSpec(job_name="j", nodes=1, time="00:01:00", launch=["srun", "x"],
                      signal_lead=15)
    script = render_sbatch(spec)
    assert "#SBATCH --signal=B:USR1@15\n" in script and "srun x &\n" in script
    assert "--signal" not in render_sbatch(SbatchSpec(job_name="j", nodes=1, time="1",
                                                      launch=["srun", "x"]))
    with pytest.raises(UsageError, match="'signal' cannot go in the extra options"):
        render_sbatch(SbatchSpec(job_name="j", nodes=1, time="1", launch=["x"],
                                 signal_lead=5, extra={"signal": "USR2@9"}))


CHILD = """
import signal, sys, time
def got(signum, frame):
    open(sys.argv[1], "a").write("usr1\\n")
    sys.exit(7)
signal.signal(signal.SIGUSR1, got)
open(sys.argv[1], "a").write("ready\\n")
time.sleep(30)
"""


def test_the_batch_shell_forwards_usr1_and_exits_with_the_step_status(tmp_path: Path) -> None:
    log = tmp_path / "log"
    child = tmp_path / "child.py"
    child.write_text(CHILD)
    script = tmp_path / "job.sh"
    script.write_text("\n".join(["set -e", *launch_lines([sys.executable, str(child),
                                                          str(log)], True)]) + "\n")
    shell = subprocess.Popen(["bash", str(script)])
    try:
        for _ in range(200):
            if log.exists() and "ready" in log.read_text():
                break
            time.sleep(0.05)
        shell.send_signal(signal.SIGUSR1)  # what Slurm does with --signal=B:USR1@lead
        assert shell.wait(timeout=20) == 7
    finally:
        shell.kill()
    assert log.read_text() == "ready\nusr1\n"
    assert launch_lines(["a", "b c"], False) == [shlex.join(["a", "b c"])]


def test_the_chain_of_jobs_in_job_json(tmp_path: Path) -> None:
    (tmp_path / chain.JOB_FILE).write_text(json.dumps({"job_id": "5", "app": "/a.py"}))
    assert chain.job_chain(chain.read_job(tmp_path)) == ["5"] and chain.chain_lines(tmp_path) == []
    chain.add_job(tmp_path, "6", continuation=True)
    chain.add_job(tmp_path, "7", continuation=True)
    assert chain.next_job(tmp_path, "5") == "6" and chain.next_job(tmp_path, "7") is None
    assert chain.chain_lines(tmp_path) == [
        "jobs       5 -> 6 -> 7 (2 continuation(s); the last one carries on)"]
    chain.drop_job(tmp_path, "7")
    doc = chain.read_job(tmp_path)
    assert doc["chain"] == ["5", "6"] and doc["continuations"] == 1 and doc["app"] == "/a.py"


def _resubmit_ctx(tmp_path: Path, state: str) -> tuple[object, FakeRunner, Path]:
    run_dir = tmp_path / "project" / "hpcflow-runs" / "r1"
    run_dir.mkdir(parents=True)
    (run_dir / chain.JOB_FILE).write_text(json.dumps({"job_id": "41", "app": "/a.py"}))
    (run_dir / chain.SCRIPT_FILE).write_text("#!/bin/bash\n")
    runner = FakeRunner({"scontrol": Result(0, scontrol_line("41", state)),
                         "sbatch": Result(0, "57\n")})
    return make_ctx(tmp_path, runner), runner, run_dir


def test_submit_resume_sends_the_run_script_again_once_its_job_ended(tmp_path: Path) -> None:
    ctx, runner, run_dir = _resubmit_ctx(tmp_path, "CANCELLED")
    assert submit_app(SubmitRequest(None, None, resume=str(run_dir)), ctx) == 0  # type: ignore[arg-type]
    assert runner.calls[-1] == ["sbatch", "--parsable", str(run_dir / chain.SCRIPT_FILE)]
    assert chain.job_chain(chain.read_job(run_dir)) == ["41", "57"]
    assert "submitted job 57" in ctx.out.getvalue()  # type: ignore[attr-defined]


def test_submit_resume_dry_run_prints_the_script_and_submits_nothing(tmp_path: Path) -> None:
    ctx, runner, run_dir = _resubmit_ctx(tmp_path, "RUNNING")
    request = SubmitRequest(None, None, resume=str(run_dir), dry_run=True)  # type: ignore[arg-type]
    assert submit_app(request, ctx) == 0
    assert ctx.out.getvalue() == "#!/bin/bash\n" and not runner.calls  # type: ignore[attr-defined]


def test_submit_resume_refuses_while_a_job_of_the_run_is_alive(tmp_path: Path) -> None:
    ctx, runner, run_dir = _resubmit_ctx(tmp_path, "RUNNING")
    with pytest.raises(UsageError, match="job 41 of this run is still RUNNING"):
        submit_app(SubmitRequest(None, None, resume=str(run_dir)), ctx)  # type: ignore[arg-type]
    assert not runner.ran("sbatch")
    with pytest.raises(UsageError, match="give APP and --nodes"):
        submit_app(SubmitRequest("a.py", None), ctx)  # type: ignore[arg-type]


class _Master:
    """What the walltime handling uses of the master."""

    def __init__(self, running: int) -> None:
        self.running = running
        self.checkpoints = None
        self.stats: dict[str, object] = {}
        self.aborted: list[str] = []
        self.draining: object = None
        self.events = type("Events", (), {"emit": lambda *a, **k: None})()

    def counts(self) -> dict[str, int]:
        return {"running": self.running}

    def abort(self, reason: str) -> None:
        self.aborted.append(reason)


def _walltime(tmp_path: Path, lead: int = 1, limit: int = 3
              ) -> tuple[Walltime, _Master, FakeRunner]:
    (tmp_path / chain.JOB_FILE).write_text(json.dumps({"job_id": "41"}))
    (tmp_path / chain.SCRIPT_FILE).write_text("#!/bin/bash\n")
    runner = FakeRunner({"sbatch": Result(0, "42\n"), "scancel": Result(0, ""),
                         "squeue": Result(0, "Unknown\n")})
    master = _Master(running=0)
    settings = WalltimeSettings(True, limit, str(tmp_path))
    env = {"SLURM_JOB_ID": "41", "HPCFLOW_WALLTIME_LEAD": str(lead)}
    return Walltime(master, settings, env, SlurmClient(runner)), master, runner


def test_on_the_signal_a_continuation_is_submitted_and_the_idle_app_stopped(
        tmp_path: Path) -> None:
    walltime, master, runner = _walltime(tmp_path)
    walltime.trigger()
    walltime.trigger()  # a second signal changes nothing
    for _ in range(100):
        if master.aborted:
            break
        time.sleep(0.05)
    assert ["sbatch", "--parsable", "--dependency=afterany:41",
            str(tmp_path / chain.SCRIPT_FILE)] in runner.calls
    assert master.aborted and "walltime" in master.aborted[0]
    assert master.draining is walltime.drain and walltime.next_job == "42"
    walltime.close()  # the app was stopped: the continuation carries on
    assert master.handover == "42"  # the job's part ends without an error
    assert not runner.ran("scancel") and chain.job_chain(chain.read_job(tmp_path)) == ["41", "42"]


def test_a_run_that_ends_by_itself_cancels_its_continuation(tmp_path: Path) -> None:
    walltime, master, runner = _walltime(tmp_path, lead=60)
    master.running = 1  # busy: the drain waits
    walltime.trigger()
    for _ in range(100):
        if walltime.next_job:
            break
        time.sleep(0.05)
    walltime.close()
    assert ["scancel", "42"] in runner.calls and not master.aborted
    assert chain.job_chain(chain.read_job(tmp_path)) == ["41"]


def test_no_continuation_past_the_limit(tmp_path: Path) -> None:
    walltime, _, runner = _walltime(tmp_path, limit=0)
    walltime.trigger()
    time.sleep(0.5)
    walltime.close()
    assert not runner.ran("sbatch")


def test_the_drain_is_in_place_when_the_signal_returns_before_squeue_answers(
        tmp_path: Path) -> None:
    walltime, master, _ = _walltime(tmp_path, lead=30)
    master.running = 1
    slow = threading.Event()
    answer = walltime.client.runner  # type: ignore[union-attr]

    def squeue_waits(argv: list[str], timeout: float) -> Result:
        if argv[0] == "squeue":
            slow.wait(5)
        return answer(argv, timeout)

    walltime.client = SlurmClient(squeue_waits)
    walltime.trigger()
    try:
        assert master.draining is walltime.drain is not None  # no thread had to run first
        assert walltime.drain.deadline <= time.time() + 30 - MARGIN + 0.1
    finally:
        slow.set()
        walltime.close()


class _Stats:
    def __init__(self, mean: float) -> None:
        self.mean, self.count = mean, 1


def _drain_master(mean: float) -> object:
    spec = type("Spec", (), {"name": "f"})()
    record = type("Rec", (), {"definition": type("Def", (), {"spec": spec})()})()
    return type("M", (), {"records": {1: record}, "checkpoints": None,
                          "stats": {"f": _Stats(mean)}})()


def test_a_task_whose_mean_only_just_fits_does_not_start() -> None:
    now = time.time()
    assert not Drain(_drain_master(5.0), now + 5.2).may_start(1)  # would end at the kill
    assert Drain(_drain_master(5.0), now + 8.0).may_start(1)
    assert not Drain(_drain_master(0.0), now + 0.5).may_start(1)
