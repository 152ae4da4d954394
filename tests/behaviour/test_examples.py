"""The examples in examples/, run as real ``hpcflow run`` subprocesses (and matmul also
under plain ``python``), checked against numpy / sequential computations done here."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TIMEOUT = 60
WORKERS = "2"


def _hpcflow() -> list[str]:
    """The ``hpcflow`` console script of this interpreter (``python -m hpcflow.cli.main``
    does not run the CLI: the module has no ``__main__`` guard)."""
    beside = Path(sys.executable).with_name("hpcflow")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("hpcflow")
    if found:
        return [found]
    return [sys.executable, "-c", "from hpcflow.cli.main import main; main()"]


def run_example(name: str, *args: object, cwd: Path, quiet: bool = True,
                runtime: bool = True) -> subprocess.CompletedProcess[str]:
    script = str(EXAMPLES / f"{name}.py")
    if runtime:
        argv = [*_hpcflow(), "run", "--workers", WORKERS, *(["--quiet"] if quiet else []),
                script, "--", *map(str, args)]
    else:
        argv = [sys.executable, script, *map(str, args)]
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT,
                          check=False)


def result_of(proc: subprocess.CompletedProcess[str]) -> dict:
    """The JSON of the last ``RESULT`` line, after checking the run succeeded."""
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"no RESULT line in stdout:\n{proc.stdout}\n{proc.stderr}"
    return json.loads(lines[-1][len("RESULT "):])


def load_example(name: str) -> ModuleType:
    """Import an example as a module (no runtime here: its tasks would run in place)."""
    spec = importlib.util.spec_from_file_location(f"hpcflow_example_{name}",
                                                  EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def leftovers(directory: Path) -> list[str]:
    """Private task outputs (``.NAME.hpcflow-ID.part``) that were never cleaned up."""
    return [n for n in os.listdir(directory) if n.endswith(".part") or ".hpcflow-" in n]


# -- matmul --------------------------------------------------------------------------------
MATMUL_N, MATMUL_B, MATMUL_SEED = 3, 24, 5


def matmul_reference() -> np.ndarray:
    a, b = load_example("matmul").make_matrices(MATMUL_N, MATMUL_B, MATMUL_SEED)
    assert a.shape == (MATMUL_N * MATMUL_B,) * 2
    return a @ b


def test_matmul_parallel_matches_numpy(tmp_path: Path) -> None:
    out = tmp_path / "c.npy"
    proc = run_example("matmul", MATMUL_N, MATMUL_B, "--seed", MATMUL_SEED, "--out", out,
                       cwd=tmp_path, quiet=False)
    result = result_of(proc)
    expected = matmul_reference()
    assert result["checksum"] == pytest.approx(float(expected.sum()), rel=1e-12)
    np.testing.assert_allclose(np.load(out), expected, rtol=1e-12, atol=1e-12)
    assert "hpcflow summary" in proc.stderr and "multiply" in proc.stderr
    assert re.search(r"multiply\s+27\s", proc.stderr), proc.stderr  # N**3 block products


def test_matmul_sequential_fallback_gives_same_checksum(tmp_path: Path) -> None:
    sequential = result_of(run_example("matmul", MATMUL_N, MATMUL_B, "--seed", MATMUL_SEED,
                                       cwd=tmp_path, runtime=False))
    parallel = result_of(run_example("matmul", MATMUL_N, MATMUL_B, "--seed", MATMUL_SEED,
                                     cwd=tmp_path))
    assert sequential["checksum"] == pytest.approx(parallel["checksum"], rel=1e-12)
    assert sequential["checksum"] == pytest.approx(float(matmul_reference().sum()), rel=1e-12)


# -- wordcount ------------------------------------------------------------------------------
def sequential_count(directory: Path) -> Counter:
    counts: Counter = Counter()
    for path in sorted(directory.glob("*.txt")):
        counts.update(re.findall(r"[a-z]+", path.read_text(encoding="utf-8").lower()))
    return counts


def check_wordcount(result: dict, out: Path, expected: Counter, files: int) -> None:
    assert json.loads(out.read_text(encoding="utf-8")) == dict(expected)
    assert result["files"] == files
    assert result["total"] == sum(expected.values())
    assert result["distinct"] == len(expected)
    top = sorted(expected.items(), key=lambda item: (-item[1], item[0]))[:len(result["top"])]
    assert [tuple(x) for x in result["top"]] == top


def test_wordcount_of_given_files(tmp_path: Path) -> None:
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "a.txt").write_text("The cat sat on the mat. THE END!\n", encoding="utf-8")
    (texts / "b.txt").write_text("a cat, a dog -- and the cat's hat\n" * 3, encoding="utf-8")
    (texts / "empty.txt").write_text("", encoding="utf-8")
    (texts / "with space.txt").write_text("Dog dog DOG the\n", encoding="utf-8")
    (texts / "skip.md").write_text("ignored ignored ignored ignored\n", encoding="utf-8")
    for i in range(4):
        (texts / f"n{i}.txt").write_text(f"{'zebra ' * i}yak\n", encoding="utf-8")
    out = tmp_path / "counts.json"
    result = result_of(run_example("wordcount", texts, "--top", 5, "--out", out,
                                   cwd=tmp_path))
    expected = sequential_count(texts)
    assert "ignored" not in expected and expected["the"] == 7 and expected["dog"] == 6
    check_wordcount(result, out, expected, files=8)
    assert not leftovers(texts)


def test_wordcount_of_generated_files(tmp_path: Path) -> None:
    texts = tmp_path / "generated"
    out = tmp_path / "counts.json"
    result = result_of(run_example("wordcount", texts, "--generate", 9, "--words", 300,
                                   "--seed", 3, "--out", out, cwd=tmp_path))
    assert len(list(texts.glob("*.txt"))) == 9
    expected = sequential_count(texts)
    assert sum(expected.values()) == 9 * 300
    check_wordcount(result, out, expected, files=9)


# -- kmeans ---------------------------------------------------------------------------------
def test_kmeans_matches_sequential_numpy(tmp_path: Path) -> None:
    points, fragments, clusters, dims, iterations, seed = 3001, 5, 4, 3, 6, 11
    result = result_of(run_example(
        "kmeans", "--points", points, "--fragments", fragments, "--clusters", clusters,
        "--dims", dims, "--iterations", iterations, "--seed", seed, cwd=tmp_path))

    # The same data (the example's seeded generator), clustered by plain Lloyd iterations.
    example = load_example("kmeans")
    sizes = [points // fragments + (i < points % fragments) for i in range(fragments)]
    data = np.concatenate([example.make_fragment.__wrapped__(seed, i, n, clusters, dims)
                           for i, n in enumerate(sizes)])
    assert data.shape == (points, dims)
    centres = example.initial_centres(seed, clusters, dims)
    for _ in range(iterations):
        distances = ((data[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        labels = distances.argmin(axis=1)
        new = centres.copy()
        for k in range(clusters):
            if (labels == k).any():
                new[k] = data[labels == k].mean(axis=0)
        centres = new

    got = np.array(result["centres"])
    assert got.shape == (clusters, dims)
    np.testing.assert_allclose(got, centres, rtol=1e-9, atol=1e-9)
    assert result["iterations"] == iterations


# -- failure policies -------------------------------------------------------------------------
@pytest.mark.parametrize("fail_times", [1, 2])
def test_retry_succeeds_after_failed_attempts(tmp_path: Path, fail_times: int) -> None:
    markers = tmp_path / "markers"
    result = result_of(run_example("failure_retry", markers, "--fail-times", fail_times,
                                   cwd=tmp_path))
    attempts = fail_times + 1
    assert result["value"] == 49 and result["successor"] == 50
    assert result["attempts"] == attempts
    assert sorted(p.name for p in markers.glob("attempt-*")) == \
        [f"attempt-{i}" for i in range(1, attempts + 1)]
    # FILE_OUT: the failed attempts' private files were discarded, not appended to.
    assert result["output"] == [f"attempt {attempts} started",
                                f"attempt {attempts} succeeded: 49"]
    assert not leftovers(markers)


def test_retry_gives_up_after_retries(tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    proc = run_example("failure_retry", markers, "--fail-times", 3, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "RESULT" not in proc.stdout
    assert "hpcflow: error: task flaky" in proc.stderr
    assert "RuntimeError: flaky failure on attempt 3" in proc.stderr
    assert len(list(markers.glob("attempt-*"))) == 3  # 1 attempt + 2 retries, no more
    assert not (markers / "flaky.out").exists()
    assert not leftovers(markers)


def test_cancel_successors(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_example("failure_cancel_successors", out, "--independent", 5, cwd=tmp_path,
                       quiet=False)
    result = result_of(proc)
    assert result == {"broken": "FAILED", "double": "CANCELLED", "report": "CANCELLED",
                      "late": "CANCELLED", "independent": [0, 1, 4, 9, 16],
                      "report_exists": False}
    cancelled = [line for line in proc.stdout.splitlines() if line.startswith("CANCELLED:")]
    assert len(cancelled) == 3, proc.stdout
    assert "FAILED: task broken" in proc.stdout
    assert "ValueError: broken cannot handle 21" in proc.stdout
    assert os.listdir(out) == []  # no report, no private leftovers
    # The summary counts one failure and the cancelled successors (double twice).
    assert re.search(r"broken\s+1\s+\S+\s+\S+\s+1\s+0", proc.stderr), proc.stderr
    assert re.search(r"double\s+0\s+\S+\s+\S+\s+0\s+2", proc.stderr), proc.stderr
    assert re.search(r"write_report\s+0\s+\S+\s+\S+\s+0\s+1", proc.stderr), proc.stderr
    # Every cancellation names its cause, including that of the successor submitted after
    # the failure was known (the last CANCELLED line).
    for line in cancelled:
        assert re.search(r"task (double|write_report) #\d+ was cancelled: cancelled because "
                         r"broken #\d+ failed: ValueError: broken cannot handle 21", line), line


def test_fail_stops_the_application(tmp_path: Path) -> None:
    out = tmp_path / "out"
    started = time.monotonic()
    proc = run_example("failure_fail", out, "--slow", 25, cwd=tmp_path)
    elapsed = time.monotonic() - started
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "RESULT" not in proc.stdout
    assert re.search(r"hpcflow: error: task explode #\d+ failed", proc.stderr), proc.stderr
    assert "RuntimeError: explode refuses 42" in proc.stderr
    assert "Traceback" in proc.stderr and "explode" in proc.stderr
    # The running independent task was killed, the successor never ran.
    assert elapsed < 20, f"the app did not stop at once ({elapsed:.1f} s)"
    assert os.listdir(out) == []


def test_ignore_commits_empty_file_and_default_value(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "data.txt").write_text("stale content from an earlier run\n", encoding="utf-8")
    proc = run_example("failure_ignore", out, "--rows", 10, "--capacity", 4, cwd=tmp_path,
                       quiet=False)
    result = result_of(proc)
    assert result == {"value": -1, "consumer": {"size": 0, "value": -1}, "file_size": 0}
    assert (out / "data.txt").read_bytes() == b""
    assert os.listdir(out) == ["data.txt"]
    assert re.search(r"produce\s+1\s+\S+\s+\S+\s+1\s+0", proc.stderr), proc.stderr
    assert re.search(r"consume\s+1\s+\S+\s+\S+\s+0\s+0", proc.stderr), proc.stderr


def test_ignore_example_without_failure(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = result_of(run_example("failure_ignore", out, "--rows", 6, "--capacity", 6,
                                   cwd=tmp_path))
    text = "".join(f"row {i}\n" for i in range(6))
    assert result == {"value": 6, "consumer": {"size": len(text), "value": 6},
                      "file_size": len(text)}
    assert (out / "data.txt").read_text(encoding="utf-8") == text
