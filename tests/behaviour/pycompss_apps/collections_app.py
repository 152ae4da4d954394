"""Collections: IN of futures, OUT replaced by assignment, INOUT per element, Depth,
dictionaries, and IN parameters as copies."""
import json

from pycompss.api.api import compss_wait_on
from pycompss.api.parameter import (
    COLLECTION_IN,
    COLLECTION_INOUT,
    COLLECTION_OUT,
    DICTIONARY_INOUT,
    Depth,
    Type,
)
from pycompss.api.task import task


@task(returns=1)
def square(x):
    return x * x


@task(returns=1, values=COLLECTION_IN)
def total(values):
    return sum(values)


@task(out=COLLECTION_OUT)
def fill(out):
    for i in range(len(out)):
        out[i] = [i] * 2


@task(rows={Type: COLLECTION_INOUT, Depth: 1})
def append_all(rows):
    for row in rows:
        row.append(len(row))


@task(cells=COLLECTION_INOUT)
def bump(cells):
    for row in cells:
        for cell in row:
            cell["n"] += 1


@task(d=DICTIONARY_INOUT)
def put(d, key, value):
    d[key] = value


@task(returns=1)
def mutate_in(d):
    d["touched"] = True
    return len(d)


def main():
    out = {}
    out["total"] = compss_wait_on(total([square(i) for i in range(5)]))
    filled = [[] for _ in range(3)]
    fill(filled)
    out["filled"] = compss_wait_on(filled)
    rows = [[1, [9]], [2, [8]]]
    append_all(rows)
    out["depth"] = compss_wait_on(rows)
    cells = [[{"n": 0}, {"n": 10}], [{"n": 20}]]  # nested: every dict is an element
    bump(cells)
    bump(cells)
    out["nested"] = compss_wait_on(cells)
    d = {"a": [0], "b": [0]}  # every value its own datum; keys fixed at the call
    put(d, "a", [1])
    put(d, "b", [2])
    out["dict"] = compss_wait_on(d)
    mine = {"x": 1}
    size = compss_wait_on(mutate_in(mine))
    out["in_copy"] = [size, mine]
    print("RESULT", json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
