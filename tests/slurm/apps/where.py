"""Tasks report the node they ran on; a checksum shows every result came back."""
import os
import sys
import time

from hpcflow import task, wait_on


@task(returns=1)
def where(i, seconds):
    time.sleep(seconds)
    return (os.environ.get("SLURMD_NODENAME"), i * i)


n = int(sys.argv[1]) if len(sys.argv) > 1 else 24
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 0.2
results = wait_on([where(i, seconds) for i in range(n)])
print("NODES", ",".join(sorted({r[0] for r in results})))
print("SUM", sum(r[1] for r in results), "EXPECTED", sum(i * i for i in range(n)))
