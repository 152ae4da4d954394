"""The index of nodes with room: the same choices as a scan of every ledger."""

import random

import pytest

from hpcflow.graph.spec import Constraints
from hpcflow.scheduler.index import FreeIndex, NodeLedgers
from hpcflow.scheduler.placement import Candidate, place
from hpcflow.scheduler.resources import NodeLedger, NodeResources


def scan_best(
    ledgers: dict[str, NodeLedger],
    c: Constraints,
    locality: dict[str, int],
    exclude: set[str] = frozenset(),
) -> str | None:
    """The reference: the scan placement did before the index."""
    fitting = [lg for name, lg in ledgers.items() if name not in exclude and lg.fits(c)]
    if not fitting:
        return None
    return max(fitting, key=lambda lg: (locality.get(lg.node.name, 0), lg.free_cores)).node.name


X86 = dict(architecture="x86_64", processor_type="Xeon")
ARM = dict(architecture="aarch64", processor_type="ARM A64FX")


@pytest.mark.parametrize(
    ("free", "c", "exclude", "expected"),
    [
        ({"a": 4, "b": 4}, Constraints(), set(), "a"),  # ties: the first node
        ({"a": 2, "b": 4}, Constraints(), set(), "b"),  # most free cores
        ({"a": 2, "b": 4}, Constraints(computing_units=3), set(), "b"),
        ({"a": 2, "b": 2}, Constraints(computing_units=3), set(), None),
        ({"a": 0, "b": 1}, Constraints(), set(), "b"),  # a full node is skipped
        ({"a": 4, "b": 4}, Constraints(), {"a"}, "b"),  # a held-back node is skipped
        ({"a": 4, "b": 1}, Constraints(memory_size=32), set(), "b"),  # memory: only b
        ({"a": 4, "b": 2}, Constraints(processor_architecture="aarch64"), set(), "b"),
        ({"a": 4, "b": 2}, Constraints(processor_type="xeon"), set(), "a"),
        ({"a": 4, "b": 2}, Constraints(app_software=frozenset({"gromacs"})), set(), "b"),
    ],
)
def test_best_node(free, c, exclude, expected):
    gromacs = frozenset({"gromacs"})
    lgs = NodeLedgers([NodeLedger(NodeResources("a", 4, 8, **X86)),
                       NodeLedger(NodeResources("b", 4, 64, **ARM, software=gromacs))])
    for name, cores in free.items():
        if cores < 4:
            lgs[name].reserve(100 + cores, Constraints(computing_units=4 - cores))
    best = lgs.index.best(c, exclude)
    assert (best.node.name if best else None) == expected
    assert expected == scan_best(lgs, c, {}, exclude)


def test_dead_and_replaced_nodes_leave_the_index():
    lgs = NodeLedgers([NodeLedger(NodeResources(n, 4, 8)) for n in "abc"])
    lgs["a"].alive = False
    assert lgs.index.best(Constraints()).node.name == "b"
    lgs["b"] = NodeLedger(NodeResources("b", 2, 8))  # rejoined, smaller: keeps its place
    assert lgs.index.best(Constraints()).node.name == "c"
    del lgs["c"]
    assert lgs.index.best(Constraints()).node.name == "b"
    lgs["b"].reserve(1, Constraints(computing_units=2))
    assert not lgs.index.has_room()


def test_a_plain_mapping_is_indexed_for_one_call():
    plain = {n: NodeLedger(NodeResources(n, 2, 8)) for n in "ab"}
    placed = place([Candidate(i, (Constraints(),)) for i in range(5)], plain)
    assert [p.node for p in placed] == ["a", "b", "a", "b"]


@pytest.mark.parametrize("seed", range(6))
def test_random_runs_choose_as_the_scan_does(seed):
    rng = random.Random(seed)
    nodes = [
        NodeResources(
            f"n{i}",
            rng.choice([2, 4, 8]),
            rng.choice([4, 16, 64]),
            **rng.choice([X86, ARM]),
            gpus=rng.choice([0, 0, 1]),
        )
        for i in range(rng.randint(1, 12))
    ]
    indexed = NodeLedgers(NodeLedger(n) for n in nodes)
    plain = {n.name: NodeLedger(n) for n in nodes}
    shapes = [
        Constraints(),
        Constraints(computing_units=2),
        Constraints(memory_size=10),
        Constraints(gpus=1),
        Constraints(processor_architecture="aarch64"),
        Constraints(processor_type="xeon", computing_units=3),
    ]
    running: list[tuple[int, str, Constraints]] = []
    for task in range(400):
        locality = {rng.choice(nodes).name: rng.choice([0, 8, 64])} if rng.random() < 0.5 else {}
        _release_or_place(rng, task, shapes, locality, indexed, plain, running)
    for name, ledger in plain.items():
        assert indexed[name].free_cores == ledger.free_cores


