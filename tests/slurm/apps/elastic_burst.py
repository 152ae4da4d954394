"""A burst of short tasks, then a wait until the elastic run has shrunk back.

Usage: elastic_burst.py N SECONDS MARKS_DIR [request|askK|nowait]
Each task leaves a side-effect file in MARKS_DIR (to count executions). With "request",
the app asks for 2 more nodes before the burst and frees them after it; with "askK" it
asks for K more nodes and, like "nowait", does not wait for anything but its tasks.
"""

import os
import socket
import subprocess
import sys
import time

from hpcflow import free_resources, number_of_resources, request_resources, task, wait_on


@task(returns=1)
def work(i, seconds, marks):
    node = os.environ.get("SLURMD_NODENAME") or socket.gethostname()
    with open(os.path.join(marks, f"{i}.{node}.{os.getpid()}.{time.time_ns()}"), "w"):
        pass
    time.sleep(seconds)
    return i * i, node


def wait_for_size(size, limit):
    deadline = time.monotonic() + limit
    while number_of_resources() != size and time.monotonic() < deadline:
        time.sleep(0.2)
    return number_of_resources()


def main(n, seconds, marks, mode=""):
    if mode == "request":
        print("TARGET", request_resources(2), flush=True)
        print("GREW", wait_for_size(3, 40), flush=True)
    elif mode.startswith("ask"):
        print("TARGET", request_resources(int(mode[3:])), flush=True)
    results = wait_on([work(i, seconds, marks) for i in range(n)])
    print("SUM", sum(r[0] for r in results), "EXPECTED", sum(i * i for i in range(n)))
    print("NODES", ",".join(sorted({r[1] for r in results})), flush=True)
    if mode == "request":
        print("TARGET", free_resources(2), flush=True)
    if not mode.startswith("ask") and mode != "nowait":
        low = int(os.environ.get("HPCFLOW_ELASTIC", "1:1").split(":")[0])
        print("SHRUNK", wait_for_size(low, 40), flush=True)
        job = subprocess.run(["scontrol", "-o", "show", "job", os.environ["SLURM_JOB_ID"]],
                             capture_output=True, text=True, timeout=10).stdout
        print("ALLOCATION", job.split(" NodeList=")[1].split()[0], flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], *sys.argv[4:])
