"""Placement of ready tasks on free resources: constraints, versions, locality, priority.

Pure: takes ready candidates and the node ledgers, reserves on the ledgers and returns
the placements. No I/O, no clocks.

A candidate version may need ``whole`` nodes (a multi-node MPI step, a ``@multinode``
task): it takes that many idle nodes, every core of each. When they are not idle yet, the
nodes it will get are held back for the rest of the pass, so a stream of small tasks
cannot starve it; they drain and it starts at a later pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import NamedTuple

from hpcflow.graph.spec import Constraints
from hpcflow.scheduler.index import FreeIndex, NodeLedgers
from hpcflow.scheduler.resources import NodeLedger, NodeResources

MAX_SCAN = 2000  # ready tasks examined per pass once the head of the queue cannot fit


_NO_LOCALITY: Mapping[str, int] = MappingProxyType({})


class Candidate(NamedTuple):
    """A ready task and the constraints of each of its versions (0 = the task itself).

    Immutable like the frozen dataclasses between layers, but a named tuple: one is built
    per ready task and one :class:`Placement` per decision, at a quarter of the cost.
    """

    task_id: int
    versions: tuple[Constraints, ...]
    locality: Mapping[str, int] = _NO_LOCALITY  # node -> input bytes held
    whole: tuple[int, ...] = ()  # per version: whole nodes it needs (0 or absent: none)

    def whole_nodes(self, version: int) -> int:
        return self.whole[version] if version < len(self.whole) else 0


class Placement(NamedTuple):
    """Run version ``version`` of task ``task_id`` on node ``node`` (the first of
    ``nodes``, the one that launches it)."""

    task_id: int
    version: int
    node: str
    nodes: tuple[str, ...] = ()


def place(candidates: Iterable[Candidate], ledgers: Mapping[str, NodeLedger]) -> list[Placement]:
    """Place as many candidates as fit, in the order given; reserve what they use.

    ``ledgers`` is best a :class:`NodeLedgers` kept across calls (O(log n) per decision);
    any other mapping is indexed for this call only.
    """
    if isinstance(ledgers, NodeLedgers):
        index, notify = ledgers.index, False
    else:
        index, notify = FreeIndex(ledgers.values()), True
    placements: list[Placement] = []
    held: set[str] = set()  # nodes kept free for a whole-node task that must wait
    scanned = 0
    room: bool | None = None  # None: to be looked up before the next candidate
    for cand in candidates:
        if room is None:
            room = index.has_room(held)
        if not room:  # only a placement or a node held back takes room away
            break
        placement = _place_one(cand, ledgers, index, held)
        if placement is None:
            scanned += 1
            if scanned >= MAX_SCAN:
                break
            if held:
                room = None
            continue
        if notify:
            for name in placement.nodes:
                index.changed(ledgers[name])
        placements.append(placement)
        room = None
    return placements


def _place_one(cand: Candidate, ledgers: Mapping[str, NodeLedger], index: FreeIndex,
               held: set[str]) -> Placement | None:
    whole = cand.whole
    for version, constraints in enumerate(cand.versions):
        if whole and version < len(whole) and whole[version]:
            free = {name: lg for name, lg in ledgers.items() if name not in held}
            chosen = _whole_nodes(cand, constraints, whole[version], free, held)
            if chosen:
                for ledger in chosen:
                    ledger.reserve(cand.task_id, ledger.whole())
                names = tuple(lg.node.name for lg in chosen)
                return Placement(cand.task_id, version, names[0], names)
            continue
        best = (cand.locality and _local_best(cand, constraints, ledgers, index, held)) \
            or index.best(constraints, held)
        if best is not None:
            best.reserve(cand.task_id, constraints)
            name = best.node.name
            return Placement(cand.task_id, version, name, (name,))
    return None


def _local_best(cand: Candidate, constraints: Constraints, ledgers: Mapping[str, NodeLedger],
                index: FreeIndex, held: set[str]) -> NodeLedger | None:
    """Of the nodes holding some of the task's inputs, the one holding most that fits
    (then the most free cores, then the first); such a node beats every other."""
    best: NodeLedger | None = None
    best_bytes = 0
    for name, held_bytes in cand.locality.items():
        if held_bytes <= 0 or name in held:
            continue
        ledger = ledgers.get(name)
        if ledger is None or not ledger.fits(constraints):
            continue
        if best is not None:  # two nodes compete: bytes, then free cores, then order
            if held_bytes != best_bytes or ledger.free_cores != best.free_cores:
                if (held_bytes, ledger.free_cores) < (best_bytes, best.free_cores):
                    continue
            elif index.order(name) > index.order(best.node.name):
                continue
        best, best_bytes = ledger, held_bytes
    return best


def _whole_nodes(cand: Candidate, constraints: Constraints, count: int,
                 ledgers: Mapping[str, NodeLedger], held: set[str]) -> list[NodeLedger]:
    """``count`` idle nodes able to run the task; or none, holding back the best ones."""
    able = [lg for lg in ledgers.values() if lg.usable and lg.node.satisfies(constraints)]
    idle = [lg for lg in able if lg.idle]
    if len(idle) >= count:
        idle.sort(key=lambda lg: (-cand.locality.get(lg.node.name, 0), lg.node.name))
        return idle[:count]
    if len(able) >= count:  # wait for the least busy ones to drain
        able.sort(key=lambda lg: (lg.node.cores - lg.free_cores, lg.node.name))
        held.update(lg.node.name for lg in able[:count])
    return []


def feasible(versions: Iterable[Constraints], nodes: Iterable[NodeResources]) -> bool:
    """Could at least one version ever run on at least one of ``nodes``?"""
    nodes = list(nodes)
    return any(node.satisfies(c) for c in versions for node in nodes)


def explain_infeasible(versions: Iterable[Constraints], nodes: Iterable[NodeResources]) -> str:
    """One line saying why no node can run any version."""
    nodes = list(nodes)
    largest = max(nodes, key=lambda n: n.cores) if nodes else None
    versions = list(versions)
    wanted = "; ".join(c.describe() for c in versions)
    if largest is None:
        return f"needs {wanted} but no node is available"
    offered = frozenset().union(*(n.software for n in nodes))
    if all(c.app_software - offered for c in versions):
        missing = sorted(set().union(*(c.app_software - offered for c in versions)))
        return (f"needs software {', '.join(missing)}, which no node has (software of the "
                f"site config: {', '.join(sorted(offered)) or 'none declared'})")
    return (f"needs {wanted} but no node offers it (largest node {largest.name}: "
            f"{largest.cores} cores, {largest.memory_gb:g} GB, {largest.gpus} GPUs, "
            f"arch {largest.architecture or '?'})")
