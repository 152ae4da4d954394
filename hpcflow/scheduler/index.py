"""An index of the nodes with room, so that one placement decision costs O(log n).

Pure. :class:`NodeLedgers` is the ``name -> NodeLedger`` mapping the scheduler places on;
it keeps a :class:`FreeIndex` up to date: the ledgers it holds report every release to
it. The index is a max-heap of the nodes by free cores (ties: the order in which the nodes
were added, the order a scan of the mapping would see them), one heap per static node
shape a task asks for (processor architecture and type), with lazy updates: a reservation
is not pushed (it only lowers a node's free cores, so the node's newest entry still ranks
it at least as high as it should); an entry that overstates its node's free cores is
pushed again with the right count when it reaches the top, one that understates them (an
older one) is dropped.

``best(c)`` returns exactly what a scan of the mapping for ``max(free_cores)`` among the
nodes that fit ``c`` returns, popping only the nodes with the most free cores that do not
fit (memory, GPUs), which a homogeneous allocation never has.

With a single node (a laptop, one agent) there is nothing to rank: the index asks that
node directly and keeps no heap until a second node is added.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Collection, Iterable

from hpcflow.graph.spec import Constraints
from hpcflow.scheduler.resources import NodeLedger, NodeResources, matches, queueable

Shape = tuple[str, str, frozenset[str]]  # (architecture, CPU type, software) a task asks for
_Entry = tuple[int, int, int, NodeLedger]  # (-free cores, order, tick, ledger)
_ANY: Shape = ("", "", frozenset())
_ONE = Constraints()


def _shape_ok(shape: Shape, node: NodeResources) -> bool:
    return (matches(shape[0], node.architecture) and matches(shape[1], node.processor_type)
            and shape[2] <= node.software)


class FreeIndex:
    """The nodes with room, by free cores, per task shape."""

    def __init__(self, ledgers: Iterable[NodeLedger] = ()) -> None:
        self._order: dict[str, int] = {}
        self._current: dict[str, NodeLedger] = {}
        self._any: list[_Entry] = []  # every node with room
        self._heaps: dict[Shape, list[_Entry]] = {_ANY: self._any}
        self._orders = itertools.count()
        self._limit = 1024  # heap entries past which a heap is rebuilt without stale ones
        self._ticks = itertools.count()
        for ledger in ledgers:
            self.add(ledger)

    def add(self, ledger: NodeLedger) -> None:
        """Index ``ledger`` (replacing a ledger of the same node name)."""
        name = ledger.node.name
        if name not in self._order:
            self._order[name] = next(self._orders)
        self._current[name] = ledger
        self._limit = 8 * len(self._current) + 1024  # rebuilds amortised over 7n pushes
        if len(self._current) == 2:  # the heaps start now (a single node kept none)
            self._any = self._build(_ANY)
            self._heaps = {_ANY: self._any}
        else:
            self.changed(ledger)

    def _single(self) -> NodeLedger | None:
        """The one node indexed, if there is exactly one."""
        if len(self._current) != 1:
            return None
        return next(iter(self._current.values()))

    def remove(self, name: str) -> None:
        self._current.pop(name, None)
        self._order.pop(name, None)

    def order(self, name: str) -> int:
        return self._order[name]

    def changed(self, ledger: NodeLedger) -> None:
        """``ledger`` reserved or released something: index its new free cores."""
        if len(self._current) == 1 or not self._live(ledger):
            return  # a single node is asked directly; no room, or no longer indexed
        entry = (-ledger.free_cores, self._order[ledger.node.name], next(self._ticks), ledger)
        heapq.heappush(self._any, entry)
        if len(self._any) > self._limit:
            self._heaps[_ANY] = self._any = self._build(_ANY)
        if len(self._heaps) > 1:
            self._push_shaped(entry)

    def _push_shaped(self, entry: _Entry) -> None:
        for shape, heap in list(self._heaps.items()):
            if shape != _ANY and _shape_ok(shape, entry[3].node):
                heapq.heappush(heap, entry)
                if len(heap) > self._limit:
                    self._heaps[shape] = self._build(shape)

    def _build(self, shape: Shape) -> list[_Entry]:
        order, ticks = self._order, self._ticks
        heap = [
            (-lg.free_cores, order[name], next(ticks), lg)
            for name, lg in self._current.items()
            if lg.has_room and (shape is _ANY or _shape_ok(shape, lg.node))
        ]
        heapq.heapify(heap)
        return heap

    def _live(self, ledger: NodeLedger) -> bool:
        """Indexed and with room (``ledger.has_room``, inlined on this hot path)."""
        return (
            ledger.alive and not ledger.draining
            and ((ledger.free_slots > 0 and ledger.free_cores > 0) or ledger.free_queue > 0)
            and self._current.get(ledger.node.name) is ledger
        )

    def _valid(self, entry: _Entry) -> bool:
        return -entry[0] == entry[3].free_cores and self._live(entry[3])

    def _fix_top(self, heap: list[_Entry], entry: _Entry) -> None:
        """Drop the invalid top ``entry``, or rank it again when its node has fewer free
        cores than it says (a reservation not pushed) and still has room."""
        ledger = entry[3]
        if -entry[0] > ledger.free_cores and self._live(ledger):
            heapq.heapreplace(heap, (-ledger.free_cores, entry[1], next(self._ticks), ledger))
        else:
            heapq.heappop(heap)

    def has_room(self, exclude: Collection[str] = ()) -> bool:
        """Is there a node with a free core and a free slot (not in ``exclude``)?"""
        single = self._single()
        if single is not None:
            return single.node.name not in exclude and self._live(single)
        heap = self._any
        if heap and not exclude and self._live(heap[0][3]):  # even if its count is outdated
            return True
        return self._top(heap, _ONE, exclude, fit=False) is not None

    def best(self, c: Constraints, exclude: Collection[str] = ()) -> NodeLedger | None:
        """The node that fits ``c`` with the most free cores (first added on ties)."""
        single = self._single()
        if single is not None:
            fit = single.node.name not in exclude and self._live(single) and single.fits(c)
            return single if fit else None
        shape = (c.processor_architecture or "", c.processor_type or "", c.app_software)
        heap = self._heaps.get(shape)
        if heap is None:
            heap = self._heaps[shape] = self._build(shape)
        return self._top(heap, c, exclude, fit=True)

    def _top(
        self, heap: list[_Entry], c: Constraints, exclude: Collection[str], fit: bool
    ) -> NodeLedger | None:
        while heap and not self._valid(heap[0]):
            self._fix_top(heap, heap[0])
        if heap and not exclude:  # the common case: the top fits
            ledger = heap[0][3]
            if not fit or ledger.fits(c):
                return ledger
        passed: list[_Entry] = []
        found = None
        while heap:
            entry = heap[0]
            if not self._valid(entry):
                self._fix_top(heap, entry)
                continue
            ledger = entry[3]
            if fit and ledger.free_cores < c.computing_units and not queueable(c):
                break  # no node further down has the cores (a queue takes one-core tasks)
            passed.append(heapq.heappop(heap))
            if ledger.node.name not in exclude and (not fit or ledger.fits(c)):
                found = ledger
                break
        for entry in passed:  # the one found goes back too: its next change outdates it
            heapq.heappush(heap, entry)
        return found


class NodeLedgers(dict[str, NodeLedger]):
    """The scheduler's ``name -> NodeLedger`` mapping, with its :class:`FreeIndex`.

    The ledgers put in it report their reservations and releases to the index; a ledger
    brought back to life (``alive`` set again) must be put in again.
    """

    def __init__(self, ledgers: Iterable[NodeLedger] = ()) -> None:
        super().__init__()
        self.index = FreeIndex()
        for ledger in ledgers:
            self[ledger.node.name] = ledger

    def __setitem__(self, name: str, ledger: NodeLedger) -> None:
        super().__setitem__(name, ledger)
        ledger.on_change = self.index.changed
        self.index.add(ledger)

    def __delitem__(self, name: str) -> None:
        super().__delitem__(name)
        self.index.remove(name)

    def pop(self, name: str, *default: NodeLedger | None) -> NodeLedger | None:  # type: ignore[override]
        self.index.remove(name)
        return super().pop(name, *default)
