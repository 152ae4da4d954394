"""Observability of a Slurm job on the testbed: ``hpcflow status``, ``trace``, ``graph``,
``report`` and ``provenance`` name the run by its job id and see both nodes."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import SlurmTestbed

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TIMEOUT = 180


def test_a_two_node_job_is_observed_by_its_job_id(testbed: SlurmTestbed, tmp_path: Path):
    xdg = tmp_path / "xdg"
    (xdg / "hpcflow").mkdir(parents=True)
    (xdg / "hpcflow" / "config.toml").write_text(
        f'default_site = "testbed"\n\n[sites.testbed]\npython = {json.dumps(sys.executable)}\n')
    env = {**testbed.env, "XDG_CONFIG_HOME": str(xdg)}
    data = tmp_path / "data"
    subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                    "import wordcount; wordcount.generate(sys.argv[2], 8, 400, 1)",
                    str(EXAMPLES), str(data)], check=True, timeout=60, env=env)

    def hpcflow(*args: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "hpcflow", *map(str, args)], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=TIMEOUT,
                              stdin=subprocess.DEVNULL)

    done = hpcflow("submit", EXAMPLES / "wordcount.py", "--nodes", "2", "--cpus-per-node", "2",
                   "--wait", "--", data)
    assert done.returncode == 0, done.stderr
    job_id = re.search(r"^submitted job (\d+)$", done.stderr, re.M).group(1)  # type: ignore[union-attr]

    status = hpcflow("status", job_id)
    assert status.returncode == 0, status.stderr
    assert "tasks      pending 0  running 0  done 15  failed 0  cancelled 0" in status.stdout
    assert len(re.findall(r"^node       ", status.stdout, re.M)) == 2

    trace_path = Path(hpcflow("trace", job_id).stdout.strip())
    trace = json.loads(trace_path.read_text())["traceEvents"]
    slices = [e for e in trace if e["ph"] == "X"]
    assert len(slices) == 15 and {e["cat"] for e in slices} == {"finished"}
    assert len([e for e in trace if e["ph"] == "s"]) == 14  # 7 merges of 2
    nodes = [e["args"]["name"] for e in trace if e["ph"] == "M" and e["name"] == "process_name"]
    assert len([n for n in nodes if n.startswith("node ")]) == 2
    assert trace_path.parent.name.startswith("hpcflow-wordcount-")  # next to the job's logs
    assert list(trace_path.parent.glob(f"slurm-{job_id}.out"))

    for command in ("graph", "report", "provenance"):
        done = hpcflow(command, job_id)
        assert done.returncode == 0, done.stderr
    crate = json.loads((trace_path.parent / "ro-crate-metadata.json").read_text())
    hashes = {e["name"]: e.get("sha256") for e in crate["@graph"] if e.get("@type") == "File"}
    part = sorted(data.iterdir())[0]
    assert hashes[part.name] == hashlib.sha256(part.read_bytes()).hexdigest()
