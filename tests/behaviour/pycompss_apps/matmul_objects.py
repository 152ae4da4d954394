"""Blocked matmul with numpy blocks as objects (PyCOMPSs style, unmodified imports)."""
import json
import sys

import numpy as np
from pycompss.api.api import compss_barrier, compss_wait_on
from pycompss.api.parameter import INOUT
from pycompss.api.task import task


@task(returns=1)
def block(b, seed):
    return np.random.default_rng(seed).random((b, b))


@task(c=INOUT)
def multiply(a, b, c):
    c += a @ b


def main(n, b):
    a = [[block(b, i * n + j) for j in range(n)] for i in range(n)]
    bb = [[block(b, 1000 + i * n + j) for j in range(n)] for i in range(n)]
    c = [[np.zeros((b, b)) for _ in range(n)] for _ in range(n)]
    for i in range(n):
        for j in range(n):
            for k in range(n):
                multiply(a[i][k], bb[k][j], c[i][j])
    compss_barrier()
    c = compss_wait_on(c)
    a, bb = compss_wait_on(a), compss_wait_on(bb)
    expected = np.block(a) @ np.block(bb)
    print("RESULT", json.dumps({"ok": bool(np.allclose(np.block(c), expected)),
                                "types": sorted({type(x).__name__ for r in c for x in r})}))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
