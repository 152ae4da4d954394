"""``hpcflow submit``/``status``/``cancel``/``logs`` on the real testbed.

The user config (``XDG_CONFIG_HOME``) of each test names the shipped ``testbed`` site as
the default and sets its ``python`` to this interpreter.  Apps run without tasks; most
tests use ``--nodes 1`` so they check submit/status/cancel/logs and not the distributed
runtime, which only test_wait_on_two_nodes_runs_the_app_once relies on.  Jobs a test
leaves running are cancelled at teardown.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import SlurmTestbed

TIMEOUT = 60
HELLO = "import sys\nprint('hello', sys.argv[1:], flush=True)\n"
RAISES = "print('about to fail', flush=True)\nraise ValueError('boom')\n"
SLEEPS = "import time\nprint('sleeping', flush=True)\ntime.sleep(60)\n"
TICKS = "import time\nfor i in range(3):\n    print('tick', i, flush=True)\n    time.sleep(0.3)\n"

Hpcflow = Callable[..., subprocess.CompletedProcess]


@pytest.fixture
def env(testbed: SlurmTestbed, tmp_path: Path) -> dict[str, str]:
    """The testbed's environment with a user config choosing the testbed site."""
    xdg = tmp_path / "xdg"
    (xdg / "hpcflow").mkdir(parents=True)
    (xdg / "hpcflow" / "config.toml").write_text(
        f'default_site = "testbed"\n\n[sites.testbed]\npython = {json.dumps(sys.executable)}\n'
    )
    return {**testbed.env, "XDG_CONFIG_HOME": str(xdg)}


@pytest.fixture
def hpcflow(env: dict[str, str], tmp_path: Path, testbed: SlurmTestbed) -> Iterator[Hpcflow]:
    """Runs ``python -m hpcflow ARGS`` in tmp_path; cancels the jobs it submitted at the end."""
    submitted: list[str] = []

    def run(*args: str, timeout: float = TIMEOUT, **kw: object) -> subprocess.CompletedProcess:
        kw.setdefault("env", env)
        proc = subprocess.run([sys.executable, "-m", "hpcflow", *args], cwd=tmp_path,
                              capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, **kw)  # type: ignore[call-overload]
        submitted.extend(re.findall(r"^submitted job (\d+)$", proc.stdout + proc.stderr, re.M))
        return proc

    yield run
    for job_id in submitted:
        subprocess.run(["scancel", job_id], env=testbed.env, timeout=10, check=False,
                       capture_output=True)


def app(tmp_path: Path, text: str, name: str = "app.py") -> str:
    (tmp_path / name).write_text(text)
    return name


def job_names(testbed: SlurmTestbed) -> set[str]:
    """Names of every job Slurm remembers (running or ended within MinJobAge)."""
    out = testbed.run(["squeue", "--states=all", "-h", "-o", "%j"], timeout=10).stdout
    return set(out.split())


def submitted_job(proc: subprocess.CompletedProcess) -> tuple[str, Path]:
    match = re.fullmatch(r"submitted job (\d+)\nrun directory (/.+)\n", proc.stdout)
    assert match, (proc.stdout, proc.stderr)
    return match.group(1), Path(match.group(2))


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.2)


def test_dry_run_prints_a_valid_script_and_submits_nothing(
    hpcflow: Hpcflow, tmp_path: Path, testbed: SlurmTestbed
) -> None:
    name = f"hpcflow-dry-{uuid.uuid4().hex[:8]}"
    proc = hpcflow("submit", app(tmp_path, HELLO), "--nodes", "2", "--job-name", name,
                   "--dry-run", "--", "a", "b c")
    assert proc.returncode == 0, proc.stderr
    script = proc.stdout
    assert script.startswith("#!/bin/bash\n")
    for expected in ("#SBATCH --partition=debug", "#SBATCH --nodes=2", "--mpi=pmi2",
                     f"{sys.executable} -m hpcflow run --resume {tmp_path}/hpcflow-runs/{name}-",
                     f"{tmp_path}/app.py -- a 'b c'"):
        assert expected in script
    subprocess.run(["bash", "-n"], input=script, text=True, check=True, timeout=10)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.py", "xdg"]
    assert name not in job_names(testbed)


