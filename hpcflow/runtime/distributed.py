"""The distributed runtime inside a Slurm step: rank 0 is the master, every rank an agent."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from hpcflow.agents.local import LocalAgent, detect_node
from hpcflow.agents.mpi import MASTER, RemoteAgent, beater, master_hub, node_cpus, node_name
from hpcflow.errors import HpcflowError
from hpcflow.runtime.events import EventLog
from hpcflow.runtime.master import Master
from hpcflow.runtime.session import Session

LOST_AFTER = 5.0  # seconds of silence before an agent counts as lost


class _Agents:
    """The master's book of agent ranks: who joined, when each was last heard."""

    def __init__(self, master: Master, size: int, lost_after: float) -> None:
        self.master = master
        self.size = size
        self.lost_after = lost_after
        self.names: dict[int, str] = {}
        self.seen: dict[int, float] = {}
        self.lost: set[int] = set()
        self.joined = threading.Event()
        self.byes: set[int] = set()
        self.all_gone = threading.Event()
        self.hub: Any = None
        self.admit: Callable[[int, Any], bool] | None = None  # elastic: may a rank join?
        if size == 1:
            self.joined.set()

    def handle(self, source: int, kind: str, payload: Any) -> None:
        if source in self.lost:
            return
        self.seen[source] = time.monotonic()
        if kind == "results":
            self.master.on_results(payload)
        elif kind == "lost":
            self.lose(source, payload)
        elif kind == "bye":
            self.byes.add(source)
            self._check_gone()
        elif kind == "hello":
            assert self.hub is not None
            if self.admit is not None and not self.admit(source, payload):
                self.hub.send(source, "stop")
                return
            self.names[source] = payload.name
            self.master.add_agent(RemoteAgent(self.hub, source, payload))
            if sum(1 for rank in self.names if rank < self.size) == self.size - 1:
                self.joined.set()

    def _check_gone(self) -> None:
        if set(self.names) - self.lost <= self.byes:
            self.all_gone.set()

    def wait_byes(self, timeout: float) -> None:
        """After stop was sent: wait until every live agent said goodbye."""
        self._check_gone()
        self.all_gone.wait(timeout)

    def live(self) -> list[int]:
        return [r for r in self.names if r not in self.lost]

    def watch(self) -> None:
        now = time.monotonic()
        for rank, seen in list(self.seen.items()):
            if rank not in self.lost and now - seen > self.lost_after:
                self.lose(rank, f"agent rank {rank} silent for {now - seen:.1f} s")

    def lose(self, rank: int, reason: str) -> None:
        if rank in self.byes or rank in self.lost:
            return
        self.lost.add(rank)
        self._check_gone()
        assert self.hub is not None
        self.hub.forget(rank)
        name = self.names.get(rank, f"rank{rank}")
        sys.stderr.write(f"hpcflow: node {name} lost ({reason}); going on without it\n")
        self.master.on_agent_lost(name, reason)


def distributed_session(comm: Any, app_dir: str, progress: bool = False,
                        transport: str = "tcp", join_timeout: float = 60.0,
                        lost_after: float = LOST_AFTER, events: EventLog | None = None,
                        elastic: Callable[[Session, _Agents, Any], None] | None = None
                        ) -> Session:
    """Start the master on rank 0 with an agent for its own node; wait for the others.
    ``elastic(session, agents, hub)`` attaches the elastic controller of an elastic run."""
    size = comm.Get_size()
    master = Master(app_dir, events)
    agents = _Agents(master, size, lost_after)
    hub = master_hub(comm, agents.handle, transport)
    agents.hub = hub
    hub.every_loop(beater(hub, agents.live))
    hub.every_loop(agents.watch)
    hub.on_crash(lambda exc: master.abort(f"the MPI hub failed: {exc}"))
    local = LocalAgent(detect_node(node_name(), node_cpus()), master.on_results, app_dir)
    local.start()
    master.add_agent(local)
    hub.start()
    if not agents.joined.wait(join_timeout):
        missing = sorted(set(range(1, size)) - set(agents.names))
        for rank in missing:
            agents.lose(rank, f"did not join within {join_timeout:g} s")
    session = Session(master, progress)
    session.on_close.append(lambda: agents.wait_byes(10.0))
    session.on_close.append(hub.stop)
    if elastic is not None:
        elastic(session, agents, hub)
    return session.start()


def mpi_world() -> Any:
    """COMM_WORLD, after checking MPI sees the ranks srun started."""
    try:
        from mpi4py import MPI
    except ImportError:
        raise HpcflowError("mpi4py is not installed: pip install 'hpcflow[mpi]'") from None
    return MPI.COMM_WORLD


def check_world(comm: Any, expected: int) -> None:
    """Fail clearly when srun started N tasks but MPI sees a world of another size."""
    if comm.Get_size() != expected:
        raise HpcflowError(
            f"srun started {expected} tasks but MPI sees {comm.Get_size()}: set srun_mpi "
            f"in the site config (pmi2 for MPICH, pmix for Open MPI)")


__all__ = ["MASTER", "check_world", "distributed_session", "mpi_world"]
