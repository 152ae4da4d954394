"""Task groups: a COMPSsException cancels the group's other tasks (running ones too) and
reaches the caller at the group's end, or at compss_barrier_group."""
import json
import time

from pycompss.api.api import TaskGroup, compss_barrier_group, compss_wait_on
from pycompss.api.exceptions import COMPSsException
from pycompss.api.task import task


@task(returns=1)
def check(x, limit):
    time.sleep(0.2)
    if x >= limit:
        raise COMPSsException(f"x={x} reached the limit")
    return x


@task(returns=1)
def slow(x):
    time.sleep(60)
    return x


@task(returns=1)
def ok(x):
    return x * 2


def main():
    out = {}
    started = time.time()
    try:
        with TaskGroup("search"):
            check(5, 3)
            slow(1)
    except COMPSsException as exc:
        out["caught"] = str(exc)
    out["fast"] = time.time() - started < 30  # the 60 s task was killed
    with TaskGroup("later", implicit_barrier=False):
        check(7, 3)
    try:
        compss_barrier_group("later")
    except COMPSsException as exc:
        out["barrier"] = str(exc)
    with TaskGroup("fine"):
        doubled = ok(21)
    out["fine"] = compss_wait_on(doubled)
    print("RESULT", json.dumps(out))


if __name__ == "__main__":
    main()
