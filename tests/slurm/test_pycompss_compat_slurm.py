"""Unmodified PyCOMPSs-style apps on the testbed: ``srun ... hpcflow run --compat pycompss``
(the shim reaches every rank's task processes through PYTHONPATH)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

APPS = Path(__file__).resolve().parents[1] / "behaviour" / "pycompss_apps"


def srun_compat(testbed, app: str, *args: str, cwd: Path,
                run_dir: Path) -> subprocess.CompletedProcess[str]:
    argv = ["srun", "--nodes=2", "--ntasks=2", "--ntasks-per-node=1", "--mpi=pmi2",
            "--kill-on-bad-exit=0", sys.executable, "-m", "hpcflow", "run", "--quiet",
            "--compat", "pycompss", "--run-dir", str(run_dir), str(APPS / f"{app}.py"), "--",
            *args]
    return subprocess.run(argv, env=testbed.env, cwd=cwd, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def result(done: subprocess.CompletedProcess[str]) -> dict:
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    line = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


def nodes_used(run_dir: Path) -> set[str]:
    rows = [json.loads(x) for x in (run_dir / "records.jsonl").read_text().splitlines()]
    return {r["node"] for r in rows if r["state"] == "done"}


@pytest.mark.parametrize("app, args, expected", [
    ("matmul_files", ("3", "8"), {"ok": True}),
    ("matmul_objects", ("3", "8"), {"ok": True, "types": ["ndarray"]}),
])
def test_matmul_on_two_nodes(testbed, tmp_path, app, args, expected):
    done = srun_compat(testbed, app, *args, cwd=tmp_path, run_dir=tmp_path / "run")
    assert result(done) == expected
    assert nodes_used(tmp_path / "run") == {"node1", "node2"}


def test_class_methods_and_groups_on_two_nodes(testbed, tmp_path):
    classes = srun_compat(testbed, "classes_app", cwd=tmp_path, run_dir=tmp_path / "a")
    assert result(classes)["chained_area"] == 9 and result(classes)["classmethod"] == "Square(4)"
    groups = srun_compat(testbed, "groups", cwd=tmp_path, run_dir=tmp_path / "b")
    assert result(groups) == {"caught": "x=5 reached the limit", "fast": True,
                              "barrier": "x=7 reached the limit", "fine": 42}


def test_new_semantics_on_two_nodes(testbed, tmp_path):
    """Several returns, compss_wait_on, collections of files, dictionaries, IN_DELETE,
    COMPSsException without retry, CONCURRENT/COMMUTATIVE, DistroStreams: the same apps
    as locally."""
    waited = srun_compat(testbed, "waiton_app", cwd=tmp_path, run_dir=tmp_path / "a")
    assert result(waited)["several"] == [1, 2, 3] and result(waited)["tuple_kept"][1] is True
    kinds = result(srun_compat(testbed, "data_kinds_app", cwd=tmp_path, run_dir=tmp_path / "b"))
    assert kinds["read"] == ["w:a.txt+x", "w:b.txt+x", "w:c.txt"] and kinds["total"] == 5
    groups = result(srun_compat(testbed, "group_attempts", str(tmp_path), cwd=tmp_path,
                                run_dir=tmp_path / "c"))
    assert groups["compss_attempts"] == 1 and groups["plain_attempts"] == 3
    shared = result(srun_compat(testbed, "share_app", str(tmp_path), cwd=tmp_path,
                                run_dir=tmp_path / "d"))
    assert shared["commutative"] == {"first_last": True, "apart": True,
                                     "acc_matches_order": True}
    assert shared["file"]["after"] == ["A", "B", "start"]
    streams = result(srun_compat(testbed, "stream_app", str(tmp_path), cwd=tmp_path,
                                 run_dir=tmp_path / "e"))
    assert streams["objects"] == [0, 1, 2, 3, 4, 100, 101, 102, 103, 104]