def test_the_heap_stays_small_under_churn():
    lgs = NodeLedgers(NodeLedger(NodeResources(f"n{i}", 128, 256)) for i in range(10))
    for task in range(20_000):
        best = lgs.index.best(Constraints())
        best.reserve(task, Constraints())
        best.release(task)
    index: FreeIndex = lgs.index
    assert len(index._heaps[("", "", frozenset())]) <= 4 * 10 + 1024 + 1


def test_a_queue_takes_one_core_tasks_beyond_the_slots():
    node = NodeResources("a", 2, 8, slots=2, queue=2)
    lgs = NodeLedgers([NodeLedger(node)])
    ledger = lgs["a"]
    placed = place([Candidate(i, (Constraints(),)) for i in range(6)], lgs)
    assert [p.task_id for p in placed] == [0, 1, 2, 3]  # 2 running, 2 queued
    assert ledger.free_cores == 0 and ledger.free_queue == 0 and not lgs.index.has_room()
    wide = place([Candidate(9, (Constraints(computing_units=2),))], lgs)
    assert wide == []
    ledger.release(0)  # the first queued task takes its core and slot
    assert ledger.queued == {3: Constraints()} and ledger.free_cores == 0
    assert ledger.free_queue == 1 and lgs.index.has_room()
    assert place([Candidate(9, (Constraints(memory_size=1),))], lgs) == []  # not queueable
    ledger.release(3)  # a queued task cancelled before it started
    assert ledger.free_queue == 2 and ledger.free_cores == 0
    for task_id in (1, 2):
        ledger.release(task_id)
    assert (ledger.free_cores, ledger.free_slots, ledger.free_queue) == (2, 2, 2)
    assert not ledger.running and not ledger.queued and not ledger.held


def test_a_ledger_that_stops_queueing_never_queues_again() -> None:
    from hpcflow.graph.spec import Constraints
    from hpcflow.scheduler.resources import NodeLedger, NodeResources

    ledger = NodeLedger(NodeResources("n1", cores=1, memory_gb=1.0, slots=1, queue=1))
    one = Constraints(computing_units=1)
    ledger.reserve(1, one)
    ledger.reserve(2, one)  # waits in the agent's queue
    assert ledger.queued and not ledger.fits(one)
    ledger.stop_queueing()
    ledger.release(2, one)
    ledger.release(1, one)
    assert ledger.fits(one)
    ledger.reserve(3, one)
    assert not ledger.fits(one) and not ledger.queued and not ledger.has_room


def test_nodes_joining_and_leaving_one_at_a_time_keep_the_scans_choices():
    """A single node is asked directly (no heap); the heaps start with the second."""
    rng = random.Random(7)
    indexed, plain = NodeLedgers(), {}
    running: list[tuple[int, str, Constraints]] = []
    shapes = [Constraints(), Constraints(computing_units=2), Constraints(memory_size=10)]
    for task in range(600):
        if task % 100 == 0:  # a node joins; at 300 all but one leave
            if task == 300:
                for name in list(plain)[1:]:
                    del indexed[name], plain[name]
                running = [r for r in running if r[1] in plain]
            node = NodeResources(f"n{task}", rng.choice([2, 4]), 16)
            indexed[node.name], plain[node.name] = NodeLedger(node), NodeLedger(node)
        _release_or_place(rng, task, shapes, {}, indexed, plain, running)


def _release_or_place(rng, task, shapes, locality, indexed, plain, running):
    """One random step of both: end a running task, or place ``task`` where the reference
    scan would (checked)."""
    if running and rng.random() < 0.45:
        task_id, name, c = running.pop(rng.randrange(len(running)))
        indexed[name].release(task_id)
        plain[name].release(task_id)
        return
    c = rng.choice(shapes)
    expected = scan_best(plain, c, locality)
    placed = place([Candidate(task, (c,), locality)], indexed)
    assert (placed[0].node if placed else None) == expected
    if expected is not None:
        plain[expected].reserve(task, c)
        running.append((task, expected, c))
