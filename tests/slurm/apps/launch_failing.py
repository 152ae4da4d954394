"""A failing MPI binary on 2 nodes: RETRY (2 retries), then the application fails."""
import sys

from hpcflow import barrier, mpi, task


@mpi(binary="sh", args="-c 'echo attempt $SLURM_PROCID >> {marker}; echo broken >&2; exit 3'",
     processes=2, processes_per_node=1)
@task(retries=2)
def broken(marker):
    pass


broken(sys.argv[1])
barrier()
