"""MPI binaries (argv[1], compiled by the test) as 2-node tasks.

argv[2]: how many such tasks at once; argv[3]: seconds each rank sleeps. Each task's stdout
goes to out<i>.txt in the current directory (a FILE_OUT parameter bound to stdout).
"""
import sys

from hpcflow import FILE_OUT, mpi, task, wait_on_file

HELLO, COUNT, SECONDS = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])


@mpi(binary=HELLO, args="{seconds}", processes="{ranks}", processes_per_node=2,
     stdout="out")
@task(out=FILE_OUT)
def hello(seconds, ranks, out):
    pass


for i in range(COUNT):
    hello(SECONDS, 4, f"out{i}.txt")
for i in range(COUNT):
    print(open(wait_on_file(f"out{i}.txt")).read(), end="")
