"""The shape of a launched task: how many nodes, ranks and cores it takes.

Pure: from the numbers a ``@mpi``/``@multinode``/``@binary``/``@ompss`` task asks for
and the nodes of the allocation, decide the nodes K, the ranks P (Q per node) and what to
reserve; a shape no allocation can ever hold is a one-line UsageError.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from hpcflow.errors import UsageError
from hpcflow.scheduler.resources import NodeResources


@dataclass(frozen=True)
class Gang:
    """What one launched task takes.

    ``nodes`` nodes with ``per_node`` ranks each (``ntasks`` in all) of ``cpus_per_task``
    cores. ``cores``: the cores it reserves on its one node, or, when ``whole`` (it takes
    its nodes entirely), the cores each of its nodes must have.
    """

    nodes: int
    ntasks: int
    per_node: int
    cpus_per_task: int
    whole: bool
    cores: int


def serial_gang(cpus: int) -> Gang:
    """``@binary``/``@ompss``: one process on one node with ``cpus`` cores."""
    return Gang(1, 1, 1, cpus, whole=False, cores=cpus)


def mpi_gang(processes: int, per_node: int | None, computing_nodes: int | None, cpus: int,
             nodes: Sequence[NodeResources], oversubscribe: bool = False) -> Gang:
    """P ranks of ``cpus`` cores: Q per node when given, else K nodes when given, else as
    few nodes as hold them. ``oversubscribe`` (local runtime): everything on one node."""
    if oversubscribe:
        largest = max((n.cores for n in nodes), default=processes * cpus)
        return Gang(1, processes, processes, cpus, whole=False,
                    cores=min(processes * cpus, largest))
    most = max((n.cores for n in nodes), default=0)
    if per_node is not None:
        count = computing_nodes or math.ceil(processes / per_node)
        if count * per_node < processes:
            raise UsageError(f"{processes} processes do not fit {count} nodes of "
                             f"{per_node} processes")
    elif computing_nodes is not None:
        count, per_node = computing_nodes, math.ceil(processes / computing_nodes)
    else:
        fit = max(1, most // cpus)
        count = math.ceil(processes / fit)
        per_node = math.ceil(processes / count)
    _check_fits(processes, count, per_node, cpus, nodes)
    return Gang(count, processes, per_node, cpus, whole=count > 1, cores=per_node * cpus)


def multinode_gang(computing_nodes: int, per_node: int | None,
                   nodes: Sequence[NodeResources], oversubscribe: bool = False) -> Gang:
    """``@multinode``: K whole nodes (one, locally); Q processes per node for its env."""
    count = 1 if oversubscribe else computing_nodes
    most = max((n.cores for n in nodes), default=1)
    per = per_node or most
    if not oversubscribe:
        _check_fits(count * per, count, per, 1, nodes)
    return Gang(count, count * per, per, 1, whole=True, cores=min(per, most))


def _check_fits(processes: int, count: int, per_node: int, cpus: int,
                nodes: Sequence[NodeResources]) -> None:
    if processes < count:
        raise UsageError(f"{processes} processes cannot fill {count} nodes")
    most = max((n.cores for n in nodes), default=0)
    if per_node * cpus > most:
        raise UsageError(f"needs {per_node} processes x {cpus} cores = {per_node * cpus} "
                         f"cores per node but the largest node has {most}")
    able = [n for n in nodes if n.cores >= per_node * cpus]
    if count > len(able):
        raise UsageError(f"needs {count} nodes of {per_node * cpus} cores ({processes} "
                         f"processes) but the allocation has {len(able)} such nodes "
                         f"({len(nodes)} in all)")
