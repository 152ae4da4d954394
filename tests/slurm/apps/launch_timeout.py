"""A 4-node MPI step that overruns its time_out (IGNORE), then one that needs the same 4
nodes: it can only run once the first step's nodes came back."""
import sys

from hpcflow import FILE_OUT, mpi, task, wait_on, wait_on_file

HELLO = sys.argv[1]


@mpi(binary=HELLO, args="{seconds}", processes=4, processes_per_node=1)
@task(time_out=6, on_failure="IGNORE", returns=int)
def overruns(seconds):
    pass


@mpi(binary=HELLO, args="0", processes=4, processes_per_node=1, stdout="out")
@task(out=FILE_OUT)
def after(out):
    pass


print("OVERRUNS", wait_on(overruns(60)))
after("after.txt")
print(open(wait_on_file("after.txt")).read(), end="")
