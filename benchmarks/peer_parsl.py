"""Peer: Parsl ``HighThroughputExecutor`` with 2 workers on a ``LocalProvider`` block.

Dependencies are AppFutures passed as arguments (Parsl's data flow), values travel through
the interchange. ``WORKLOADS SIZES_JSON [STAMP]``.
"""

import sys
import tempfile
import time

import parsl
from parsl.app.app import python_app
from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.providers import LocalProvider

from benchmarks import workloads as wl


def main(argv: list[str]) -> None:
    workloads, sizes, stamp_path = wl.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-parsl-") as run_dir:
        config = Config(
            executors=[HighThroughputExecutor(
                label="htex", address="127.0.0.1", max_workers_per_node=wl.WORKERS,
                cores_per_worker=1,
                provider=LocalProvider(init_blocks=1, min_blocks=1, max_blocks=1))],
            run_dir=run_dir, strategy="none", initialize_logging=False)
        dfk = parsl.load(config)
        try:
            for workload in workloads:
                run(workload, sizes, stamp_path)
        finally:
            dfk.cleanup()
            parsl.clear()


def run(workload: str, sizes: wl.Sizes, stamp_path: str) -> None:
    noop, inc, leaf, add, nap, stamp = (
        python_app(f, executors=["htex"])
        for f in (wl.noop, wl.inc, wl.leaf, wl.add, wl.nap, wl.stamp))
    if workload == "w5":
        stamp(stamp_path).result()
        return
    for f in [nap(0.1) for _ in range(2 * wl.WORKERS)]:  # warm-up
        f.result()
    t0 = time.perf_counter()
    if workload == "w1":
        values = [f.result() for f in [noop(i) for i in range(sizes.w1_tasks)]]
        seconds = time.perf_counter() - t0
        wl.check_w1(values, sizes.w1_tasks)
    elif workload == "w2":
        x = 0
        for _ in range(sizes.w2_hops):
            x = inc(x)
        value = x.result()
        seconds = time.perf_counter() - t0
        wl.check_w2(value, sizes.w2_hops)
    elif workload == "w3":
        array = wl.pairwise([leaf(i) for i in range(sizes.w3_leaves)], add).result()
        seconds = time.perf_counter() - t0
        wl.check_w3(array, sizes.w3_leaves)
    elif workload == "w4":
        for f in [nap(sizes.w4_sleep) for _ in range(sizes.w4_tasks)]:
            f.result()
        seconds = time.perf_counter() - t0
    else:
        raise SystemExit(f"unknown workload {workload}")
    wl.emit(wl.measure(workload, sizes, seconds))


if __name__ == "__main__":
    main(sys.argv[1:])
