"""Agents as MPI ranks: one thread per rank owns every MPI call.

Rank 0 hosts the master; every other rank is an agent with its own process pool.
Messages are batched per destination and sent with pickle protocol 5 (mpi4py's pkl5).
MPI progress busy-polls, so the hub never blocks inside MPI: it probes, and when idle it
backs off (50 us doubling to 2 ms) instead of spinning a core that tasks need.
"""

from __future__ import annotations

import collections
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from hpcflow.agents import malloc
from hpcflow.agents.local import detect_node
from hpcflow.agents.pool import WorkerPool
from hpcflow.agents.protocol import Assignment, Result
from hpcflow.errors import HpcflowError
from hpcflow.scheduler.resources import NodeResources

TAG = 71
MASTER = 0
BEAT_EVERY = 1.0  # seconds between heartbeats
MIN_IDLE, MAX_IDLE = 50e-6, 2e-3

Handler = Callable[[int, str, Any], None]


class Hub:
    """Sends queued messages and receives incoming ones on one MPI communicator."""

    def __init__(self, comm: Any, handler: Handler) -> None:
        from mpi4py.util import pkl5

        self.comm = pkl5.Intracomm(comm)
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self._handler = handler
        self._outbox: collections.deque[tuple[int, str, Any]] = collections.deque()
        self._pending: list[Any] = []
        self._dead: set[int] = set()
        self._stop = threading.Event()
        self._ticks: list[Callable[[], None]] = []
        self._on_crash: list[Callable[[BaseException], None]] = []
        self.crashed: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="hpcflow-mpi", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def send(self, dest: int, kind: str, payload: Any = None) -> None:
        """Queue a message (any thread); it leaves with the next batch."""
        self._outbox.append((dest, kind, payload))

    def every_loop(self, tick: Callable[[], None]) -> None:
        """Call ``tick`` from the hub thread on every turn (cheap checks only)."""
        self._ticks.append(tick)

    def forget(self, rank: int) -> None:
        """Never talk to ``rank`` again (it was lost)."""
        self._dead.add(rank)

    def stop(self, flush_for: float = 2.0) -> None:
        deadline = time.monotonic() + flush_for
        while (self._outbox or self._pending) and time.monotonic() < deadline:
            time.sleep(0.01)
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        try:
            self._turns()
        except Exception as exc:  # MPI failed under us: say so, then stop this rank
            sys.stderr.write(f"hpcflow: MPI hub on rank {self.rank} failed: "
                             f"{type(exc).__name__}: {exc}\n")
            self.crashed = exc
            for hook in self._on_crash:
                hook(exc)

    def on_crash(self, hook: Callable[[BaseException], None]) -> None:
        self._on_crash.append(hook)

    def _turns(self) -> None:
        idle = MIN_IDLE
        while not self._stop.is_set():
            busy = self._flush()
            busy = self._receive() or busy
            for tick in self._ticks:
                tick()
            if busy:
                idle = MIN_IDLE
            else:
                time.sleep(idle)
                idle = min(idle * 2, MAX_IDLE)

    def _flush(self) -> bool:
        if self._pending:
            self._pending = [r for r in self._pending if not r.test()[0]]
        if not self._outbox:
            return bool(self._pending)
        batches: dict[int, list[tuple[str, Any]]] = collections.defaultdict(list)
        while self._outbox:
            dest, kind, payload = self._outbox.popleft()
            if dest not in self._dead:
                batches[dest].append((kind, payload))
        for dest, batch in batches.items():
            self._pending.append(self.comm.isend(batch, dest=dest, tag=TAG))
        return True

    def _receive(self) -> bool:
        got = False
        while True:
            message = self.comm.improbe(source=_any_source(), tag=TAG)
            if message is None:
                return got
            batch, source = _recv(message)
            got = True
            for kind, payload in batch:
                self._handler(source, kind, payload)


def _any_source() -> int:
    from mpi4py import MPI

    return MPI.ANY_SOURCE


def _recv(message: Any) -> tuple[Any, int]:
    from mpi4py import MPI

    status = MPI.Status()
    data = message.recv(status=status)
    return data, status.Get_source()


class RemoteAgent:
    """The master's handle on an agent rank."""

    def __init__(self, hub: Hub, rank: int, resources: NodeResources) -> None:
        self.hub = hub
        self.rank = rank
        self.resources = resources

    def dispatch(self, assignment: Assignment) -> None:
        self.hub.send(self.rank, "assign", assignment)

    def kill(self, task_id: int, reason: str) -> None:
        self.hub.send(self.rank, "kill", (task_id, reason))

    def shutdown(self) -> None:
        self.hub.send(self.rank, "stop")


