"""returns: an int, a tuple, a string (value_of(param), a parameter name), at call time,
inferred when absent; tasks called inside tasks; lambdas and numpy subclasses."""
import json

import numpy as np
from pycompss.api.api import compss_wait_on
from pycompss.api.task import task
from pycompss.runtime.management.classes import Future


@task()
def inferred_pair(x):
    return x, x * 10


@task()
def inferred_one(x) -> int:
    return x + 1


@task(returns="value_of(n)")
def first_n(n):
    return list(range(n))


@task(returns=(int, int, int))
def three():
    return 1, 2, 3


@task(returns=1)
def outer(x):
    return compss_wait_on(inferred_one(x)) * 100  # runs in place inside the task


@task(returns=1)
def apply(func, x):
    return func(x)


@task(returns=1)
def scale(m):
    return m * 2


def main():
    out = {}
    a, b = inferred_pair(3)
    out["inferred"] = compss_wait_on([a, b, inferred_one(1)])
    out["is_future"] = isinstance(a, Future)
    out["value_of"] = compss_wait_on(list(first_n(3)))
    x, y = inferred_pair(1, returns=2)
    out["call_time"] = compss_wait_on(x, y)
    out["three"] = compss_wait_on(list(three()))
    out["nested"] = compss_wait_on(outer(2))
    out["lambda"] = compss_wait_on(apply(lambda v: v ** 2, 7))
    m = compss_wait_on(scale(np.matrix([[1, 2], [3, 4]])))
    out["matrix"] = [type(m).__name__, m.tolist()]
    plain = {"untouched": [1, 2]}
    out["untouched"] = compss_wait_on(plain) == plain
    print("RESULT", json.dumps(out))


if __name__ == "__main__":
    main()
