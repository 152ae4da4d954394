"""Placement of ready tasks on free resources: constraints, versions, locality, priority.

Pure: takes ready candidates and the node ledgers, reserves on the ledgers and returns
the placements. No I/O, no clocks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from hpcflow.graph.spec import Constraints
from hpcflow.scheduler.resources import NodeLedger, NodeResources

MAX_SCAN = 2000  # ready tasks examined per pass once the head of the queue cannot fit


@dataclass(frozen=True)
class Candidate:
    """A ready task and the constraints of each of its versions (0 = the task itself)."""

    task_id: int
    versions: tuple[Constraints, ...]
    locality: Mapping[str, int] = field(default_factory=dict)  # node -> input bytes held


@dataclass(frozen=True)
class Placement:
    """Run version ``version`` of task ``task_id`` on node ``node``."""

    task_id: int
    version: int
    node: str


def place(candidates: Iterable[Candidate], ledgers: Mapping[str, NodeLedger]) -> list[Placement]:
    """Place as many candidates as fit, in the order given; reserve what they use."""
    placements: list[Placement] = []
    scanned = 0
    for cand in candidates:
        if not any(ledger.has_room for ledger in ledgers.values()):
            break
        choice = _choose(cand, ledgers)
        if choice is None:
            scanned += 1
            if scanned >= MAX_SCAN:
                break
            continue
        version, ledger = choice
        ledger.reserve(cand.task_id, cand.versions[version])
        placements.append(Placement(cand.task_id, version, ledger.node.name))
    return placements


def _choose(cand: Candidate, ledgers: Mapping[str, NodeLedger]) -> tuple[int, NodeLedger] | None:
    for index, constraints in enumerate(cand.versions):
        fitting = [ledger for ledger in ledgers.values() if ledger.fits(constraints)]
        if fitting:
            best = max(fitting, key=lambda lg: (cand.locality.get(lg.node.name, 0),
                                                lg.free_cores))
            return index, best
    return None


def feasible(versions: Iterable[Constraints], nodes: Iterable[NodeResources]) -> bool:
    """Could at least one version ever run on at least one of ``nodes``?"""
    nodes = list(nodes)
    return any(node.satisfies(c) for c in versions for node in nodes)


def explain_infeasible(versions: Iterable[Constraints], nodes: Iterable[NodeResources]) -> str:
    """One line saying why no node can run any version."""
    nodes = list(nodes)
    largest = max(nodes, key=lambda n: n.cores) if nodes else None
    wanted = "; ".join(c.describe() for c in versions)
    if largest is None:
        return f"needs {wanted} but no node is available"
    return (f"needs {wanted} but no node offers it (largest node {largest.name}: "
            f"{largest.cores} cores, {largest.memory_gb:g} GB, {largest.gpus} GPUs, "
            f"arch {largest.architecture or '?'})")
