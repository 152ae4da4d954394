"""Drops futures as it goes; prints what the master still holds once all is done."""

import json

from hpcflow import INOUT, barrier, task, wait_on
from hpcflow.runtime import context


@task(returns=1)
def inc(x):
    return x + 1


@task(returns=1)
def big(i):
    return bytes(100_000)


@task(returns=1)
def size(blob):
    return len(blob)


@task(box=INOUT)
def append(box, value):
    box.append(value)


def main():
    master = context.current()
    kept = inc(0)
    x = 0
    for _ in range(50):
        x = inc(x)  # the previous future is dropped as x is rebound
    sizes = [size(big(i)) for i in range(30)]  # each big future is dropped at once
    box = []
    for i in range(20):
        append(box, i)
    barrier()
    wait_on(inc(1))  # one more event after the last drops
    report = {
        "chain": wait_on(x),
        "kept": wait_on(kept),
        "sizes": wait_on(sizes),
        "box": wait_on(box),
        "records": len(master.records),
        "stored": sum(len(blob) for blob in master._store.values()),
    }
    print("MEMORY " + json.dumps(report))


main()
