"""A 2-node, 4-rank mpi4py task: every rank reports its rank, the world size and its host."""
import json
import socket

from hpcflow import mpi, task, wait_on


@mpi(processes=4, processes_per_node=2)
@task(returns=list)
def ranks():
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    total = comm.allreduce(comm.Get_rank())
    return {"rank": comm.Get_rank(), "size": comm.Get_size(), "host": socket.gethostname(),
            "sum": total}


print("RANKS " + json.dumps(wait_on(ranks())))
