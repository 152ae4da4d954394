"""Pure gang shapes and whole-node placement for multi-node launched tasks."""

import pytest

from hpcflow.errors import UsageError
from hpcflow.graph.spec import Constraints
from hpcflow.scheduler.gang import Gang, mpi_gang, multinode_gang, serial_gang
from hpcflow.scheduler.placement import Candidate, place
from hpcflow.scheduler.resources import NodeLedger, NodeResources

NODES = [NodeResources(f"node{i}", cores=4, memory_gb=8) for i in range(1, 5)]


def ledgers(nodes=NODES) -> dict[str, NodeLedger]:
    return {n.name: NodeLedger(n) for n in nodes}


@pytest.mark.parametrize("args, expected", [
    # processes, per_node, computing_nodes, cpus -> nodes, ntasks, per_node, whole, cores
    ((4, 2, None, 1), (2, 4, 2, True, 2)),
    ((4, None, 2, 1), (2, 4, 2, True, 2)),
    ((3, None, None, 1), (1, 3, 3, False, 3)),
    ((8, None, None, 1), (2, 8, 4, True, 4)),
    ((6, None, None, 1), (2, 6, 3, True, 3)),
    ((4, None, None, 2), (2, 4, 2, True, 4)),
    ((16, 4, None, 1), (4, 16, 4, True, 4)),
    ((5, 3, None, 1), (2, 5, 3, True, 3)),
])
def test_mpi_shapes(args, expected):
    gang = mpi_gang(*args, NODES)
    assert (gang.nodes, gang.ntasks, gang.per_node, gang.whole, gang.cores) == expected


@pytest.mark.parametrize("args, message", [
    ((32, None, None, 1), "needs 8 nodes of 4 cores .* the allocation has 4 such nodes"),
    ((8, 8, None, 1), "needs 8 processes x 1 cores = 8 cores per node but the largest node "
                      "has 4"),
    ((2, 1, 4, 1), "2 processes cannot fill 4 nodes"),
    ((9, 2, 4, 1), "9 processes do not fit 4 nodes of 2 processes"),
    ((2, None, None, 8), "8 cores per node but the largest node has 4"),
])
def test_impossible_mpi_shapes_are_one_line_errors(args, message):
    with pytest.raises(UsageError, match=message):
        mpi_gang(*args, NODES)


def test_local_runtime_oversubscribes_one_node():
    gang = mpi_gang(16, 4, None, 1, NODES[:1], oversubscribe=True)
    assert (gang.nodes, gang.ntasks, gang.whole, gang.cores) == (1, 16, False, 4)
    whole = multinode_gang(3, None, NODES[:1], oversubscribe=True)
    assert (whole.nodes, whole.whole) == (1, True)


def test_multinode_and_serial():
    gang = multinode_gang(2, None, NODES)
    assert gang == Gang(2, 8, 4, 1, whole=True, cores=4)
    assert multinode_gang(2, 1, NODES).cores == 1
    with pytest.raises(UsageError, match="needs 5 nodes"):
        multinode_gang(5, None, NODES)
    assert serial_gang(3) == Gang(1, 1, 1, 3, whole=False, cores=3)


def whole(task_id: int, count: int, cores: int = 1) -> Candidate:
    return Candidate(task_id, (Constraints(computing_units=cores),), whole=(count,))


def test_two_gangs_take_disjoint_whole_nodes():
    lg = ledgers()
    placed = place([whole(1, 2), whole(2, 2)], lg)
    assert [p.nodes for p in placed] == [("node1", "node2"), ("node3", "node4")]
    assert all(p.node == p.nodes[0] for p in placed)
    assert all(ledger.free_cores == 0 for ledger in lg.values())
    assert place([Candidate(3, (Constraints(),))], lg) == []


def test_a_gang_waits_for_idle_nodes_and_holds_them_against_small_tasks():
    lg = ledgers()
    lg["node1"].reserve(90, Constraints(computing_units=1))
    lg["node2"].reserve(91, Constraints(computing_units=1))
    lg["node3"].reserve(92, Constraints(computing_units=3))
    small = [Candidate(i, (Constraints(),)) for i in range(10, 20)]
    placed = place([whole(1, 3), *small], lg)
    # node4 (idle) and node1, node2 (least busy) are held for the gang: small tasks only
    # get the last free core of node3
    assert [(p.task_id, p.node) for p in placed] == [(10, "node3")]
    for task_id in (90, 91):
        lg[f"node{task_id - 89}"].release(task_id)
    placed = place([whole(1, 3)], lg)
    assert placed[0].nodes == ("node1", "node2", "node4")


def test_release_of_a_gang_gives_every_node_back():
    lg = ledgers()
    [placement] = place([whole(7, 4)], lg)
    assert len(placement.nodes) == 4
    for name in placement.nodes:
        lg[name].release(7)
    assert all(ledger.idle and ledger.free_cores == 4 for ledger in lg.values())
    assert all(ledger.free_slots == 4 for ledger in lg.values())


def test_whole_nodes_respect_node_constraints_and_versions():
    nodes = [*NODES[:2], NodeResources("big", cores=16, memory_gb=64, architecture="arm")]
    lg = ledgers(nodes)
    cand = Candidate(1, (Constraints(computing_units=8), Constraints(computing_units=1)),
                     whole=(2, 0))
    [placement] = place([cand], lg)
    assert placement.version == 1 and placement.nodes == (placement.node,)
    arm = Candidate(2, (Constraints(processor_architecture="arm"),), whole=(1,))
    assert place([arm], lg) == []  # version 1 of task 1 runs on big (most free cores)
    assert place([arm], ledgers(nodes))[0].nodes == ("big",)
