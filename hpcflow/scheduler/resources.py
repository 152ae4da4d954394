"""Node resources and the ledger of what is free on each node."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hpcflow.graph.spec import Constraints


@dataclass(frozen=True)
class NodeResources:
    """What one node (one agent) offers."""

    name: str
    cores: int
    memory_gb: float
    architecture: str = ""
    processor_type: str = ""
    gpus: int = 0
    slots: int = 0  # task processes it runs at once; 0 means one per core
    software: frozenset[str] = frozenset()  # software tags of the site config
    queue: int = 0  # tasks of one core it takes beyond its slots, queued in the agent

    @property
    def task_slots(self) -> int:
        return self.slots or self.cores

    def satisfies(self, c: Constraints) -> bool:
        """Could a task with constraints ``c`` ever run on this node (when idle)?"""
        return (c.computing_units <= self.cores and c.memory_size <= self.memory_gb
                and c.gpus <= self.gpus and matches(c.processor_architecture, self.architecture)
                and matches(c.processor_type, self.processor_type)
                and c.app_software <= self.software)


#: Tasks shorter than this on average (seconds) are prefetched deeply: the round trip to
#: the master would cost more than they do.
SHORT_TASK = 0.002
#: How many times its usual queue a node's agent holds while tasks are short.
DEEP_PREFETCH = 32


def prefetch_depth(queue: int, mean_seconds: float | None) -> int:
    """The tasks a node with a usual ``queue`` should hold queued, given the recent mean
    duration of tasks (None: nothing measured yet)."""
    if mean_seconds is not None and mean_seconds < SHORT_TASK:
        return queue * DEEP_PREFETCH
    return queue


def queueable(c: Constraints) -> bool:
    """May a task wait in an agent's queue for a slot (prefetch)? One core, nothing else."""
    return c.computing_units == 1 and not c.memory_size and not c.gpus and not c.alongside


def matches(wanted: str | None, have: str) -> bool:
    """Does a node's ``have`` (architecture, CPU model) satisfy what a task asks?"""
    return not wanted or wanted.lower() in have.lower()


@dataclass
class NodeLedger:
    """Free resources of one node; the scheduler reserves and releases on it.

    A node with a ``queue`` also takes queueable tasks when its slots are full: they wait
    in its agent (a task process starts the next one without a round trip to the master)
    and take the resources of the first task to end.
    """

    node: NodeResources
    free_cores: int = -1
    free_memory_gb: float = -1.0
    free_gpus: int = -1
    free_slots: int = -1
    free_queue: int = -1
    queue_depth: int = -1  # the queue in force (``node.queue``, deeper for short tasks)
    alive: bool = True
    draining: bool = False  # elastic shrink: no new tasks, running ones finish
    queue_stopped: bool = False  # walltime drain: no task waits in the agent any more
    running: set[int] = field(default_factory=set)  # every task placed here, queued or not
    held: dict[int, Constraints] = field(default_factory=dict)  # what each task reserved
    queued: dict[int, Constraints] = field(default_factory=dict)  # waiting for a slot
    # told of every release (the index of nodes with room; a reservation only takes room,
    # which the index finds out lazily)
    on_change: Callable[[NodeLedger], None] | None = field(default=None, repr=False,
                                                           compare=False)

    def __post_init__(self) -> None:
        if self.free_cores < 0:
            self.free_cores = self.node.cores
        if self.free_memory_gb < 0:
            self.free_memory_gb = self.node.memory_gb
        if self.free_gpus < 0:
            self.free_gpus = self.node.gpus
        if self.free_slots < 0:
            self.free_slots = self.node.task_slots
        if self.queue_depth < 0:
            self.queue_depth = self.node.queue
        if self.free_queue < 0:
            self.free_queue = self.queue_depth

    @property
    def has_room(self) -> bool:
        return self.usable and ((self.free_slots > 0 and self.free_cores > 0)
                                or self.free_queue > 0)

    @property
    def usable(self) -> bool:
        """Alive and not draining: new tasks may go here."""
        return self.alive and not self.draining

    def fits(self, c: Constraints) -> bool:
        if not self.alive or self.draining:
            return False
        if (c.processor_architecture or c.processor_type or c.app_software) and not (
                matches(c.processor_architecture, self.node.architecture)
                and matches(c.processor_type, self.node.processor_type)
                and c.app_software <= self.node.software):
            return False
        if (self.free_slots > 0 and c.computing_units <= self.free_cores
                and c.memory_size <= self.free_memory_gb + 1e-9 and c.gpus <= self.free_gpus):
            return True
        return self.free_queue > 0 and queueable(c)

    def _fits_now(self, c: Constraints) -> bool:
        return (self.free_slots > 0 and c.computing_units <= self.free_cores
                and c.memory_size <= self.free_memory_gb + 1e-9 and c.gpus <= self.free_gpus)

    def stop_queueing(self) -> None:
        """Take no more queued tasks: the capacity goes, those already queued count down."""
        if not self.queue_stopped:
            self.queue_stopped = True
            self.free_queue -= self.queue_depth

    def set_queue_depth(self, depth: int) -> None:
        """Queue up to ``depth`` tasks from now on (those queued beyond it count down)."""
        if self.queue_stopped or depth == self.queue_depth:
            return
        self.free_queue += depth - self.queue_depth
        self.queue_depth = depth
        if self.on_change is not None:
            self.on_change(self)

    @property
    def idle(self) -> bool:
        """Alive with nothing running: a whole-node task may take it."""
        return self.usable and not self.running

    def whole(self) -> Constraints:
        """Everything this node offers, as one reservation (whole-node tasks)."""
        node = self.node
        return Constraints(computing_units=node.cores, memory_size=node.memory_gb,
                           gpus=node.gpus)

    def reserve(self, task_id: int, c: Constraints) -> None:
        if self.free_queue > 0 and queueable(c) and not self._fits_now(c):
            self.queued[task_id] = c
            self.free_queue -= 1
        else:
            self._take(task_id, c)
        self.running.add(task_id)

    def _take(self, task_id: int, c: Constraints) -> None:
        self.held[task_id] = c
        self.free_cores -= c.computing_units
        self.free_memory_gb -= c.memory_size
        self.free_gpus -= c.gpus
        self.free_slots -= 1

    def release(self, task_id: int, c: Constraints | None = None) -> None:
        """Give back what ``task_id`` reserved (``c`` only if the ledger did not record it)."""
        if task_id not in self.running:
            return
        self.running.discard(task_id)
        if self.queued.pop(task_id, None) is not None:
            self.free_queue += 1
        else:
            c = self.held.pop(task_id, c) or Constraints()
            self.free_cores += c.computing_units
            self.free_memory_gb += c.memory_size
            self.free_gpus += c.gpus
            self.free_slots += 1
            self._promote()
        if self.on_change is not None:
            self.on_change(self)

    def _promote(self) -> None:
        """Queued tasks take the resources freed, first queued first."""
        while self.queued:
            task_id, c = next(iter(self.queued.items()))
            if not self._fits_now(c):
                return
            del self.queued[task_id]
            self.free_queue += 1
            self._take(task_id, c)
