"""Peer: dask.distributed ``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)``.

Dependencies are futures passed as arguments, so the chain and the reduction tree are
resolved by the scheduler and arrays move between workers. ``WORKLOADS SIZES_JSON [STAMP]``.
"""

import logging
import sys
import time

from dask.distributed import Client, LocalCluster, wait

from benchmarks import workloads as wl


def main(argv: list[str]) -> None:
    workloads, sizes, stamp_path = wl.parse_args(argv)
    logging.getLogger("distributed").setLevel(logging.ERROR)
    with LocalCluster(n_workers=wl.WORKERS, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        for workload in workloads:
            run(client, workload, sizes, stamp_path)


def run(client: Client, workload: str, sizes: wl.Sizes, stamp_path: str) -> None:
    def submit(func, *args):
        return client.submit(func, *args, pure=False)

    if workload == "w5":
        submit(wl.stamp, stamp_path).result()
        return
    wait([submit(wl.nap, 0.1) for _ in range(2 * wl.WORKERS)])  # warm-up
    t0 = time.perf_counter()
    if workload == "w1":
        values = client.gather([submit(wl.noop, i) for i in range(sizes.w1_tasks)])
        seconds = time.perf_counter() - t0
        wl.check_w1(values, sizes.w1_tasks)
    elif workload == "w2":
        x = 0
        for _ in range(sizes.w2_hops):
            x = submit(wl.inc, x)
        value = x.result()
        seconds = time.perf_counter() - t0
        wl.check_w2(value, sizes.w2_hops)
    elif workload == "w3":
        leaves = [submit(wl.leaf, i) for i in range(sizes.w3_leaves)]
        array = wl.pairwise(leaves, lambda a, b: submit(wl.add, a, b)).result()
        seconds = time.perf_counter() - t0
        wl.check_w3(array, sizes.w3_leaves)
    elif workload == "w4":
        client.gather([submit(wl.nap, sizes.w4_sleep) for _ in range(sizes.w4_tasks)])
        seconds = time.perf_counter() - t0
    else:
        raise SystemExit(f"unknown workload {workload}")
    wl.emit(wl.measure(workload, sizes, seconds))


if __name__ == "__main__":
    main(sys.argv[1:])
