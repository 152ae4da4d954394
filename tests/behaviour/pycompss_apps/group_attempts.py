"""A COMPSsException is never retried (an ordinary exception is, per the RETRY policy);
it cancels its group's other tasks, the running one too."""
import json
import os
import sys
import time

from pycompss.api.api import TaskGroup
from pycompss.api.exceptions import COMPSsException
from pycompss.api.task import task


@task(returns=1)
def attempt(log, compss):
    with open(log, "a") as fh:
        fh.write("attempt\n")
    if compss:
        raise COMPSsException("stop the group")
    raise ValueError("an ordinary failure")


@task(returns=1)
def sleeper(x):
    time.sleep(60)
    return x


def count(log):
    with open(log) as fh:
        return len(fh.read().splitlines())


def main(workdir):
    out = {}
    started = time.time()
    first = os.path.join(workdir, "compss.log")
    try:
        with TaskGroup("stopping"):
            sleeper(1)
            attempt(first, True)
    except COMPSsException as exc:
        out["caught"] = str(exc)
    out["compss_attempts"] = count(first)
    out["sleeper_killed"] = time.time() - started < 30
    second = os.path.join(workdir, "plain.log")
    try:
        with TaskGroup("plain"):
            attempt(second, False)
    except Exception as exc:  # the task failed for good after its retries
        out["plain"] = type(exc).__name__
    out["plain_attempts"] = count(second)
    print("RESULT", json.dumps(out))


if __name__ == "__main__":
    main(os.path.abspath(sys.argv[1]))
