"""Tasks on the main job's node, then one only partition "big" offers (app_software).

Usage: elastic_partition.py N
Prints the sum of N squares and where the "bigtool" task ran, then waits until the run
has shrunk back to its one node.
"""

import os
import sys
import time

from hpcflow import constraint, number_of_resources, task, wait_on


def node():
    return os.environ.get("SLURMD_NODENAME", "?")


@task(returns=1)
def square(i):
    return i * i, node()


@constraint(app_software="bigtool")
@task(returns=1)
def big(values):
    return sum(values), node()


def main(n):
    squares = wait_on([square(i) for i in range(n)])
    total, where = wait_on(big([s[0] for s in squares]))
    print("SUM", total, "EXPECTED", sum(i * i for i in range(n)), flush=True)
    print("MAIN", ",".join(sorted({s[1] for s in squares})), "BIG", where, flush=True)
    deadline = time.monotonic() + 40
    while number_of_resources() != 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    print("SHRUNK", number_of_resources(), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]))
