"""Peer: a raw mpi4py master/worker loop, the practical limit of a Python task farm.

``mpiexec -n 3 python -m benchmarks.peer_raw_mpi WORKLOADS SIZES_JSON [STAMP]``: rank 0 is
the master, the other ranks loop ``recv job -> run -> send result``. The master keeps up
to ``DEPTH`` jobs in flight per worker (prefetch hides the round trip) and sends with
``isend`` when a job carries arrays, so it never blocks against a worker returning a large
result. There
is no dependency tracking: the chain waits for each hop, the reduction pairs results as
they arrive at the master (every array goes through it).
"""

from __future__ import annotations

import sys
import time
from collections import deque
from typing import Any

from mpi4py import MPI

from benchmarks import workloads as wl

DEPTH = 2
LARGE = {"add"}  # jobs carrying arrays: sent with isend (see Farm._pump)
FUNCS = {"noop": wl.noop, "inc": wl.inc, "leaf": wl.leaf, "add": wl.add, "nap": wl.nap,
         "stamp": wl.stamp}


class Farm:
    """The master side: queue jobs, keep workers fed, collect results."""

    def __init__(self, comm: Any) -> None:
        self.comm = comm
        self.inflight = {rank: 0 for rank in range(1, comm.Get_size())}
        self.queue: deque[tuple[int, str, tuple[Any, ...]]] = deque()
        self.sends: list[Any] = []
        self.next_id = 0

    def submit(self, name: str, *args: Any) -> int:
        job = self.next_id
        self.next_id += 1
        self.queue.append((job, name, args))
        self._pump()
        return job

    def _pump(self) -> None:
        while self.queue:
            rank = min(self.inflight, key=self.inflight.__getitem__)
            if self.inflight[rank] >= DEPTH:
                return
            self.inflight[rank] += 1
            job = self.queue.popleft()
            if job[1] in LARGE:
                self.sends.append(self.comm.isend(job, dest=rank))
            else:
                self.comm.send(job, dest=rank)  # small: sent eagerly, never blocks
        if len(self.sends) > 64:
            self.sends = [r for r in self.sends if not r.Test()]

    def result(self) -> tuple[int, Any]:
        status = MPI.Status()
        job, value = self.comm.recv(source=MPI.ANY_SOURCE, status=status)
        self.inflight[status.Get_source()] -= 1
        self._pump()
        return job, value

    def stop(self) -> None:
        MPI.Request.Waitall(self.sends)
        for rank in self.inflight:
            self.comm.send(None, dest=rank)


def serve(comm: Any) -> None:
    while True:
        message = comm.recv(source=0)
        if message is None:
            return
        job, name, args = message
        comm.send((job, FUNCS[name](*args)), dest=0)


def run(farm: Farm, workload: str, sizes: wl.Sizes, stamp_path: str) -> None:
    if workload == "w5":
        farm.submit("stamp", stamp_path)
        farm.result()
        return
    for _ in range(2 * wl.WORKERS):  # warm-up
        farm.submit("nap", 0.1)
    for _ in range(2 * wl.WORKERS):
        farm.result()
    t0 = time.perf_counter()
    if workload == "w1":
        for i in range(sizes.w1_tasks):
            farm.submit("noop", i)
        values = [farm.result()[1] for _ in range(sizes.w1_tasks)]
        seconds = time.perf_counter() - t0
        wl.check_w1(values, sizes.w1_tasks)
    elif workload == "w2":
        x = 0
        for _ in range(sizes.w2_hops):
            farm.submit("inc", x)
            x = farm.result()[1]
        seconds = time.perf_counter() - t0
        wl.check_w2(x, sizes.w2_hops)
    elif workload == "w3":
        for i in range(sizes.w3_leaves):
            farm.submit("leaf", i)
        ready: list[Any] = []
        for _ in range(2 * sizes.w3_leaves - 1):  # leaves + adds
            ready.append(farm.result()[1])
            while len(ready) >= 2:
                farm.submit("add", ready.pop(), ready.pop())
        seconds = time.perf_counter() - t0
        wl.check_w3(ready[0], sizes.w3_leaves)
    elif workload == "w4":
        for _ in range(sizes.w4_tasks):
            farm.submit("nap", sizes.w4_sleep)
        for _ in range(sizes.w4_tasks):
            farm.result()
        seconds = time.perf_counter() - t0
    else:
        raise SystemExit(f"unknown workload {workload}")
    wl.emit(wl.measure(workload, sizes, seconds))


def main(argv: list[str]) -> None:
    comm = MPI.COMM_WORLD
    if comm.Get_rank() != 0:
        serve(comm)
        return
    workloads, sizes, stamp_path = wl.parse_args(argv)
    farm = Farm(comm)
    try:
        for workload in workloads:
            run(farm, workload, sizes, stamp_path)
    finally:
        farm.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
