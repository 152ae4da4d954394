"""``hpcflow run --resume``: after Ctrl-C, SIGKILL of the master, an edited task, a damaged
checkpoint, the walltime signal; executions counted through side-effect files."""

from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

APP = Path(__file__).parent / "apps" / "resumable.py"
N = 6
TOTAL = sum(i * i + 1 for i in range(N))


def _env(**extra: str) -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, **extra}


def _hpcflow(tmp: Path, *args: str, env: dict[str, str] | None = None
             ) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "hpcflow", "run", "--workers", "2", *args]
    return subprocess.Popen(argv, cwd=tmp, env=env or _env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _run(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = _hpcflow(tmp, *args)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _start(tmp: Path) -> tuple[Path, Path]:
    app, marks = tmp / "app.py", tmp / "marks"
    shutil.copy(APP, app)
    marks.mkdir(exist_ok=True)
    return app, marks


def _counts(marks: Path) -> collections.Counter[str]:
    return collections.Counter("-".join(name.split("-")[:2]) for name in os.listdir(marks))


def _finished(run_dir: Path) -> set[int]:
    events = run_dir / "events.jsonl"
    if not events.exists():
        return set()
    done = set()
    for line in events.read_text().splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "finished":
            done.add(event["task"])
    return done


def _interrupt_after(tmp: Path, sig: int, finished: int, env: dict[str, str] | None = None
                     ) -> tuple[Path, Path, float]:
    """Start a run, send ``sig`` to its master once ``finished`` tasks are done."""
    app, marks = _start(tmp)
    run_dir = tmp / "run"
    proc = _hpcflow(tmp, "--run-dir", str(run_dir), str(app), "--", str(marks), str(N), "0.6",
                    env=env)
    try:
        deadline = time.monotonic() + 60
        while len(_finished(run_dir)) < finished and time.monotonic() < deadline:
            time.sleep(0.05)
        sent = time.time()
        proc.send_signal(sig)
        proc.communicate(timeout=60)
    finally:
        proc.kill()
    time.sleep(1.0)  # orphaned task processes of a killed master finish and leave
    return run_dir, marks, sent


def _assert_resumed(tmp: Path, run_dir: Path, marks: Path, before: collections.Counter[str],
                    *app: str) -> collections.Counter[str]:
    """Resume (the recorded app, or ``app``): right results; the executions it added."""
    result = _run(tmp, "--resume", str(run_dir), *app)
    assert result.returncode == 0, result.stderr
    assert f"total {TOTAL} stamped" in result.stdout
    assert (tmp / "total.txt").read_text() == f"{TOTAL}\n"
    after = _counts(marks)
    every = {f"square-{i}" for i in range(N)} | {f"plus-{i}" for i in range(N)} | {"total-0"}
    assert every <= set(after)
    return after - before


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "sigkill"])
def test_resume_reruns_only_the_unfinished_tasks(tmp_path: Path, sig: int) -> None:
    run_dir, marks, _ = _interrupt_after(tmp_path, sig, finished=3)
    before = _counts(marks)
    assert 3 <= sum(before.values()) < 2 * N + 1  # stopped part-way
    finished_names = {n for n, c in before.items() if c == 1} & _names_of(run_dir)
    rerun = _assert_resumed(tmp_path, run_dir, marks, before)
    assert not finished_names & set(rerun), "a task finished before the stop ran again"
    assert all(count == 1 for count in rerun.values())
    assert sum(rerun.values()) < 2 * N + 2  # not everything again (stamp always reruns)


def _names_of(run_dir: Path) -> set[str]:
    """``stage-i`` names of the tasks that finished, from the event log (task ids follow
    the app's call order: squares 1..N, pluses N+1..2N)."""
    names = set()
    for task in _finished(run_dir):
        if task <= N:
            names.add(f"square-{task - 1}")
        elif task <= 2 * N:
            names.add(f"plus-{task - N - 1}")
    return names


def _complete_run(tmp: Path) -> tuple[Path, Path, Path, collections.Counter[str]]:
    """A run to its end: the app, markers, run directory and executions."""
    app, marks = _start(tmp)
    run_dir = tmp / "run"
    first = _run(tmp, "--run-dir", str(run_dir), str(app), "--", str(marks), str(N), "0")
    assert first.returncode == 0, first.stderr
    before = _counts(marks)
    assert sum(before.values()) == 2 * N + 2
    return app, marks, run_dir, before


def test_resume_of_a_finished_run_runs_only_opted_out_tasks(tmp_path: Path) -> None:
    _, marks, run_dir, before = _complete_run(tmp_path)
    (tmp_path / "total.txt").unlink()  # restored from its checkpoint, not recomputed
    rerun = _assert_resumed(tmp_path, run_dir, marks, before)
    assert rerun == collections.Counter({"stamp-0": 1})  # @task(checkpoint=False)


