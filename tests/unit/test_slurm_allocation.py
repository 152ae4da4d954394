"""Allocation.from_env: reading the job we are inside from SLURM_* variables."""

from __future__ import annotations

import pytest

from hpcflow.errors import HpcflowError
from hpcflow.slurm.allocation import Allocation

BATCH_ENV = {
    "SLURM_JOB_ID": "42",
    "SLURM_JOB_NODELIST": "node[1-2],gpu01",
    "SLURM_JOB_NUM_NODES": "3",
    "SLURM_NNODES": "3",
    "SLURM_JOB_CPUS_PER_NODE": "4(x2),2",
    "SLURM_JOB_PARTITION": "debug",
    "SLURM_SUBMIT_DIR": "/home/u/run dir",
}


def test_outside_slurm_is_none() -> None:
    assert Allocation.from_env({}) is None
    assert Allocation.from_env({"PATH": "/bin", "SLURM_CONF": "/etc/slurm.conf"}) is None


def test_batch_script_environment() -> None:
    alloc = Allocation.from_env(BATCH_ENV)
    assert alloc is not None
    assert alloc.job_id == "42"
    assert alloc.nodelist == ("node1", "node2", "gpu01")
    assert alloc.nnodes == 3
    assert alloc.cpus_per_node == (4, 4, 2)
    assert alloc.total_cpus == 10
    assert alloc.cpus_on("gpu01") == 2
    assert alloc.partition == "debug"
    assert alloc.submit_dir == "/home/u/run dir"
    assert not alloc.in_step
    assert alloc.procid is None
    with pytest.raises(KeyError):
        alloc.cpus_on("elsewhere")


def test_inside_a_step() -> None:
    env = dict(BATCH_ENV, SLURM_STEP_ID="0", SLURM_PROCID="2", SLURM_NODEID="2", SLURM_LOCALID="0")
    env["SLURM_NNODES"] = "1"  # the step's node count; the job's stays in SLURM_JOB_NUM_NODES
    alloc = Allocation.from_env(env)
    assert alloc is not None
    assert alloc.in_step and alloc.step_id == 0
    assert (alloc.procid, alloc.node_id, alloc.localid) == (2, 2, 0)
    assert alloc.nnodes == 3


def test_old_variable_names_and_missing_counts() -> None:
    alloc = Allocation.from_env({"SLURM_JOBID": "7", "SLURM_NODELIST": "n[01-02]"})
    assert alloc is not None
    assert alloc.job_id == "7"
    assert alloc.nodelist == ("n01", "n02")
    assert alloc.nnodes == 2
    assert alloc.cpus_per_node == ()
    with pytest.raises(KeyError, match="SLURM_JOB_CPUS_PER_NODE"):
        alloc.cpus_on("n01")


def test_non_numeric_step_id_is_none() -> None:
    alloc = Allocation.from_env(dict(BATCH_ENV, SLURM_STEP_ID="batch"))
    assert alloc is not None and alloc.step_id is None


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"SLURM_JOB_NUM_NODES": "4"}, "names 3 nodes"),
        ({"SLURM_JOB_CPUS_PER_NODE": "4(x2)"}, "expected 3"),
        ({"SLURM_JOB_CPUS_PER_NODE": "four"}, "CPUs-per-node"),
        ({"SLURM_JOB_NODELIST": "node[1-"}, "hostlist"),
    ],
)
def test_inconsistent_environment_raises(override: dict[str, str], message: str) -> None:
    with pytest.raises(HpcflowError, match=message):
        Allocation.from_env(dict(BATCH_ENV, **override))
