"""COLLECTION_FILE_* (a list of paths, nested), DICTIONARY_* (every value its own
datum), IN_DELETE (the runtime lets go of the object once the task has it)."""
import json
import os

from pycompss.api.api import compss_open, compss_wait_on
from pycompss.api.parameter import (
    COLLECTION_FILE_IN,
    COLLECTION_FILE_INOUT,
    COLLECTION_FILE_OUT,
    DICTIONARY_IN,
    DICTIONARY_INOUT,
    DICTIONARY_OUT,
    IN_DELETE,
    INOUT,
    Depth,
    Type,
)
from pycompss.api.task import task


@task(paths={Type: COLLECTION_FILE_OUT, Depth: 2})
def write_all(paths, word):
    for row in paths:
        for path in row:
            with open(path, "w") as fh:
                fh.write(f"{word}:{os.path.basename(path)}")


@task(paths=COLLECTION_FILE_INOUT)
def append_all(paths, suffix):
    for path in paths:
        with open(path, "a") as fh:
            fh.write(suffix)


@task(returns=1, paths=COLLECTION_FILE_IN)
def read_all(paths):
    out = []
    for path in paths:
        with open(path) as fh:
            out.append(fh.read())
    return out


@task(table=DICTIONARY_INOUT)
def grow_all(table, item):
    for value in table.values():
        value.append(item)


@task(value=INOUT)
def grow_one(value, item):
    value.append(item)


@task(table=DICTIONARY_IN, returns=1)
def total(table):
    return sum(len(v) for v in table.values())


@task(table={Type: DICTIONARY_OUT, Depth: 1})
def replace_values(table):
    for key in table:
        table[key] = ["replaced", key]


@task(returns=1)
def make(n):
    return list(range(n))


@task(data=IN_DELETE, returns=1)
def consume(data):
    return sum(data)


def main():
    out = {}
    grid = [["a.txt", "b.txt"], ["c.txt"]]
    write_all(grid, "w")
    flat = [p for row in grid for p in row]
    append_all(flat[:2], "+x")
    out["read"] = compss_wait_on(read_all(flat))
    with compss_open("c.txt") as fh:
        out["c"] = fh.read()
    table = {"a": [1], "b": [2]}
    grow_all(table, 10)
    grow_one(table["a"], 20)  # sees grow_all's append: each value is its own datum
    out["total"] = compss_wait_on(total(table))
    table = compss_wait_on(table)
    out["table"] = table
    other = {"x": [0], "y": [0]}
    replace_values(other)
    out["replaced"] = compss_wait_on(other)
    produced = make(4)
    out["consumed"] = compss_wait_on(consume(produced))
    try:
        compss_wait_on(produced)
        out["released"] = False
    except Exception as exc:
        out["released"] = "deleted" in str(exc)
    print("RESULT", json.dumps(out))


if __name__ == "__main__":
    main()
