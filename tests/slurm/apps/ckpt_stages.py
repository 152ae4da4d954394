"""Two stages of sleeping tasks and a total written to a file; every execution leaves a
marker file MARKS/<stage>-<i>-<job>-<pid>-<ns> (side effects the tests count).

python ckpt_stages.py MARKS N SECONDS
"""

import os
import sys
import time

from hpcflow import FILE_OUT, task, wait_on

MARKS, N, SECONDS = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])


def mark(stage: str, i: int) -> None:
    job = os.environ.get("SLURM_JOB_ID", "local")
    name = f"{stage}-{i}-{job}-{os.getpid()}-{time.time_ns()}"
    with open(os.path.join(MARKS, name), "w"):
        pass


@task(returns=1)
def square(i):
    mark("square", i)
    time.sleep(SECONDS)
    return i * i


@task(returns=1)
def plus_one(x, i):
    mark("plus", i)
    time.sleep(SECONDS)
    return x + 1


@task(path=FILE_OUT)
def write_total(values, path):
    mark("total", 0)
    with open(path, "w") as fh:
        fh.write(f"{sum(values)}\n")


squares = [square(i) for i in range(N)]
pluses = [plus_one(s, i) for i, s in enumerate(squares)]
write_total(pluses, os.path.join(MARKS, "..", "total.txt"))
print("total", sum(wait_on(pluses)))
