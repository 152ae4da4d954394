"""COMMUTATIVE writers of one list: all applied; their records leave the master."""
import json

from hpcflow import barrier, task, wait_on
from hpcflow.runtime import context


@task(acc="COMMUTATIVE")
def add(acc, x):
    acc.append(x)


acc = []
for i in range(20):
    add(acc, i)
values = sorted(wait_on(acc))
barrier()
print("RESULT", json.dumps({"values": values, "records": len(context.current().records)}))
