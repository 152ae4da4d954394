"""A running local runtime: master plus this machine's agent, and how it ends."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from hpcflow.agents.local import LocalAgent, detect_node
from hpcflow.runtime.events import EventLog
from hpcflow.runtime.master import Master
from hpcflow.runtime.report import ProgressLine, format_summary
from hpcflow.scheduler.resources import NodeResources


class Session:
    """A master with its agents; ``close`` waits for the tasks and stops everything."""

    def __init__(self, master: Master, progress: bool = False,
                 stream: TextIO = sys.stderr) -> None:
        self.master = master
        self._progress = ProgressLine(master.counts, stream) if progress else None
        self._closed = False
        self.on_close: list[Callable[[], None]] = []

    def start(self) -> Session:
        if self._progress is not None:
            self._progress.start()
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
