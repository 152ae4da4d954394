"""The distributed runtime on the real testbed: master on rank 0, agents as MPI ranks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = Path(__file__).parent / "apps"
TESTBED_SITE = ROOT / "site-configs" / "testbed.toml"


def srun_hpcflow(testbed, nodes: int, app: Path, *args: str, run_dir: Path | None = None,
                 mpi: str = "pmi2", timeout: float = 90,
                 transport: str = "tcp") -> subprocess.CompletedProcess[str]:
    argv = ["srun", f"--nodes={nodes}", f"--ntasks={nodes}", "--ntasks-per-node=1",
            f"--mpi={mpi}", "--kill-on-bad-exit=0", "--no-kill", sys.executable, "-m",
            "hpcflow", "run", "--quiet"]
    if run_dir is not None:
        argv += ["--run-dir", str(run_dir)]
    argv += [str(app), "--", *args]
    env = {**testbed.env, "HPCFLOW_TRANSPORT": transport}
    return subprocess.run(argv, env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("transport", ["tcp", "mpi"])
def test_tasks_run_on_every_node_of_the_step(testbed, tmp_path, transport):
    done = srun_hpcflow(testbed, 3, APPS / "where.py", "24", "0.3", run_dir=tmp_path,
                        transport=transport)
    assert done.returncode == 0, done.stderr
    assert "NODES node1,node2,node3" in done.stdout
    assert "SUM 4324 EXPECTED 4324" in done.stdout
    rows = records(tmp_path)
    assert len(rows) == 24 and {r["state"] for r in rows} == {"done"}
    assert {r["node"] for r in rows} == {"node1", "node2", "node3"}
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["exit_status"] == 0 and sorted(status["nodes"]) == ["node1", "node2", "node3"]


def test_matmul_example_across_nodes_matches_numpy(testbed, tmp_path):
    import numpy as np

    out = tmp_path / "C.npy"
    done = srun_hpcflow(testbed, 2, ROOT / "examples" / "matmul.py", "3", "16", "--seed", "5",
                        "--out", str(out), run_dir=tmp_path / "run")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.split("RESULT", 1)[1])
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        from matmul import make_matrices
    finally:
        sys.path.pop(0)
    a, b = make_matrices(3, 16, 5)
    assert np.allclose(np.load(out), a @ b)
    assert np.isclose(result["checksum"], float((a @ b).sum()))
    assert {r["node"] for r in records(tmp_path / "run")} == {"node1", "node2"}


def test_a_task_failure_on_a_remote_node_names_host_and_traceback(testbed, tmp_path):
    done = srun_hpcflow(testbed, 2, APPS / "remote_failure.py", run_dir=tmp_path)
    assert done.returncode == 1
    assert "ArithmeticError: cannot handle" in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("hpcflow: error:")]
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith("hpcflow: error: task explode #") and " on node" in errors[0]
    assert json.loads((tmp_path / "status.json").read_text())["exit_status"] == 1


def _rank_pids(run_dir: Path, rank: int) -> list[int]:
    pids = []
    for pid in Path("/proc").iterdir():
        if not pid.name.isdigit():
            continue
        try:
            cmdline = (pid / "cmdline").read_bytes().split(b"\0")
            environ = (pid / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(run_dir).encode() in cmdline and f"SLURM_PROCID={rank}".encode() in environ:
            pids.append(int(pid.name))
    return pids


def test_killing_an_agent_mid_run_still_completes(testbed, tmp_path):
    argv = ["srun", "--nodes=3", "--ntasks=3", "--ntasks-per-node=1", "--mpi=pmi2",
            "--kill-on-bad-exit=0", "--no-kill", sys.executable, "-m", "hpcflow", "run",
            "--quiet", "--run-dir", str(tmp_path), str(APPS / "where.py"), "--", "30", "1.0"]
    proc = subprocess.Popen(argv, env=testbed.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    victims: list[int] = []
    while not victims and time.monotonic() < deadline:
        time.sleep(0.5)
        victims = _rank_pids(tmp_path, 2) if time.monotonic() > deadline - 27 else []
    assert victims, "agent rank 2 never started"
    time.sleep(1.0)  # let it take tasks
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=90)
    assert "lost" in err, err
    assert "SUM 8555 EXPECTED 8555" in out, err
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["exit_status"] == 0
    assert {r["state"] for r in records(tmp_path)} == {"done"}


def test_mpi_that_does_not_see_the_ranks_is_a_clear_error(testbed, tmp_path):
    done = srun_hpcflow(testbed, 2, APPS / "where.py", mpi="none", timeout=60)
    assert done.returncode != 0
    assert "srun started 2 tasks but MPI sees 1: set srun_mpi in the site config" in done.stderr


def test_plain_run_in_a_batch_script_uses_the_whole_allocation(testbed, tmp_path):
    run_dir = tmp_path / "run"
    command = " ".join([sys.executable, "-m", "hpcflow", "run", "--quiet", "--site",
                        str(TESTBED_SITE), "--run-dir", str(run_dir), str(APPS / "where.py"),
                        "12", "0.2"])
    done = subprocess.run(["sbatch", "--wait", "--nodes=2", f"--output={tmp_path}/out.txt",
                           f"--chdir={tmp_path}", "--wrap", command], env=testbed.env,
                          capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
    output = (tmp_path / "out.txt").read_text()
    assert done.returncode == 0, output
    assert "NODES node1,node2" in output or "NODES node2,node3" in output or "NODES" in output
    nodes = {r["node"] for r in records(run_dir)}
    assert len(nodes) == 2, output
