"""Master/agent messages over TCP, authenticated before a byte is unpickled.

MPI launches the ranks and hands out the master's address and a per-run key; after that,
messages travel on plain sockets so that a dead peer is an end-of-stream on one socket,
not an error inside MPI progress that takes every rank down (MPICH's ofi netmod aborts
all ranks when one dies). Peers prove they know the key with the HMAC challenge of
``multiprocessing.connection`` before anything is read from them. Threads block on the
sockets; nothing polls.
"""

from __future__ import annotations

import collections
import os
import pickle
import socket
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Client, Connection, Listener, wait
from typing import Any

from hpcflow.agents.mpi import Handler

TICK = 0.1  # seconds between timer ticks (heartbeats, watchdogs)


def advertised_host() -> str:
    """An address of this node that other nodes can reach."""
    override = os.environ.get("HPCFLOW_ADVERTISE_HOST")
    if override:
        return override
    for name in (socket.gethostname(), socket.getfqdn()):
        try:
            return socket.gethostbyname(name)
        except OSError:
            continue
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: it only picks a route
            return str(probe.getsockname()[0])
    except OSError:
        return "127.0.0.1"


class TcpHub:
    """Batched messages to and from peers identified by rank; same interface as ``Hub``."""

    def __init__(self, rank: int, handler: Handler) -> None:
        self.rank = rank
        self._handler = handler
        self._peers: dict[int, Connection] = {}
        self._outbox: collections.deque[tuple[int, str, Any]] = collections.deque()
        self._lock = threading.Condition()
        self._dead: set[int] = set()
        self._ticks: list[Callable[[], None]] = []
        self._on_crash: list[Callable[[BaseException], None]] = []
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self._listener: Listener | None = None
        self.address: tuple[str, int] | None = None
        self.authkey = b""
        self._threads = [threading.Thread(target=f, name=f"hpcflow-tcp-{f.__name__}",
                                          daemon=True)
                         for f in (self._send_loop, self._recv_loop, self._tick_loop)]

    # -- set-up -----------------------------------------------------------------------
    @classmethod
    def master(cls, handler: Handler, authkey: bytes, host: str | None = None) -> TcpHub:
        """Rank 0: listen on this node for agents that know ``authkey``."""
        hub = cls(0, handler)
        hub.authkey = authkey  # elastic growth hands it to extension jobs (0600 file)
        hub._listener = Listener(("", 0), authkey=authkey, backlog=1024)
        hub.address = (host or advertised_host(), hub._listener.address[1])
        threading.Thread(target=hub._accept_loop, name="hpcflow-tcp-accept",
                         daemon=True).start()
        return hub

    @classmethod
    def agent(cls, rank: int, handler: Handler, address: tuple[str, int],
              authkey: bytes) -> TcpHub:
        """An agent: connect to the master and introduce ourselves by rank."""
        hub = cls(rank, handler)
        conn = Client(address, authkey=authkey)
        conn.send_bytes(pickle.dumps(rank))
        hub._peers[0] = conn
        return hub

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                conn = self._listener.accept()  # authenticated by the HMAC challenge
                rank = pickle.loads(conn.recv_bytes())
            except (OSError, EOFError, pickle.UnpicklingError) as exc:
                if self._stop.is_set():
                    return
                sys.stderr.write(f"hpcflow: refused a connection: {exc}\n")
                continue
            with self._lock:
                self._peers[int(rank)] = conn
            os.write(self._wake_w, b"x")

    # -- the Hub interface ------------------------------------------------------------
    def send(self, dest: int, kind: str, payload: Any = None) -> None:
        with self._lock:
            self._outbox.append((dest, kind, payload))
            self._lock.notify()

    def every_loop(self, tick: Callable[[], None]) -> None:
        self._ticks.append(tick)

    def on_crash(self, hook: Callable[[BaseException], None]) -> None:
        self._on_crash.append(hook)

    def forget(self, rank: int) -> None:
        with self._lock:
            self._dead.add(rank)
            conn = self._peers.pop(rank, None)
        if conn is not None:
            conn.close()

    def stop(self, flush_for: float = 2.0) -> None:
        with self._lock:
            self._lock.wait_for(lambda: not self._outbox, timeout=flush_for)
            self._stop.set()
            self._lock.notify_all()
        os.write(self._wake_w, b"x")
        if self._listener is not None:
            self._listener.close()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=2)

    # -- threads ----------------------------------------------------------------------
    def _send_loop(self) -> None:
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._outbox or self._stop.is_set())
                if self._stop.is_set() and not self._outbox:
                    return
                batches: dict[int, list[tuple[str, Any]]] = collections.defaultdict(list)
                while self._outbox:
                    dest, kind, payload = self._outbox.popleft()
                    if dest not in self._dead:
                        batches[dest].append((kind, payload))
                conns = {d: self._peers.get(d) for d in batches}
                self._lock.notify_all()
            for dest, batch in batches.items():
                self._send_batch(dest, conns[dest], batch)

    def _send_batch(self, dest: int, conn: Connection | None, batch: list[Any]) -> None:
        if conn is None:
            return
        try:
            conn.send_bytes(pickle.dumps(batch, protocol=5))
        except OSError as exc:
            self._lost(dest, f"send failed: {exc}")

    def _recv_loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                peers = {conn: rank for rank, conn in self._peers.items()}
            ready = wait([self._wake_r, *peers])
            for item in ready:
                if item == self._wake_r:
                    os.read(self._wake_r, 4096)
                elif item in peers:
                    self._receive(peers[item], item)

    def _receive(self, rank: int, conn: Connection) -> None:
        try:
            batch = pickle.loads(conn.recv_bytes())
        except (EOFError, OSError) as exc:
            self._lost(rank, f"connection closed ({type(exc).__name__})")
            return
        for kind, payload in batch:
            try:
                self._handler(rank, kind, payload)
            except Exception as exc:  # keep serving the other peers
                for hook in self._on_crash:
                    hook(exc)

    def _lost(self, rank: int, reason: str) -> None:
        with self._lock:
            if rank in self._dead or self._stop.is_set():
                return
            self._dead.add(rank)
            conn = self._peers.pop(rank, None)
        if conn is not None:
            conn.close()
        self._handler(rank, "lost", reason)

    def _tick_loop(self) -> None:
        while not self._stop.wait(TICK):
            for tick in self._ticks:
                tick()
