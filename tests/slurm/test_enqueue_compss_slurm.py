"""``compat/bin/enqueue_compss --num_nodes=2 app.py args`` on the testbed: the PyCOMPSs
launcher submits through ``hpcflow submit --compat pycompss``; the job runs the unmodified
app on 2 nodes and its result is right."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "tests" / "behaviour" / "pycompss_apps"


def _env(testbed, tmp_path: Path) -> dict[str, str]:
    xdg = tmp_path / "xdg"
    (xdg / "hpcflow").mkdir(parents=True)
    (xdg / "hpcflow" / "config.toml").write_text(
        f'default_site = "testbed"\n\n[sites.testbed]\npython = {json.dumps(sys.executable)}\n')
    return {**testbed.env, "XDG_CONFIG_HOME": str(xdg)}


def _enqueue(env: dict[str, str], tmp_path: Path, job_ids: list[str], nodes: int,
             app: str, *args: str) -> tuple[Path, dict]:
    """enqueue_compss APP, follow the job to its end; its run directory and RESULT."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "compat" / "bin" / "enqueue_compss"), f"--num_nodes={nodes}",
         "--exec_time=5", "--job_name=enqueue-compss-test", str(APPS / f"{app}.py"), *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL)
    job_ids += re.findall(r"^submitted job (\d+)$", done.stdout + done.stderr, re.M)
    assert done.returncode == 0 and job_ids, done.stdout + done.stderr
    run_dir = Path(re.search(r"^run directory (/\S+)$", done.stdout + done.stderr,
                             re.M).group(1))  # type: ignore[union-attr]
    script = (run_dir / "job.sbatch").read_text()
    assert f"#SBATCH --nodes={nodes}" in script and "--compat=pycompss" in script
    follow = subprocess.run([sys.executable, "-m", "hpcflow", "logs", "-f", job_ids[-1]],
                            cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=150, stdin=subprocess.DEVNULL)
    lines = [x for x in follow.stdout.splitlines() if x.startswith("RESULT ")]
    assert lines, follow.stdout + follow.stderr
    return run_dir, json.loads(lines[-1][7:])


@pytest.fixture
def job_ids(testbed) -> Iterator[list[str]]:
    """The jobs a test submitted: cancelled when it ends, whatever happened."""
    ids: list[str] = []
    try:
        yield ids
    finally:
        for job_id in ids:
            subprocess.run(["scancel", job_id], env=testbed.env, timeout=10, check=False,
                           capture_output=True)


def test_enqueue_compss_runs_an_unmodified_app_on_two_nodes(testbed, tmp_path, job_ids):
    run_dir, out = _enqueue(_env(testbed, tmp_path), tmp_path, job_ids, 2, "matmul_objects",
                            "3", "8")
    assert out == {"ok": True, "types": ["ndarray"]}
    status = json.loads((run_dir / "status.json").read_text())
    assert status["exit_status"] == 0 and len(status["nodes"]) == 2, status
    rows = [json.loads(x) for x in (run_dir / "records.jsonl").read_text().splitlines()]
    assert len({r["node"] for r in rows if r["state"] == "done"}) == 2  # both nodes worked


def test_app_software_of_the_site_reaches_the_job(testbed, tmp_path, job_ids):
    """The testbed site declares software tags; the job's agents offer them."""
    _, out = _enqueue(_env(testbed, tmp_path), tmp_path, job_ids, 1, "constraint_exprs_app")
    assert out["tools"] == "ran" and out["threads"] == [1, 2]
    assert out["gnuplot"].startswith("task plot needs software gnuplot, which no node")
