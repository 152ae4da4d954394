"""Tasks defined in __main__, a closure and a local class: all must pickle."""
import sys

from hpcflow import INOUT, task, wait_on


class Box:
    def __init__(self):
        self.items = []


def make_scaler(factor):
    @task(returns=1)
    def scale(x):
        return x * factor
    return scale


@task(box=INOUT)
def put(box, value):
    box.items.append(value)


triple = make_scaler(3)
box = Box()
for i in range(3):
    put(box, triple(i))
wait_on(box)
print("ITEMS", box.items, "ARGS", sys.argv[1:])
