"""Pure placement: constraints, versions, priority order, locality, feasibility."""

from hpcflow.graph.spec import Constraints
from hpcflow.scheduler.placement import Candidate, explain_infeasible, feasible, place
from hpcflow.scheduler.resources import NodeLedger, NodeResources


def ledgers(*nodes: NodeResources) -> dict[str, NodeLedger]:
    return {n.name: NodeLedger(n) for n in nodes}


A = NodeResources("a", cores=4, memory_gb=8, architecture="x86_64", processor_type="Xeon")
B = NodeResources("b", cores=2, memory_gb=64, architecture="aarch64", processor_type="ARM A64FX")


def test_places_in_order_until_full():
    lg = ledgers(A)
    placed = place([Candidate(i, (Constraints(),)) for i in range(6)], lg)
    assert [p.task_id for p in placed] == [0, 1, 2, 3]
    assert lg["a"].free_cores == 0


def test_constraints_pick_the_node():
    lg = ledgers(A, B)
    placed = place([Candidate(1, (Constraints(memory_size=32),)),
                    Candidate(2, (Constraints(processor_type="arm"),)),
                    Candidate(3, (Constraints(computing_units=4),))], lg)
    assert {p.task_id: p.node for p in placed} == {1: "b", 2: "b", 3: "a"}


def test_a_task_that_does_not_fit_now_does_not_block_others():
    lg = ledgers(A)
    lg["a"].reserve(99, Constraints(computing_units=3))
    placed = place([Candidate(1, (Constraints(computing_units=2),)),
                    Candidate(2, (Constraints(),))], lg)
    assert [p.task_id for p in placed] == [2]


def test_versions_are_chosen_by_what_fits():
    lg = ledgers(B)
    placed = place([Candidate(1, (Constraints(processor_architecture="x86_64"),
                                  Constraints(processor_architecture="aarch64")))], lg)
    assert placed[0].version == 1


def test_locality_prefers_the_node_holding_the_inputs():
    lg = ledgers(A, B)
    placed = place([Candidate(1, (Constraints(),), {"b": 10_000})], lg)
    assert placed[0].node == "b"


def test_release_gives_resources_back():
    lg = ledgers(B)
    c = Constraints(computing_units=2, memory_size=10)
    lg["b"].reserve(1, c)
    assert not lg["b"].fits(Constraints())
    lg["b"].release(1, c)
    lg["b"].release(1, c)  # twice is harmless
    assert lg["b"].free_cores == 2 and lg["b"].free_memory_gb == 64


def test_feasibility():
    assert feasible([Constraints(computing_units=4)], [A, B])
    assert not feasible([Constraints(computing_units=8)], [A, B])
    assert "largest node a: 4 cores" in explain_infeasible([Constraints(computing_units=8)],
                                                           [A, B])


def test_prefetch_is_deep_only_while_tasks_are_short():
    from hpcflow.scheduler.resources import DEEP_PREFETCH, SHORT_TASK, prefetch_depth

    assert prefetch_depth(2, None) == 2  # nothing measured yet
    assert prefetch_depth(2, SHORT_TASK / 10) == 2 * DEEP_PREFETCH
    assert prefetch_depth(2, SHORT_TASK) == 2
    assert prefetch_depth(0, SHORT_TASK / 10) == 0  # no queue stays no queue


def test_a_deeper_queue_takes_more_one_core_tasks_and_shrinks_back():
    from hpcflow.scheduler.index import NodeLedgers

    ledgers = NodeLedgers([NodeLedger(NodeResources("n1", cores=2, memory_gb=8, queue=2))])
    one = Constraints(computing_units=1)
    placed = place([Candidate(i, (one,)) for i in range(20)], ledgers)
    assert len(placed) == 4  # 2 running, 2 queued
    ledgers["n1"].set_queue_depth(8)
    placed = place([Candidate(i, (one,)) for i in range(20, 40)], ledgers)
    assert len(placed) == 6  # the queue grew by 6
    ledgers["n1"].set_queue_depth(2)  # 8 queued, room for 2: none until 6 are gone
    for task_id in (0, 1, 2, 3, 20, 21):
        ledgers["n1"].release(task_id)
    assert place([Candidate(50, (one,))], ledgers) == []
    ledgers["n1"].release(22)
    assert len(place([Candidate(51, (one,))], ledgers)) == 1
    ledgers["n1"].stop_queueing()
    ledgers["n1"].set_queue_depth(64)  # a stopped queue stays stopped
    assert ledgers["n1"].queue_depth == 2
