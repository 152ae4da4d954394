"""A running local runtime: master plus this machine's agent, and how it ends."""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable
from typing import TextIO

from hpcflow.agents import malloc
from hpcflow.agents.local import LocalAgent, detect_node
from hpcflow.runtime.events import EventLog
from hpcflow.runtime.master import Master
from hpcflow.runtime.report import ProgressLine, format_summary
from hpcflow.scheduler.resources import NodeResources

#: The cyclic garbage collector's first threshold while a run is on. The master allocates
#: a few objects per task and keeps those of pending tasks alive: with Python's default
#: (700) it spent about 15% of its time in collections that found nothing (issue 7).
GC_YOUNG = 10_000


class Session:
    """A master with its agents; ``close`` waits for the tasks and stops everything."""

    def __init__(self, master: Master, progress: bool = False,
                 stream: TextIO = sys.stderr) -> None:
        self.master = master
        self._progress = ProgressLine(master.counts, stream) if progress else None
        self._closed = False
        self._gc: tuple[int, ...] | None = None
        self.on_close: list[Callable[[], None]] = []

    def start(self) -> Session:
        if self._progress is not None:
            self._progress.start()
        self._gc = gc.get_threshold()
        gc.set_threshold(max(GC_YOUNG, self._gc[0]), *self._gc[1:])
        gc.freeze()  # what start-up made is never garbage: not scanned again
        malloc.tune_this_process()
        return self

    def close(self) -> None:
        """Wait for every task to be final, then stop the agents (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            self.master.settle()
        finally:
            if self._progress is not None:
                self._progress.stop()
            self.master.shutdown()
            for hook in self.on_close:
                hook()
            if self._gc is not None:
                gc.set_threshold(*self._gc)
                gc.unfreeze()

    def summary(self) -> str:
        return format_summary(self.master.stats, time.time() - self.master.started)


def local_session(app_dir: str = "", workers: int | None = None, cpus: int | None = None,
                  memory_gb: float | None = None, progress: bool = False,
                  node: NodeResources | None = None, events: EventLog | None = None) -> Session:
    """Start the local runtime: one agent with a process pool sized to this machine."""
    master = Master(app_dir, events)
    agent = LocalAgent(node or detect_node(None, cpus, memory_gb, workers), master.on_results,
                       app_dir)
    agent.start()
    master.add_agent(agent)
    return Session(master, progress).start()
