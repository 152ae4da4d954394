"""The Slurm testbed itself: 4 nodes, srun across nodes, sbatch, MPI over srun --mpi=pmi2.

If these fail, every other Slurm test is suspect: look here first.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the fixture's type; conftest modules are not imported by tests at run time
    from conftest import SlurmTestbed

EXPECTED_NODES = ["node1", "node2", "node3", "node4"]


def test_four_idle_nodes_in_debug_partition_and_node4_in_big(testbed: SlurmTestbed) -> None:
    deadline = time.monotonic() + 15
    while True:
        out = testbed.run(["sinfo", "-h", "-N", "-o", "%N|%P|%T|%c"], timeout=10).stdout
        rows = sorted(tuple(line.split("|")) for line in out.splitlines() if line.strip())
        if all(state == "idle" for _, _, state, _ in rows) or time.monotonic() > deadline:
            break
        time.sleep(0.2)  # a previous job may still be completing
    expected = [(node, "debug*", "idle", "4") for node in EXPECTED_NODES]
    expected.append(("node4", "big", "idle", "4"))  # the second partition, for elastic grows
    assert rows == sorted(expected)


def test_node4_alone_offers_bigmem(testbed: SlurmTestbed) -> None:
    out = testbed.run(["sinfo", "-h", "-N", "-p", "big", "-o", "%N|%f"], timeout=10).stdout
    assert out.split() == ["node4|bigmem"]


def test_srun_spans_all_four_nodes(testbed: SlurmTestbed) -> None:
    out = testbed.run(["srun", "-N4", "hostname"], timeout=60).stdout
    assert sorted(out.split()) == EXPECTED_NODES


def test_jobs_run_the_same_python3_with_hpcflow_and_mpi4py(
    testbed: SlurmTestbed, tmp_path: Path
) -> None:
    # PATH is exported to jobs by default, so `python3` in a job is the submitter's python3.
    # Run from an empty directory so `import hpcflow` proves the installed package is visible.
    code = "import sys, os, mpi4py, hpcflow; print(os.path.realpath(sys.executable))"
    out = testbed.run(["srun", "-N2", "python3", "-c", code], timeout=60, cwd=tmp_path).stdout
    assert out.split() == [os.path.realpath(sys.executable)] * 2


def test_sbatch_wait_two_node_job(testbed: SlurmTestbed, tmp_path: Path) -> None:
    out_file = tmp_path / "job.out"
    proc = testbed.run(
        [
            "sbatch",
            "--wait",
            "--parsable",
            "-N2",
            "--job-name=hpcflow-testbed",
            f"--chdir={tmp_path}",
            f"--output={out_file}",
            "--wrap",
            "srun hostname",
        ],
        timeout=120,
    )
    job_id = proc.stdout.strip().splitlines()[-1]
    assert job_id.isdigit(), proc.stdout
    hosts = out_file.read_text().split()
    assert len(hosts) == 2
    assert len(set(hosts)) == 2
    assert set(hosts) <= set(EXPECTED_NODES)


HELLO = """\
import socket
from mpi4py import MPI

comm = MPI.COMM_WORLD
total = comm.allreduce(1)
print(comm.rank, comm.size, total, socket.gethostname(), flush=True)
"""


def test_mpi4py_hello_two_nodes_four_ranks_over_pmi2(testbed: SlurmTestbed, tmp_path: Path) -> None:
    script = tmp_path / "hello.py"
    script.write_text(HELLO)
    out = testbed.run(
        ["srun", "-N2", "-n4", "--mpi=pmi2", "python3", str(script)],
        timeout=120,
        cwd=tmp_path,
    ).stdout
    rows = [line.split() for line in out.splitlines() if line.strip()]
    assert sorted(int(rank) for rank, *_ in rows) == [0, 1, 2, 3], out
    assert {(size, total) for _, size, total, _ in rows} == {("4", "4")}, out
    hosts = {host for *_, host in rows}
    assert len(hosts) == 2, out
    assert hosts <= set(EXPECTED_NODES), out