def test_an_edited_task_reruns_with_everything_downstream(tmp_path: Path) -> None:
    app, marks, run_dir, before = _complete_run(tmp_path)
    app.write_text(app.read_text().replace("return x + 1", "return x + 1 + 0 * len('edit')"))
    rerun = _assert_resumed(tmp_path, run_dir, marks, before)
    assert rerun == collections.Counter({**{f"plus-{i}": 1 for i in range(N)},
                                         "total-0": 1, "stamp-0": 1})


def test_a_damaged_checkpoint_is_recomputed(tmp_path: Path) -> None:
    _, marks, run_dir, before = _complete_run(tmp_path)
    objects = sorted((run_dir / "checkpoints" / "objects").rglob("*"))
    total_blob = next(p for p in objects if p.is_file() and p.read_bytes() == f"{TOTAL}\n"
                      .encode())
    total_blob.write_bytes(total_blob.read_bytes()[:2])  # truncated
    rerun = _assert_resumed(tmp_path, run_dir, marks, before)
    assert rerun == collections.Counter({"total-0": 1, "stamp-0": 1})


def test_snapshot_forces_the_periodic_checkpoints_out(tmp_path: Path) -> None:
    app, marks = _start(tmp_path)
    run_dir = tmp_path / "run"
    died = _run(tmp_path, "--run-dir", str(run_dir), "--checkpoint", "periodic",
                "--checkpoint-interval", "3600", str(app), "--", str(marks), str(N), "0",
                "snapshot-then-die")
    assert died.returncode == -signal.SIGKILL
    before = _counts(marks)
    rerun = _assert_resumed(tmp_path, run_dir, marks, before, str(app), "--", str(marks),
                            str(N), "0")  # the same app, without dying this time
    assert not any(name.startswith("square") for name in rerun)


def test_the_walltime_signal_drains_the_run_which_then_resumes(tmp_path: Path) -> None:
    lead = _env(HPCFLOW_WALLTIME_LEAD="1")  # locally: the deadline is the lead from now
    run_dir, marks, sent = _interrupt_after(tmp_path, signal.SIGUSR1, finished=2, env=lead)
    stopped = json.loads((run_dir / "status.json").read_text())
    assert stopped["exit_status"] == 1
    assert stopped["message"] == ("stopped before the walltime; resume with: "
                                  f"hpcflow run --resume {run_dir}")
    before = _counts(marks)
    started_after = [n for n in os.listdir(marks) if int(n.split("-")[-1]) / 1e9 > sent + 0.3]
    assert not started_after, "tasks started after the signal that could not end in time"
    rerun = _assert_resumed(tmp_path, run_dir, marks, before)
    assert all(count == 1 for count in rerun.values())


def test_checkpoint_off_writes_nothing_and_cannot_resume(tmp_path: Path) -> None:
    app, marks = _start(tmp_path)
    run_dir = tmp_path / "run"
    assert _run(tmp_path, "--run-dir", str(run_dir), "--checkpoint", "off", str(app), "--",
                str(marks), "2", "0").returncode == 0
    assert not (run_dir / "checkpoints").exists()
    refused = _run(tmp_path, "--resume", str(run_dir), "--checkpoint", "off")
    assert refused.returncode == 2 and "needs checkpoints" in refused.stderr


def test_large_values_are_restored_from_their_pack(tmp_path: Path) -> None:
    app, marks = tmp_path / "app.py", tmp_path / "marks"
    shutil.copy(APP.parent / "big_values.py", app)
    marks.mkdir()
    run_dir = tmp_path / "run"
    first = _run(tmp_path, "--run-dir", str(run_dir), str(app), "--", str(marks))
    assert first.returncode == 0, first.stderr
    assert len(os.listdir(marks)) == 3
    assert list((run_dir / "checkpoints" / "packs").glob("*.pack"))
    again = _run(tmp_path, "--resume", str(run_dir))
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout and "digest" in first.stdout
    assert len(os.listdir(marks)) == 3  # nothing ran again


def test_many_small_tasks_signed_by_the_writer_process_are_all_restored(
        tmp_path: Path) -> None:
    app, run_dir = tmp_path / "app.py", tmp_path / "run"
    shutil.copy(APP.parent / "many_small.py", app)
    first = _run(tmp_path, "--run-dir", str(run_dir), str(app), "--", "300")
    assert first.returncode == 0, first.stderr
    again = _run(tmp_path, "--resume", str(run_dir))
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout == f"sum {sum(i * i + 1 for i in range(300))}\n"
    assert "600 task(s) restored" in again.stderr  # none of them ran again
