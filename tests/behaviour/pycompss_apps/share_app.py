"""CONCURRENT and COMMUTATIVE writers versus INOUT.

COMMUTATIVE: one at a time, in whatever order they become ready (here the first one
submitted waits for a producer that only finishes once the later two have run).
INOUT: strictly in submission order. CONCURRENT: writers of one file (or object) run at
the same time (each waits to see the other's line, which INOUT would never allow);
a reader submitted before them sees the old content, one after them sees both lines.
"""
import json
import os
import sys
import time

from pycompss.api.api import compss_open, compss_wait_on
from pycompss.api.parameter import (
    COMMUTATIVE,
    CONCURRENT,
    FILE_CONCURRENT,
    FILE_IN,
    FILE_OUT,
    INOUT,
)
from pycompss.api.task import task


def lines(path):
    with open(path) as fh:
        return fh.read().splitlines()


@task(returns=1)
def producer(log, wanted, patience):
    deadline = time.time() + patience
    while time.time() < deadline and len(lines(log)) < wanted:
        time.sleep(0.05)
    return 0


def _add(acc, name, log, _):
    start = time.time()
    time.sleep(0.3)
    acc.append(name)
    with open(log, "a") as fh:
        fh.write(f"{name} {start} {time.time()}\n")


commutative_add = task(acc=COMMUTATIVE)(_add)
inout_add = task(acc=INOUT)(_add)


def run_writers(add, log, patience):
    with open(log, "w"):
        pass
    acc = []
    add(acc, "first", log, producer(log, 2, patience))
    add(acc, "second", log, 0)
    add(acc, "third", log, 0)
    acc = compss_wait_on(acc)
    rows = [row.split() for row in lines(log)]
    spans = sorted((float(a), float(b)) for _, a, b in rows)
    apart = all(spans[i][1] <= spans[i + 1][0] for i in range(len(spans) - 1))
    return acc, [r[0] for r in rows], apart


@task(path=FILE_OUT)
def start_file(path):
    with open(path, "w") as fh:
        fh.write("start\n")


@task(returns=1, path=FILE_IN)
def read_slowly(path):
    time.sleep(0.5)
    return lines(path)


def _meet(me, other, path):
    with open(path, "a") as fh:
        fh.write(f"{me}\n")
    deadline = time.time() + 20
    while other not in lines(path):
        if time.time() > deadline:
            raise RuntimeError(f"{me} never saw {other}: not run concurrently")
        time.sleep(0.05)


@task(path=FILE_CONCURRENT)
def meet_file(me, other, path):
    _meet(me, other, path)


@task(obj=CONCURRENT)
def meet_object(obj, me, other, path):
    _meet(me, other, path)
    obj[me] = True


def main(workdir):
    out = {}
    acc, order, apart = run_writers(commutative_add, os.path.join(workdir, "c.log"), 20)
    out["commutative"] = {"first_last": order[-1] == "first", "apart": apart,
                          "acc_matches_order": acc == order}
    acc, order, apart = run_writers(inout_add, os.path.join(workdir, "i.log"), 1)
    out["inout"] = {"order": order, "acc": acc, "apart": apart}
    shared = "shared.txt"
    start_file(shared)
    before = read_slowly(shared)
    meet_file("A", "B", shared)
    meet_file("B", "A", shared)
    after = read_slowly(shared)
    out["file"] = {"before": compss_wait_on(before), "after": sorted(compss_wait_on(after))}
    with compss_open(shared) as fh:
        out["file"]["final"] = sorted(fh.read().splitlines())
    rendezvous = os.path.join(workdir, "objects.txt")
    with open(rendezvous, "w"):
        pass
    seen = {}
    meet_object(seen, "C", "D", rendezvous)
    meet_object(seen, "D", "C", rendezvous)
    out["object"] = sorted(lines(rendezvous)) if compss_wait_on(seen) is not None else None
    print("RESULT", json.dumps(out))


if __name__ == "__main__":
    main(os.path.abspath(sys.argv[1]))
