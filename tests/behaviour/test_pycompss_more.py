"""The PyCOMPSs semantics added after the first compat layer: each one an unmodified
pycompss-only app under ``hpcflow run --compat pycompss``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_pycompss_compat import APPS, private_leftovers, result, run_app

BIN = Path(__file__).resolve().parents[2] / "compat" / "bin"


def test_wait_on_tuples_and_several_returns(tmp_path):
    assert result(run_app("waiton_app", cwd=tmp_path)) == {
        "several_type": "list", "several": [1, 2, 3], "tuple_kept": ["tuple", True],
        "tuple_values": [1, 2], "dict": [["k", [5, {"deep": 6}]]], "two_args": [7, 8],
        "subclass_kept": True, "unpacked": [10, 11, 12]}


def test_compss_exception_is_not_retried_and_kills_its_group(tmp_path):
    assert result(run_app("group_attempts", tmp_path, cwd=tmp_path)) == {
        "caught": "stop the group", "compss_attempts": 1, "sleeper_killed": True,
        "plain": "TaskFailed", "plain_attempts": 3}


def test_collections_of_files_dictionaries_and_in_delete(tmp_path):
    assert result(run_app("data_kinds_app", cwd=tmp_path)) == {
        "read": ["w:a.txt+x", "w:b.txt+x", "w:c.txt"], "c": "w:c.txt", "total": 5,
        "table": {"a": [1, 10, 20], "b": [2, 10]},
        "replaced": {"x": ["replaced", "x"], "y": ["replaced", "y"]},
        "consumed": 6, "released": True}
    assert private_leftovers(tmp_path) == []


def test_distro_streams_producers_and_consumers_run_together(tmp_path):
    assert result(run_app("stream_app", tmp_path, cwd=tmp_path)) == {
        "objects": [0, 1, 2, 3, 4, 100, 101, 102, 103, 104], "files": ["0", "1", "4", "9"]}


def test_concurrent_and_commutative_differ_from_inout(tmp_path):
    out = result(run_app("share_app", tmp_path, cwd=tmp_path))
    # COMMUTATIVE: never two at once, but not in submission order; each member saw the
    # value the previous one left.
    assert out["commutative"] == {"first_last": True, "apart": True, "acc_matches_order": True}
    # INOUT: submission order, whatever becomes ready first.
    assert out["inout"] == {"order": ["first", "second", "third"],
                            "acc": ["first", "second", "third"], "apart": True}
    # CONCURRENT: both writers ran at the same time (each waited for the other's line).
    assert out["file"] == {"before": ["start"], "after": ["A", "B", "start"],
                           "final": ["A", "B", "start"]}
    assert out["object"] == ["C", "D"]


def test_on_failure_ignore_copies_file_defaults_into_place(tmp_path):
    assert result(run_app("failure_files_app", cwd=tmp_path)) == {
        "returns": [1, 0], "read": ["result 5", "default result"], "final": "default result"}
    assert (tmp_path / "bad.txt").read_text() == "default result"
    assert private_leftovers(tmp_path) == []


@pytest.mark.parametrize("mode, limit", [("wait", "2"), ("compute", "2"), ("set", None),
                                         ("leave", "2")])
def test_wall_clock_limit_cancels_outstanding_tasks(tmp_path, mode, limit):
    argv = [sys.executable, "-m", "hpcflow", "run", "--quiet", "--workers", "2",
            "--compat", "pycompss",
            *(["--wall-clock-limit", limit] if limit else []), str(APPS / "wallclock_app.py"),
            "--", mode]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 124, done.stderr
    assert "QUICK DONE" in done.stdout
    # "leave": the app ended without waiting; its tasks are stopped at the limit
    assert ("NOT REACHED" in done.stdout) is (mode == "leave")
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("hpcflow: error: wall clock limit of ") and "cancelled" in last
    assert "Traceback" not in done.stderr
    assert (tmp_path / "quick.txt").read_text() == "done"  # finished outputs are kept
    assert not (tmp_path / "slow1.txt").exists()
    assert private_leftovers(tmp_path) == []


def test_runcompss_maps_wall_clock_limit(tmp_path):
    done = subprocess.run([str(BIN / "runcompss"), "--wall_clock_limit=2",
                           str(APPS / "wallclock_app.py"), "wait"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 124 and "wall clock limit of 2 s reached" in done.stderr


def run_with_site(app: str, cwd: Path, *site: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "hpcflow", "run", "--quiet", "--workers", "2", "--cpus", "2",
            "--compat", "pycompss", *site, str(APPS / f"{app}.py")]
    env = {k: v for k, v in os.environ.items() if k != "HPCFLOW_SOFTWARE"}
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120, env=env,
                          stdin=subprocess.DEVNULL)


def test_constraints_from_parameters_and_app_software(tmp_path):
    out = result(run_with_site("constraint_exprs_app", tmp_path, "--site", "testbed"))
    assert out["threads"] == [1, 2] and out["scaled"] == [1, 2]
    assert "computing_units=64" in out["too_many"] and "no node offers it" in out["too_many"]
    assert out["tools"] == "ran"  # the testbed site declares coreutils and python3
    assert out["gnuplot"].startswith("task plot needs software gnuplot, which no node has")
    bare = result(run_with_site("constraint_exprs_app", tmp_path))  # no site: no software
    assert "needs software coreutils, python3" in bare["tools"]