def node_name(env: dict[str, str] | None = None) -> str:
    """This node's name as Slurm knows it."""
    env = dict(os.environ) if env is None else env
    import socket

    return env.get("SLURMD_NODENAME") or socket.gethostname()


def node_cpus(env: dict[str, str] | None = None) -> int | None:
    """Cores Slurm gave this job on this node, when known."""
    env = dict(os.environ) if env is None else env
    value = env.get("SLURM_CPUS_ON_NODE", "")
    return int(value) if value.isdigit() else None


def agent_hub(comm: Any, handler: Handler, transport: str) -> Any:
    """This agent rank's hub: MPI itself, or TCP to the address rank 0 broadcasts."""
    if transport == "mpi":
        return Hub(comm, handler)
    from hpcflow.agents.tcp import TcpHub

    address, authkey = _share(comm, None)
    return TcpHub.agent(comm.Get_rank(), handler, address, authkey)


def master_hub(comm: Any, handler: Handler, transport: str) -> Any:
    """Rank 0's hub; for TCP, listen and broadcast the address and a fresh key."""
    if transport == "mpi":
        return Hub(comm, handler)
    from hpcflow.agents.tcp import TcpHub

    authkey = os.urandom(32)
    hub = TcpHub.master(handler, authkey)
    _share(comm, (hub.address, authkey))
    return hub


JOIN_TIMEOUT = 120.0  # seconds for every rank to reach the bootstrap


def _share(comm: Any, value: Any, timeout: float = JOIN_TIMEOUT) -> Any:
    """Broadcast ``value`` from rank 0 without ever blocking inside MPI for good.

    Non-blocking broadcast and barrier, polled with a deadline: a rank that died before
    the bootstrap makes the others fail with a clear error instead of spinning forever
    (a blocked MPI collective cannot be interrupted).
    """
    from mpi4py import MPI

    size = 512
    buffer = bytearray(size)
    if comm.Get_rank() == MASTER:
        (host, port), key = value
        blob = f"{host} {port} {key.hex()}".encode()
        buffer[: len(blob)] = blob
    _wait(comm.Ibcast([buffer, MPI.BYTE], root=MASTER), timeout, "the address broadcast")
    _wait(comm.Ibarrier(), timeout, "the bootstrap barrier")
    host, port, key = bytes(buffer).rstrip(b"\0").decode().split()
    return (host, int(port)), bytes.fromhex(key)


def _wait(request: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    pause = MIN_IDLE
    while not request.Test():
        if time.monotonic() > deadline:
            raise HpcflowError(f"not every rank reached {what} within {timeout:g} s "
                               f"(a rank died or MPI is misconfigured)")
        time.sleep(pause)
        pause = min(pause * 2, MAX_IDLE)


def serve_agent(comm: Any, app_dir: str, transport: str = "tcp",
                lost_after: float = 30.0) -> int:
    """Run an agent rank until the master says stop (or is silent for ``lost_after``)."""
    return serve_hub(lambda handle: agent_hub(comm, handle, transport), app_dir, lost_after)


def serve_hub(make_hub: Callable[[Handler], Any], app_dir: str,
              lost_after: float = 30.0) -> int:
    """Serve this node's pool through the hub ``make_hub(handler)`` until told to stop."""
    malloc.tune_this_process()
    stopped = threading.Event()
    last_heard = [time.monotonic()]
    hub: Hub

    def on_results(results: list[Result]) -> None:
        hub.send(MASTER, "results", results)

    resources = detect_node(node_name(), node_cpus())
    pool = WorkerPool(resources.task_slots, on_results, app_dir)

    def handle(source: int, kind: str, payload: Any) -> None:
        last_heard[0] = time.monotonic()
        if kind == "assign":
            pool.submit(payload)
        elif kind == "kill":
            pool.kill(*payload)
        elif kind in ("stop", "lost"):
            stopped.set()

    hub = make_hub(handle)
    hub.every_loop(beater(hub, lambda: [MASTER]))
    hub.on_crash(lambda exc: stopped.set())
    pool.start()
    hub.start()
    hub.send(MASTER, "hello", resources)
    while not stopped.wait(1.0):
        if time.monotonic() - last_heard[0] > lost_after:
            sys.stderr.write(f"hpcflow agent {resources.name}: master silent, exiting\n")
            break
    pool.shutdown()
    hub.send(MASTER, "bye")
    hub.stop()
    return 0


def beater(hub: Hub, targets: Callable[[], list[int]]) -> Callable[[], None]:
    """A hub tick that sends a heartbeat to ``targets()`` every BEAT_EVERY seconds."""
    last = [0.0]

    def beat() -> None:
        now = time.monotonic()
        if now - last[0] >= BEAT_EVERY:
            last[0] = now
            for rank in targets():
                hub.send(rank, "beat")

    return beat
