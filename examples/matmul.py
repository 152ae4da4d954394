"""Blocked matrix multiplication: C += A @ B, one task per block product.

A and B are N x N grids of B x B numpy blocks (seeded). Each ``multiply`` task adds
``a @ b`` into a block of C in place (``c=INOUT``), so the products that touch the same
C block run one after the other while different C blocks run in parallel.

    hpcflow run examples/matmul.py -- [N] [B] [--seed S] [--out C.npy]
    python examples/matmul.py [N] [B]          # sequential, no runtime

The last line on stdout is ``RESULT {"checksum": sum(C), ...}``.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from hpcflow import INOUT, task, wait_on


@task(c=INOUT)
def multiply(a, b, c):
    c += a @ b


def make_matrices(n: int, b: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The full (n*b x n*b) input matrices A and B, from ``seed``."""
    rng = np.random.default_rng(seed)
    size = n * b
    return rng.random((size, size)), rng.random((size, size))


def split(matrix: np.ndarray, n: int, b: int) -> list[list[np.ndarray]]:
    """An n x n grid of (copied) b x b blocks."""
    return [[matrix[i * b:(i + 1) * b, j * b:(j + 1) * b].copy() for j in range(n)]
            for i in range(n)]


def blocked_matmul(a_blocks, b_blocks, n: int, b: int) -> list[list[np.ndarray]]:
    c_blocks = [[np.zeros((b, b)) for _ in range(n)] for _ in range(n)]
    for i in range(n):
        for j in range(n):
            for k in range(n):
                multiply(a_blocks[i][k], b_blocks[k][j], c_blocks[i][j])
    return wait_on(c_blocks)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=4, help="blocks per side")
    parser.add_argument("b", nargs="?", type=int, default=64, help="block size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="write C to this .npy file")
    args = parser.parse_args(argv)

    a, bm = make_matrices(args.n, args.b, args.seed)
    c_blocks = blocked_matmul(split(a, args.n, args.b), split(bm, args.n, args.b),
                              args.n, args.b)
    c = np.block(c_blocks)
    if args.out:
        np.save(args.out, c)
    print(f"C is {c.shape[0]}x{c.shape[1]} ({args.n}x{args.n} blocks of {args.b})")
    print("RESULT " + json.dumps({"n": args.n, "b": args.b, "seed": args.seed,
                                  "checksum": float(c.sum())}))


if __name__ == "__main__":
    main()
