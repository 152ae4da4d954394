"""Blocked matmul with every block in a file (FILE_IN/FILE_INOUT), relative paths."""
import json
import os
import sys

import numpy as np
from pycompss.api.api import compss_open, compss_wait_on_file
from pycompss.api.parameter import FILE_IN, FILE_INOUT, FILE_OUT
from pycompss.api.task import task


@task(path=FILE_OUT)
def make(path, b, seed):
    np.savetxt(path, np.random.default_rng(seed).random((b, b)))


@task(a=FILE_IN, b=FILE_IN, c=FILE_INOUT)
def multiply(a, b, c):
    result = np.loadtxt(c, ndmin=2) + np.loadtxt(a, ndmin=2) @ np.loadtxt(b, ndmin=2)
    np.savetxt(c, result)


def name(kind, i, j):
    return os.path.join("blocks", f"{kind}_{i}_{j}")


def main(n, b):
    os.makedirs("blocks", exist_ok=True)
    for i in range(n):
        for j in range(n):
            make(name("A", i, j), b, i * n + j)
            make(name("B", i, j), b, 1000 + i * n + j)
            np.savetxt(name("C", i, j), np.zeros((b, b)))
    for i in range(n):
        for j in range(n):
            for k in range(n):
                multiply(name("A", i, k), name("B", k, j), name("C", i, j))
    compss_wait_on_file(*[name("C", i, j) for i in range(n) for j in range(n)])

    def load(kind):
        return np.block([[np.loadtxt(compss_open(name(kind, i, j)), ndmin=2) for j in range(n)]
                         for i in range(n)])

    ok = np.allclose(load("C"), load("A") @ load("B"))
    print("RESULT", json.dumps({"ok": bool(ok)}))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
