"""A resumable app: squares, then plus-ones, then a total written to a file; an opt-out
task. Every execution leaves a marker MARKS/<stage>-<i>-<pid>-<ns> (counted by the tests).

python resumable.py MARKS N SECONDS [snapshot-then-die]
"""

import os
import signal
import sys
import time

import hpcflow
from hpcflow import FILE_OUT, task, wait_on

MARKS, N, SECONDS = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
MODE = sys.argv[4] if len(sys.argv) > 4 else ""


def mark(stage, i):
    with open(os.path.join(MARKS, f"{stage}-{i}-{os.getpid()}-{time.time_ns()}"), "w"):
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


@task(returns=1, checkpoint=False)
def stamp(total_path_written):
    mark("stamp", 0)
    return "stamped"


squares = [square(i) for i in range(N)]
if MODE == "snapshot-then-die":
    wait_on(squares)
    hpcflow.snapshot()
    os.kill(os.getpid(), signal.SIGKILL)
pluses = [plus_one(s, i) for i, s in enumerate(squares)]
total = os.path.join(MARKS, "..", "total.txt")
write_total(pluses, total)
print("total", sum(wait_on(pluses)), wait_on(stamp(1)))
