"""Resumable app with large values (kept in pack files): ``big_values.py MARKS``.

Each task leaves a marker file when it runs, so a test counts executions."""

import hashlib
import os
import sys
import time

from hpcflow import task, wait_on


def _mark(marks: str, name: str) -> None:
    open(os.path.join(marks, f"{name}-{time.time_ns()}"), "w").close()


@task(returns=1)
def block(i: int, marks: str) -> bytes:
    _mark(marks, f"block-{i}")
    return hashlib.sha256(str(i).encode()).digest() * 40_000  # 1.2 MiB


@task(returns=1)
def join(a: bytes, b: bytes, marks: str) -> bytes:
    _mark(marks, "join")
    return a + b


if __name__ == "__main__":
    marks = sys.argv[1]
    joined = wait_on(join(block(1, marks), block(2, marks), marks))
    print("digest", hashlib.sha256(joined).hexdigest(), len(joined))
