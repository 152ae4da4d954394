"""Peer: ``concurrent.futures.ProcessPoolExecutor(2)``. ``WORKLOADS SIZES_JSON [STAMP]``."""

import sys
from concurrent.futures import ProcessPoolExecutor

from benchmarks import pools
from benchmarks import workloads as wl


def main(argv: list[str]) -> None:
    workloads, sizes, stamp_path = wl.parse_args(argv)
    with ProcessPoolExecutor(wl.WORKERS) as executor:
        for workload in workloads:
            pools.run(executor, workload, sizes, stamp_path)


if __name__ == "__main__":
    main(sys.argv[1:])