BAD_INPUT = {
    "nodes-0": (["app.py", "--nodes", "0"], "--nodes must be at least 1, got 0"),
    "nodes-5": (["app.py", "--nodes", "5"], "--nodes 5 but partition 'debug' has only 4 nodes"),
    "unknown-site": (["app.py", "-N", "1", "--site", "nope"], "unknown site 'nope'; available: "),
    "bad-toml": (["app.py", "-N", "1", "--site-config", "bad.toml"], "invalid TOML in "),
    "missing-app": (["missing.py", "-N", "1"], "app file "),
    "syntax-error": (["syntax.py", "-N", "1"], "syntax error in "),
    "time-over-max": (["app.py", "-N", "1", "--time", "03:00:00"],
                      "exceeds the maximum 02:00:00 of site 'testbed'"),
    "bad-elastic": (["app.py", "-N", "2", "--elastic", "3:4"], "bad --elastic 3:4"),
    "bad-partition": (["app.py", "-N", "1", "--partition", "nope"],
                      "partition 'nope' has no nodes"),
    "no-slurm": (["app.py", "-N", "1"], "sinfo not found on PATH"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_is_one_line_and_submits_nothing(
    hpcflow: Hpcflow, tmp_path: Path, testbed: SlurmTestbed, env: dict[str, str], case: str
) -> None:
    args, message = BAD_INPUT[case]
    name = f"hpcflow-bad-{uuid.uuid4().hex[:8]}"
    app(tmp_path, HELLO)
    app(tmp_path, "def f(:\n", "syntax.py")
    (tmp_path / "bad.toml").write_text("x = \n")
    if case == "no-slurm":
        env = {**env, "PATH": str(tmp_path / "empty")}
    proc = hpcflow("submit", *args, "--job-name", name, env=env)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stdout == ""
    assert proc.stderr.startswith("hpcflow: error: ") and proc.stderr.count("\n") == 1
    assert message in proc.stderr
    assert not (tmp_path / "hpcflow-runs").exists()
    assert name not in job_names(testbed)


def test_submit_prints_job_id_and_run_dir(hpcflow: Hpcflow, tmp_path: Path) -> None:
    proc = hpcflow("submit", app(tmp_path, HELLO), "--nodes", "2", "--cpus-per-node", "1",
                   "--", "x")
    assert proc.returncode == 0, proc.stderr
    job_id, run_dir = submitted_job(proc)
    assert run_dir.parent == tmp_path / "hpcflow-runs"
    assert run_dir.name.startswith("hpcflow-app-")
    assert oct(run_dir.stat().st_mode & 0o777) == "0o700"
    record = json.loads((run_dir / "job.json").read_text())
    assert (record["job_id"], record["nodes"], record["args"]) == (job_id, 2, ["x"])
    assert (record["site"], record["app"]) == ("testbed", str(tmp_path / "app.py"))
    assert "#SBATCH --nodes=2" in (run_dir / "job.sbatch").read_text()
    status = hpcflow("status", job_id)
    assert status.returncode == 0 and f"run dir    {run_dir}\n" in status.stdout


def test_wait_streams_the_output_and_exits_0(hpcflow: Hpcflow, tmp_path: Path) -> None:
    proc = hpcflow("submit", app(tmp_path, HELLO), "--nodes", "1", "--cpus-per-node", "1",
                   "--wait", "--", "a", "b c")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "hello ['a', 'b c']\n", proc.stderr
    assert re.search(r"^submitted job \d+\nrun directory /", proc.stderr, re.M)


def test_wait_on_two_nodes_runs_the_app_once(hpcflow: Hpcflow, tmp_path: Path) -> None:
    """Needs the distributed runtime: rank 0 runs the app, the other rank serves tasks."""
    proc = hpcflow("submit", app(tmp_path, HELLO), "--nodes", "2", "--cpus-per-node", "1",
                   "--wait", "--", "two")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "hello ['two']\n", proc.stderr
    match = re.search(r"^run directory (/.+)$", proc.stderr, re.M)
    assert match, proc.stderr
    run_dir = Path(match.group(1))
    status = json.loads((run_dir / "status.json").read_text())
    assert status["exit_status"] == 0 and len(status["nodes"]) == 2, status


def test_failing_app_exits_nonzero_with_a_readable_log(hpcflow: Hpcflow, tmp_path: Path) -> None:
    proc = hpcflow("submit", app(tmp_path, RAISES), "--nodes", "1", "--cpus-per-node", "1",
                   "--wait")
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert proc.stdout == "about to fail\n"
    assert "ValueError: boom" in proc.stderr
    job_id = re.search(r"submitted job (\d+)", proc.stderr).group(1)  # type: ignore[union-attr]
    assert f"hpcflow: job {job_id} FAILED, exit status 1; run directory " in proc.stderr
    logs = hpcflow("logs", job_id)
    assert logs.returncode == 0
    assert logs.stdout == "about to fail\n"
    assert 'raise ValueError(\'boom\')' in logs.stderr and "ValueError: boom" in logs.stderr
    status = hpcflow("status", job_id)
    assert "state      FAILED\n" in status.stdout and "exit code  1\n" in status.stdout


def test_cancel_stops_a_running_job(hpcflow: Hpcflow, tmp_path: Path) -> None:
    proc = hpcflow("submit", app(tmp_path, SLEEPS), "--nodes", "1", "--cpus-per-node", "1")
    job_id, _ = submitted_job(proc)
    wait_until(lambda: hpcflow("logs", job_id).stdout == "sleeping\n")
    listed = hpcflow("status").stdout
    assert re.search(rf"^{job_id}  hpcflow-app  RUNNING  1 \(node\d\)$", listed, re.M), listed
    cancel = hpcflow("cancel", job_id)
    assert (cancel.returncode, cancel.stdout) == (0, f"cancelled job {job_id} (was RUNNING)\n")
    wait_until(lambda: "state      CANCELLED\n" in hpcflow("status", job_id).stdout, 10)
    again = hpcflow("cancel", job_id)
    assert again.stdout == f"job {job_id} had already ended (CANCELLED): nothing to cancel\n"


def test_wait_on_a_cancelled_job_names_the_state(
    hpcflow: Hpcflow, tmp_path: Path, env: dict[str, str]
) -> None:
    argv = [sys.executable, "-m", "hpcflow", "submit", app(tmp_path, SLEEPS), "--nodes", "1",
            "--cpus-per-node", "1", "--wait"]
    waiter = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    job_id = ""
    try:
        first = waiter.stderr.readline()  # type: ignore[union-attr]
        job_id = re.fullmatch(r"submitted job (\d+)\n", first).group(1)  # type: ignore[union-attr]
        wait_until(lambda: hpcflow("logs", job_id).stdout == "sleeping\n")
        assert hpcflow("cancel", job_id).returncode == 0
        out, err = waiter.communicate(timeout=TIMEOUT)
    finally:
        waiter.kill()
        if job_id:
            hpcflow("cancel", job_id)
    assert waiter.returncode == 1
    assert out == "sleeping\n"
    assert f"hpcflow: error: job {job_id} ended CANCELLED" in err


def test_logs_follow_until_the_job_ends(hpcflow: Hpcflow, tmp_path: Path) -> None:
    proc = hpcflow("submit", app(tmp_path, TICKS), "--nodes", "1", "--cpus-per-node", "1")
    job_id, _ = submitted_job(proc)
    follow = hpcflow("logs", job_id, "-f")
    status = hpcflow("status", job_id).stdout
    assert follow.returncode == 0, (follow.stderr, status)
    assert follow.stdout == "tick 0\ntick 1\ntick 2\n", (follow.stderr, status)
    assert "state      COMPLETED\n" in status, (follow.stderr, status)


def test_submit_example_on_three_nodes_is_correct_and_uses_every_node(
        hpcflow: Hpcflow, tmp_path: Path) -> None:
    """The issue's spine: submit an example with --nodes 3 --wait; check numbers and records."""
    import numpy as np

    examples = Path(__file__).resolve().parents[2] / "examples"
    out = tmp_path / "C.npy"
    proc = hpcflow("submit", str(examples / "matmul.py"), "--nodes", "3", "--wait", "--",
                   "4", "32", "--seed", "3", "--out", str(out), timeout=120)
    assert proc.returncode == 0, proc.stderr
    sys.path.insert(0, str(examples))
    try:
        from matmul import make_matrices
    finally:
        sys.path.pop(0)
    a, b = make_matrices(4, 32, 3)
    assert np.allclose(np.load(out), a @ b)
    run_dir = Path(re.search(r"^run directory (/.+)$", proc.stderr, re.M).group(1))  # type: ignore[union-attr]
    rows = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    assert len(rows) == 64 and {r["state"] for r in rows} == {"done"}
    assert len({r["node"] for r in rows}) == 3, {r["node"] for r in rows}
