"""The hpcflow side of W1-W5: an app run by ``hpcflow run --quiet --workers 2``.

Arguments: ``WORKLOADS SIZES_JSON [STAMP_PATH]`` (comma-separated workloads). The app
times itself after a warm-up (so the runtime's start-up and teardown stay outside W1-W4)
and prints one result line per workload. The task bodies are the shared ones in
benchmarks/workloads.py, decorated here as a user would.
"""

import os
import sys
import time

import hpcflow
from benchmarks import workloads as wl
from hpcflow import task, wait_on

noop = task(returns=1)(wl.noop)
inc = task(returns=1)(wl.inc)
leaf = task(returns=1)(wl.leaf)
add = task(returns=1)(wl.add)
nap = task(returns=1)(wl.nap)
stamp = task(returns=1)(wl.stamp)


def main() -> None:
    workloads, sizes, stamp_path = wl.parse_args(sys.argv[1:])
    for workload in workloads:
        run(workload, sizes, stamp_path)


def run(workload: str, sizes: wl.Sizes, stamp_path: str) -> None:
    if workload == "w5":
        wait_on(stamp(stamp_path))
        return
    wait_on([nap(0.1) for _ in range(2 * wl.WORKERS)])  # warm-up: both task processes up
    rss0 = wl.rss_bytes()
    t0 = time.perf_counter()
    extra: dict[str, object] = {"hpcflow_from": os.path.dirname(hpcflow.__file__)}
    if workload == "w1":
        futures = [noop(i) for i in range(sizes.w1_tasks)]
        submitted = time.perf_counter() - t0
        values = wait_on(futures)
        seconds = time.perf_counter() - t0
        wl.check_w1(values, sizes.w1_tasks)
        extra.update(submit_s=submitted,
                     master_rss_per_task_b=(wl.rss_bytes() - rss0) / sizes.w1_tasks)
    elif workload == "w2":
        x = 0
        for _ in range(sizes.w2_hops):
            x = inc(x)
        value = wait_on(x)
        seconds = time.perf_counter() - t0
        wl.check_w2(value, sizes.w2_hops)
    elif workload == "w3":
        final = wl.pairwise([leaf(i) for i in range(sizes.w3_leaves)], add)
        array = wait_on(final)
        seconds = time.perf_counter() - t0
        wl.check_w3(array, sizes.w3_leaves)
        extra["master_rss_growth_mb"] = (wl.rss_bytes() - rss0) / 2**20
    elif workload == "w4":
        wait_on([nap(sizes.w4_sleep) for _ in range(sizes.w4_tasks)])
        seconds = time.perf_counter() - t0
    else:
        raise SystemExit(f"unknown workload {workload}")
    wl.emit(wl.measure(workload, sizes, seconds, **extra))


if __name__ == "__main__":
    main()
