"""W1-W5 on any ``concurrent.futures``-style executor (ProcessPoolExecutor, MPIPoolExecutor).

These executors know no dependencies: the chain (W2) waits for each hop in the caller and
the reduction (W3) pairs results as they arrive, so every array goes through the caller.
"""

from __future__ import annotations

import concurrent.futures as cf
import time
from typing import Any

from benchmarks import workloads as wl


def run(executor: Any, workload: str, sizes: wl.Sizes, stamp_path: str) -> None:
    if workload == "w5":
        executor.submit(wl.stamp, stamp_path).result()
        return
    cf.wait([executor.submit(wl.nap, 0.1) for _ in range(2 * wl.WORKERS)])  # warm-up
    t0 = time.perf_counter()
    if workload == "w1":
        futures = [executor.submit(wl.noop, i) for i in range(sizes.w1_tasks)]
        values = [f.result() for f in futures]
        seconds = time.perf_counter() - t0
        wl.check_w1(values, sizes.w1_tasks)
    elif workload == "w2":
        x = 0
        for _ in range(sizes.w2_hops):
            x = executor.submit(wl.inc, x).result()
        seconds = time.perf_counter() - t0
        wl.check_w2(x, sizes.w2_hops)
    elif workload == "w3":
        array = reduce_as_completed(executor, sizes.w3_leaves)
        seconds = time.perf_counter() - t0
        wl.check_w3(array, sizes.w3_leaves)
    elif workload == "w4":
        for f in [executor.submit(wl.nap, sizes.w4_sleep) for _ in range(sizes.w4_tasks)]:
            f.result()
        seconds = time.perf_counter() - t0
    else:
        raise SystemExit(f"unknown workload {workload}")
    wl.emit(wl.measure(workload, sizes, seconds))


def reduce_as_completed(executor: Any, leaves: int) -> Any:
    """Sum ``leaves`` arrays pairwise, combining any two results as soon as both exist."""
    pending = {executor.submit(wl.leaf, i) for i in range(leaves)}
    ready: list[Any] = []
    while pending:
        done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
        ready.extend(f.result() for f in done)
        while len(ready) >= 2:
            pending.add(executor.submit(wl.add, ready.pop(), ready.pop()))
    return ready[0]
