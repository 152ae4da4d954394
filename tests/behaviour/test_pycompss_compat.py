"""Unmodified PyCOMPSs-style apps (only ``pycompss.*`` imports) under
``hpcflow run --compat pycompss``, checked against numpy / sequential runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

APPS = Path(__file__).parent / "pycompss_apps"
SHIM = Path(__file__).resolve().parents[2] / "compat" / "pycompss"


def run_app(name: str, *args: object, cwd: Path, compat: bool = True,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "hpcflow", "run", "--quiet", "--workers", "2", "--cpus", "2",
            *(["--compat", "pycompss"] if compat else []), str(APPS / f"{name}.py"), "--",
            *map(str, args)]
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)


def sequential(name: str, *args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The same app with plain python and no runtime (tasks run in place)."""
    paths = [str(SHIM), str(APPS), str(SHIM.parents[1]), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    return subprocess.run([sys.executable, str(APPS / f"{name}.py"), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=120, env=env)


def result(proc: subprocess.CompletedProcess[str]) -> dict:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    assert lines, proc.stdout + proc.stderr
    return json.loads(lines[-1][len("RESULT "):])


def private_leftovers(directory: Path) -> list[str]:
    return [str(p) for p in directory.rglob("*") if ".hpcflow-" in p.name]


def test_without_compat_pycompss_is_not_importable(tmp_path):
    done = run_app("wordcount", tmp_path, cwd=tmp_path, compat=False)
    assert done.returncode == 1 and "No module named 'pycompss'" in done.stderr


def test_matmul_objects(tmp_path):
    assert result(run_app("matmul_objects", 3, 8, cwd=tmp_path)) == \
        {"ok": True, "types": ["ndarray"]}


def test_matmul_files_relative_paths(tmp_path):
    assert result(run_app("matmul_files", 2, 6, cwd=tmp_path)) == {"ok": True}
    assert len(os.listdir(tmp_path / "blocks")) == 12
    assert private_leftovers(tmp_path) == []


def test_wordcount(tmp_path):
    texts = tmp_path / "texts"
    texts.mkdir()
    expected: Counter[str] = Counter()
    for i in range(5):
        words = " ".join(f"w{(i * j) % 7}" for j in range(40))
        (texts / f"part{i}.txt").write_text(words)
        expected.update(words.split())
    assert result(run_app("wordcount", "texts", cwd=tmp_path)) == dict(expected)


def test_kmeans_matches_the_sequential_run(tmp_path):
    args = (4, 200, 2, 3, 10)
    parallel = result(run_app("kmeans", *args, cwd=tmp_path))
    assert parallel == result(sequential("kmeans", *args, cwd=tmp_path))
    assert len(parallel["centres"]) == 3


def test_task_groups_with_compss_exception(tmp_path):
    assert result(run_app("groups", cwd=tmp_path)) == {
        "caught": "x=5 reached the limit", "fast": True,
        "barrier": "x=7 reached the limit", "fine": 42}


def test_collections(tmp_path):
    assert result(run_app("collections_app", cwd=tmp_path)) == {
        "total": 30, "filled": [[0, 0], [1, 1], [2, 2]],
        "depth": [[1, [9], 2], [2, [8], 2]],
        "nested": [[{"n": 2}, {"n": 12}], [{"n": 22}]],
        "dict": {"a": [1], "b": [2]}, "in_copy": [2, {"x": 1}]}


def test_class_method_tasks(tmp_path):
    assert result(run_app("classes_app", cwd=tmp_path)) == {
        "area": 36, "shape": [6, [2, 3]], "square": [3, [-1], 9],
        "classmethod": "Square(4)", "account": ["Account", 15], "chained_area": 9}


def test_returns_forms(tmp_path):
    assert result(run_app("returns_app", cwd=tmp_path)) == {
        "inferred": [3, 30, 2], "is_future": True, "value_of": [0, 1, 2],
        "call_time": [1, 10], "three": [1, 2, 3], "nested": 300, "lambda": 49,
        "matrix": ["matrix", [[2, 4], [6, 8]]], "untouched": True}


def test_files(tmp_path):
    assert result(run_app("files_app", cwd=tmp_path)) == {
        "same_names": ["one", "two"], "old_then_new": ["one", "one+more"],
        "pending_exists": True, "late": "late", "after_open": "one+more+local",
        "task_basename": "named.txt", "deleted": True}
    assert (tmp_path / "never_synced.txt").read_text() == "in place"
    assert private_leftovers(tmp_path) == []


def test_constraints_implement_failures_reduction(tmp_path):
    done = run_app("policies_app", cwd=tmp_path,
                   env={"HPCFLOW_TEST_CUS": "2", "HPCFLOW_TEST_HUGE": "64"})
    assert result(done) == {
        "heavy": ["heavy", 1], "implement": ["one", 2], "ignored": 0,
        "timed_out": [None, True], "reduction": 45, "timeit": [5, True], "resources": 1}


@pytest.mark.parametrize("name, args", [("classes_app", ()), ("returns_app", ()),
                                        ("collections_app", ())])
def test_same_apps_run_sequentially_with_plain_python(tmp_path, name, args):
    alone, parallel = result(sequential(name, *args, cwd=tmp_path)), \
        result(run_app(name, *args, cwd=tmp_path))
    assert alone.pop("is_future", False) is False  # no runtime: plain values, no futures
    parallel.pop("is_future", None)
    alone.pop("in_copy", None), parallel.pop("in_copy", None)  # in place: the task *is* a call
    assert alone == parallel


def test_binary_tasks_with_streams_and_exit_value(tmp_path):
    assert result(run_app("binary_app", cwd=tmp_path)) == {"text": "HELLO WORLD", "code": 3}
    assert (tmp_path / "hello.txt").read_text() == "hello world\n"
