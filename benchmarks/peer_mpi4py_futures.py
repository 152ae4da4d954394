"""Peer: mpi4py.futures ``MPIPoolExecutor`` on the ranks of
``mpiexec -n 3 python -m mpi4py.futures -m benchmarks.peer_mpi4py_futures ARGS``
(rank 0 runs this module, ranks 1-2 are the workers). ``WORKLOADS SIZES_JSON [STAMP]``."""

import sys

from mpi4py.futures import MPIPoolExecutor

from benchmarks import pools
from benchmarks import workloads as wl


def main(argv: list[str]) -> None:
    workloads, sizes, stamp_path = wl.parse_args(argv)
    with MPIPoolExecutor() as executor:
        for workload in workloads:
            pools.run(executor, workload, sizes, stamp_path)


if __name__ == "__main__":
    main(sys.argv[1:])
