"""Constraints, versions (@implement) and resource reservation on the local runtime."""

from __future__ import annotations

import os
import sys
import time

import pytest

from hpcflow import constraint, implement, task, wait_on
from hpcflow.errors import UsageError
from hpcflow.runtime import context
from hpcflow.runtime.session import local_session
from hpcflow.scheduler.resources import NodeResources

CORES = 2


@pytest.fixture
def runtime():
    node = NodeResources("testnode", cores=CORES, memory_gb=4.0, architecture="x86_64",
                         processor_type="Generic CPU", gpus=0)
    session = local_session(os.path.dirname(__file__), node=node)
    with context.installed(session.master):
        yield session.master
    session.close()


@constraint(computing_units=CORES)
@task(returns=1)
def whole_node(seconds):
    start = time.time()
    time.sleep(seconds)
    return (start, time.time(), os.environ.get("OMP_NUM_THREADS"))


@task(returns=1)
def which():
    return "generic"


@implement(source_class=__name__, method="which")
@constraint(processor_architecture="riscv")
@task(returns=1)
def which_riscv():
    return "riscv"


@constraint(processor_type="QuantumCPU")
@task(returns=1)
def special():
    return "quantum"


@implement(source_class=sys.modules[__name__], method="special")
@task(returns=1)
def special_fallback():
    return "fallback"


@constraint(computing_units=CORES)
@task(returns=1)
def wide():
    return "wide"


@implement(source_class=__name__, method="wide")
@constraint(computingUnits=1, MemorySize=1.0)
@task(returns=1)
def narrow():
    return "narrow"


@task(returns=1)
def hold_core(seconds):
    time.sleep(seconds)
    return seconds


@constraint(computing_units=64)
@task(returns=1)
def too_big():
    return 0


@constraint(memory_size=3.0)
@task(returns=1)
def memory_hog(seconds):
    start = time.time()
    time.sleep(seconds)
    return (start, time.time())


def _overlap(a, b):
    return a[0] < b[1] and b[0] < a[1]


def test_tasks_using_all_cores_never_overlap(runtime):
    runs = wait_on([whole_node(0.4) for _ in range(3)])
    for i in range(3):
        for j in range(i + 1, 3):
            assert not _overlap(runs[i], runs[j])
    assert runs[0][2] == str(CORES)


def test_memory_is_reserved(runtime):
    a, b = wait_on(memory_hog(0.4), memory_hog(0.4))
    assert not _overlap(a, b)


def test_implementation_is_chosen_by_constraints(runtime):
    assert wait_on(which()) == "generic"  # no riscv node: the original runs


def test_an_implementation_runs_when_the_original_never_can(runtime):
    assert wait_on(special()) == "fallback"


def test_the_version_that_fits_the_free_resources_runs(runtime):
    assert wait_on(wide()) == "wide"  # idle node: the original fits
    busy = hold_core(1.0)  # one core taken: only the one-core version fits now
    assert wait_on(wide()) == "narrow"
    assert [v.spec.name for v in wide.versions()] == ["wide", "narrow"]
    wait_on(busy)


def test_a_task_that_fits_nowhere_is_a_clear_error(runtime):
    with pytest.raises(UsageError, match="computing_units=64 but no node offers it"):
        too_big()


def test_sequential_fallback_without_runtime():
    assert context.current() is None
    assert which() == "generic"
    data = []
    assert whole_node(0)[2] in (None, os.environ.get("OMP_NUM_THREADS"))
    del data


@task(returns=1)
def big_blob(size):
    return b"x" * size


@task(returns=1)
def consume(blob):
    return len(blob)


def test_consumers_run_where_their_inputs_were_produced():
    from hpcflow.agents.local import LocalAgent
    from hpcflow.runtime.master import Master

    master = Master(os.path.dirname(__file__))
    agents = []
    for name in ("n1", "n2"):
        agent = LocalAgent(NodeResources(name, cores=2, memory_gb=4.0), master.on_results,
                           master.app_dir)
        agent.start()
        master.add_agent(agent)
        agents.append(agent)
    try:
        with context.installed(master):
            blobs = [big_blob(1_000_000) for _ in range(4)]
            wait_on(blobs)
            sizes = wait_on([consume(b) for b in blobs])
        assert sizes == [1_000_000] * 4
        for producer, consumer in zip(range(1, 5), range(5, 9), strict=True):
            assert master.records[consumer].node == master.records[producer].node
    finally:
        master.shutdown()
