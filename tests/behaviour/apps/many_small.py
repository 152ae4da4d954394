"""Many small tasks (more than a batch that starts the checkpoint writer process): squares
that read no input (the writer signs them) and their successors (signed by the master,
from the squares' signatures). Prints the sum.

python many_small.py N
"""

import sys

from hpcflow import task, wait_on


@task(returns=1)
def square(i):
    return i * i


@task(returns=1)
def plus_one(x):
    return x + 1


N = int(sys.argv[1])
print("sum", sum(wait_on([plus_one(square(i)) for i in range(N)])))
