"""compss_wait_on as PyCOMPSs defines it: several returns are a list of futures; lists
and dicts (exact types, keys too) are recursed; a tuple is returned as it is."""
import json

from pycompss.api.api import compss_wait_on
from pycompss.api.task import task
from pycompss.runtime.management.classes import Future


@task(returns=3)
def three(x):
    return x, x + 1, x + 2


@task(returns=1)
def same(x):
    return x


class Bag(list):
    """A list subclass: PyCOMPSs recurses only into exactly list and dict."""


def main():
    out = {}
    futures = three(1)
    out["several_type"] = type(futures).__name__
    out["several"] = compss_wait_on(futures)
    kept = compss_wait_on((same(1), same(2)))
    out["tuple_kept"] = [type(kept).__name__, all(isinstance(x, Future) for x in kept)]
    out["tuple_values"] = compss_wait_on(list(kept))
    keyed = compss_wait_on({same("k"): [same(5), {"deep": same(6)}]})
    out["dict"] = [[k, v] for k, v in keyed.items()]
    out["two_args"] = compss_wait_on(same(7), same(8))
    bag = compss_wait_on(Bag([same(9)]))
    out["subclass_kept"] = isinstance(bag[0], Future)
    a, b, c = three(10)
    out["unpacked"] = compss_wait_on([a, b, c])
    print("RESULT", json.dumps(out))


if __name__ == "__main__":
    main()
