"""Launched tasks on the real testbed: nested srun steps for MPI and whole-node tasks.

Every app runs under ``srun --nodes=4 ... python -m hpcflow run`` (4 nodes of 4 CPUs, one
agent per node), as ``hpcflow submit`` would start it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

APPS = Path(__file__).parent / "apps"
MPICC = Path(sys.executable).parent / "mpicc"


def run_app(testbed, app: str, *args: str, cwd: Path, nodes: int = 4,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``app`` under hpcflow in a fresh 4-node step (6-15 s each on an idle testbed;
    the timeout leaves room for a machine shared with other test runs)."""
    argv = ["srun", f"--nodes={nodes}", f"--ntasks={nodes}", "--ntasks-per-node=1",
            "--cpus-per-task=4", "--mpi=pmi2", "--kill-on-bad-exit=0", "--no-kill",
            sys.executable, "-m", "hpcflow", "run", "--quiet", "--run-dir", str(cwd / "run"),
            str(APPS / app), "--", *args]
    return subprocess.run(argv, env=testbed.env, capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def hello(tmp_path_factory) -> str:
    """The C MPI hello, compiled with the mpich wheel's mpicc."""
    out = tmp_path_factory.mktemp("mpi") / "mpi_hello"
    subprocess.run([str(MPICC), "-O1", "-o", str(out), str(APPS / "mpi_hello.c")], check=True,
                   capture_output=True, timeout=60)
    return str(out)


def hellos(text: str) -> list[dict[str, str]]:
    return [dict(kv.split("=") for kv in line.split()[1:])
            for line in text.splitlines() if line.startswith(("HELLO", "BYE"))]


def test_mpi4py_task_on_2_nodes_has_4_ranks_on_2_hosts(testbed, tmp_path):
    done = run_app(testbed, "launch_mpi4py.py", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    ranks = json.loads(done.stdout.split("RANKS ", 1)[1])
    assert [r["rank"] for r in ranks] == [0, 1, 2, 3]
    assert {r["size"] for r in ranks} == {4} and {r["sum"] for r in ranks} == {6}
    assert len({r["host"] for r in ranks}) == 2
    [row] = records(tmp_path / "run")
    assert len(row["nodes"]) == 2 and row["launch"]["launcher"] == "srun"
    assert "--exact" in row["launch"]["argv"] and "--mpi=pmi2" in row["launch"]["argv"]
    assert Path(row["launch"]["stderr"]).parent == tmp_path / "run" / "steps"


def test_c_mpi_binary_on_2_nodes(testbed, tmp_path, hello):
    done = run_app(testbed, "launch_mpi_binary.py", hello, "1", "0", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = [h for h in hellos(done.stdout) if "size" in h]
    assert sorted(h["rank"] for h in lines) == ["0", "1", "2", "3"]
    assert {h["size"] for h in lines} == {"4"} and len({h["host"] for h in lines}) == 2
    [row] = records(tmp_path / "run")
    assert set(row["nodes"]) == {h["host"] for h in lines}
    assert row["launch"]["stdout"] == str(tmp_path / "out0.txt")


def test_two_2_node_mpi_tasks_run_at_once_on_disjoint_nodes(testbed, tmp_path, hello):
    done = run_app(testbed, "launch_mpi_binary.py", hello, "2", "2.0", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = records(tmp_path / "run")
    assert len(rows) == 2
    first, second = (set(r["nodes"]) for r in rows)
    assert len(first) == 2 and len(second) == 2 and not first & second
    spans = []
    for i in range(2):
        lines = hellos((tmp_path / f"out{i}.txt").read_text())
        assert {h["host"] for h in lines} == set(rows[i]["nodes"])
        starts = [float(h["start"]) for h in lines if "start" in h]
        ends = [float(h["end"]) for h in lines if "end" in h]
        spans.append((min(starts), max(ends)))
    (a0, a1), (b0, b1) = spans
    assert a0 < b1 and b0 < a1, f"the two steps did not overlap in time: {spans}"


def test_failing_binary_is_retried_then_fails_the_app(testbed, tmp_path):
    marker = tmp_path / "attempts.txt"
    done = run_app(testbed, "launch_failing.py", str(marker), cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert sorted(marker.read_text().splitlines()) == ["attempt 0"] * 3 + ["attempt 1"] * 3
    assert "hpcflow: error: task broken #1 failed on node" in done.stderr
    assert "sh exited with code 3; stderr:" in done.stderr and "broken" in done.stderr
    [row] = records(tmp_path / "run")
    assert row["state"] == "failed" and row["attempts"] == 3
    assert row["launch"]["exit_code"] == "3"
    assert json.loads((tmp_path / "run" / "status.json").read_text())["exit_status"] == 1


def _steps_named(testbed, prefix: str) -> list[str]:
    out = subprocess.run(["squeue", "-h", "-s", "-o", "%i|%j"], env=testbed.env,
                         capture_output=True, text=True, timeout=10, check=True).stdout
    return [line for line in out.splitlines() if line.split("|")[-1].startswith(prefix)]


def test_time_out_cancels_the_step_and_its_nodes_return(testbed, tmp_path, hello):
    started = time.monotonic()
    done = run_app(testbed, "launch_timeout.py", hello, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 60
    assert "OVERRUNS None" in done.stdout  # IGNORE: the declared default
    after = [h for h in hellos(done.stdout) if "size" in h]
    assert len({h["host"] for h in after}) == 4  # all 4 nodes were free again
    overrun, second = records(tmp_path / "run")
    assert "exceeded its time_out of 6 s" in overrun["error"]
    assert overrun["launch"]["step"] and second["state"] == "done"
    assert _steps_named(testbed, overrun["launch"]["step"]) == []
    assert not [h for h in hellos(Path(overrun["launch"]["stdout"]).read_text()) if "end" in h]


def test_binary_with_file_in_file_out_and_params_writes_the_files(testbed, tmp_path):
    done = run_app(testbed, "launch_files.py", "8", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for i in range(8):
        lines = (tmp_path / f"head{i}.txt").read_text().splitlines()
        assert lines[:-1] == [f"line {j}" for j in range(i + 1)]
        assert re.fullmatch(r"node[1-4]", lines[-1])
    rows = records(tmp_path / "run")
    assert len({r["node"] for r in rows}) >= 2  # binaries ran on remote agents too
    assert all(r["launch"]["launcher"] == "direct" for r in rows)
    assert not list(tmp_path.glob(".*.part"))


def test_multinode_task_owns_two_nodes_and_can_srun_on_them(testbed, tmp_path):
    done = run_app(testbed, "launch_multinode.py", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.split("MULTINODE ", 1)[1])
    nodes = result["env"]["HPCFLOW_NODES"].split(",")
    assert len(nodes) == 2 and result["me"] == nodes[0]
    assert result["env"]["SLURM_NNODES"] == "2" and result["env"]["SLURM_NODELIST"] == \
        ",".join(nodes)
    assert result["srun_hosts"] == sorted(nodes)
    [row] = records(tmp_path / "run")
    assert row["nodes"] == nodes


@pytest.mark.parametrize("case, message", [
    ("too_many", "task huge: needs 8 nodes of 4 cores (32 processes) but the allocation has "
                 "2 such nodes (2 in all)"),
    ("missing", "binary '/no/such/mpi-app' of task missing not found or not executable"),
    ("placeholder", "placeholder {nothing} in @binary of task echo names no parameter "
                    "(parameters: something)"),
])
def test_bad_input_fails_before_any_step(testbed, tmp_path, case, message):
    done = run_app(testbed, "launch_bad.py", case, cwd=tmp_path, nodes=2)
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("hpcflow: error:")]
    assert len(errors) == 1 and errors[0].startswith(f"hpcflow: error: {message}"), done.stderr
    assert "NOT REACHED" not in done.stdout
    assert records(tmp_path / "run") == []
