"""The benchmark suite runs end to end and writes its report (no timing assertions)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NUMBER = r"\d[\d,]*(?:\.\d+)?"


@pytest.mark.timeout(120)
def test_quick_run_writes_a_report_with_rows_and_numbers(tmp_path):
    out = tmp_path / "perf.md"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--systems", "hpcflow,processpool",
         "--reps", "1", "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-3000:]
    text = out.read_text(encoding="utf-8")

    assert "## Results" in text and "## What the numbers say" in text
    assert "## How to reproduce" in text
    assert "python -m benchmarks.run --quick --systems hpcflow,processpool --reps 1" in text
    assert "| workload | unit | better | hpcflow | ProcessPool |" in text
    assert re.search(r"Python 3\.\d+", text) and "hpcflow " in text
    assert re.search(r"\d+ cores", text)

    rows = table(text, "| workload | unit | better |")
    for prefix in ("W1 throughput", "W2 chain", "W3 ", "W4 ", "W5 launch → first",
                   "W5 launch → process exits"):
        row = next((cells for label, cells in rows.items() if label.startswith(prefix)), None)
        assert row is not None, f"no row {prefix!r} in\n{text}"
        _unit, _better, hpcflow, processpool = row
        assert re.fullmatch(NUMBER, hpcflow), (prefix, hpcflow)
        assert re.fullmatch(NUMBER, processpool), (prefix, processpool)
    w6 = next(cells for label, cells in rows.items() if label.startswith("W6 scheduler alone,"))
    assert re.fullmatch(NUMBER, w6[2]) and w6[3] == "n/a"

    ratios = table(text, "| workload | ProcessPool |")
    assert len(ratios) == 6
    assert all(re.fullmatch(NUMBER + "x", cells[0]) for cells in ratios.values()), ratios

    verdicts = table(text, "| target | measured (medians) | verdict |")
    assert len(verdicts) == 10
    assert verdicts["W1 ≥ ProcessPoolExecutor's tasks/s"][1] in ("**meets**", "**misses**")
    assert verdicts["W1 ≥ 10x Dask tasks/s"][1] == "not measured"
    assert re.search(r"hpcflow today \*\*meets \d+\*\* and \*\*misses \d+\*\*", text)


def table(text: str, header: str) -> dict[str, list[str]]:
    """The rows of the Markdown table under ``header``: first cell -> the other cells."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.split("|")[1:-1]]
        rows[cells[0]] = cells[1:]
    return rows


def test_unknown_system_is_a_usage_error():
    done = subprocess.run([sys.executable, "-m", "benchmarks.run", "--systems", "nope"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "unknown system(s) nope" in done.stderr


def test_a_peer_that_is_not_installed_is_a_cell_not_a_crash(tmp_path):
    from benchmarks import report, run
    from benchmarks.systems import SYSTEMS, System
    from benchmarks.workloads import QUICK

    ghost = System("ghost", "Ghost", "a peer that is not installed", "python -m ghost",
                   modules=("no_such_module_for_the_benchmarks",))
    suite = run.Suite([ghost], ["w1"], reps=1, quick=True)
    results = suite.run()
    assert results.unavailable["ghost"].startswith("not installed")
    text = report.render(results, report.Meta(
        command="python -m benchmarks.run", started=0.0, wall=1.0, reps=1, quick=True,
        sizes=QUICK, systems=[SYSTEMS["hpcflow"], ghost], workloads=["w1"]))
    rows = table(text, "| workload | unit | better |")
    assert rows["W1 throughput, 1,000 no-op tasks"] == ["tasks/s", "higher", "—",
                                                        "not installed"]


def test_sbatch_mode_submits_the_same_suite_on_one_whole_node(tmp_path):
    from benchmarks import in_slurm

    out = tmp_path / "perf.md"
    argv = ["--sbatch", "--quick", "--sbatch-option", "--partition=debug", "--out", "x.md",
            "--sbatch-option=--account=a b", "--reps", "1"]
    inner = in_slurm.inner_argv(argv, out)
    assert inner == ["--quick", "--reps", "1", "--out", str(out)]
    command = in_slurm.sbatch_argv("/py thon", REPO, inner, out, ["--partition=debug"])
    assert command[:7] == ["sbatch", "--wait", "--parsable", "--job-name=hpcflow-bench",
                           "--nodes=1", "--ntasks=1", "--exclusive"]
    assert f"--chdir={REPO}" in command and "--partition=debug" in command
    assert f"--output={tmp_path}/perf.slurm-%j.log" in command
    assert command[-2:] == ["--wrap", f"'/py thon' -m benchmarks.run --quick --reps 1 "
                                      f"--out {out}"]
    assert in_slurm.allocation({}) == ""
    assert in_slurm.allocation({"SLURM_JOB_ID": "7", "SLURMD_NODENAME": "n3",
                                "SLURM_CPUS_ON_NODE": "4"}) == "job 7 on n3 (4 CPUs)"
