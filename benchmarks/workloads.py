"""The workloads every system runs: sizes, the task bodies, result checks and reporting.

The task functions are plain module-level functions, imported by reference in every
system's worker processes, so each system runs exactly the same code. numpy is imported
lazily (only W3 needs it) so that start-up (W5) does not pay for it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

RESULT_PREFIX = "BENCH-RESULT "
ARRAY_ITEMS = 131_072  # float64 items: 1 MiB per array


@dataclass(frozen=True)
class Sizes:
    """How big each workload is (full run or --quick)."""

    w1_tasks: int = 10_000
    w2_hops: int = 1_000
    w3_leaves: int = 1_000
    w4_tasks: int = 200
    w4_sleep: float = 0.05
    w6_tasks: int = 1_000_000
    w6_nodes: int = 10_000
    w6_budget: float = 60.0  # seconds of scheduling loop before the measurement stops

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Sizes:
        return cls(**json.loads(text))


FULL = Sizes()
QUICK = Sizes(w1_tasks=1_000, w2_hops=200, w3_leaves=64, w4_tasks=40, w6_tasks=100_000,
              w6_nodes=1_000, w6_budget=5.0)
WORKERS = 2


# -- task bodies (identical for every system) ------------------------------------------
def noop(i: int) -> int:
    """W1: nothing but the round trip."""
    return i


def inc(x: int) -> int:
    """W2: one hop of the chain."""
    return x + 1


def leaf(i: int) -> Any:
    """W3: a 1 MiB float64 array filled with ``i``."""
    import numpy as np

    return np.full(ARRAY_ITEMS, float(i))


def add(a: Any, b: Any) -> Any:
    """W3: one pairwise reduction step."""
    return a + b


def nap(seconds: float) -> None:
    """W4: a task that keeps its worker busy without using the CPU."""
    time.sleep(seconds)


def stamp(path: str) -> float:
    """W5: record when the first task started."""
    now = time.time()
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(repr(now))
    return now


# -- checks -----------------------------------------------------------------------------
def check_w1(values: list[int], n: int) -> None:
    if len(values) != n or sum(values) != n * (n - 1) // 2:
        raise AssertionError(f"W1: wrong results ({len(values)} values)")


def check_w2(value: int, hops: int) -> None:
    if value != hops:
        raise AssertionError(f"W2: chain ended at {value}, expected {hops}")


def check_w3(array: Any, leaves: int) -> None:
    expected = float(leaves * (leaves - 1) // 2)
    if array.shape != (ARRAY_ITEMS,) or float(array[0]) != expected \
            or float(array[-1]) != expected:
        raise AssertionError(f"W3: wrong reduction {array[:1]!r}, expected {expected}")


# -- measurements -------------------------------------------------------------------------
def measure(workload: str, sizes: Sizes, seconds: float, **extra: Any) -> dict[str, Any]:
    """Turn a wall time into the workload's figure of merit."""
    if workload == "w1":
        value = sizes.w1_tasks / seconds
    elif workload == "w2":
        value = seconds / sizes.w2_hops * 1e6
    elif workload == "w3":
        value = seconds
    elif workload == "w4":
        ideal = sizes.w4_tasks * sizes.w4_sleep / WORKERS
        value = 100.0 * ideal / seconds
    else:
        raise ValueError(workload)
    return {"workload": workload, "value": value, "seconds": seconds, **extra}


def emit(result: dict[str, Any]) -> None:
    """Print one result line for the driver (other output of a peer is ignored)."""
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
    sys.stdout.flush()


def parse_results(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line[len(RESULT_PREFIX):]) for line in stdout.splitlines()
            if line.startswith(RESULT_PREFIX)]


def rss_bytes() -> int:
    """Resident memory of this process now (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def pairwise(items: list[Any], combine: Any) -> Any:
    """Reduce ``items`` as a balanced binary tree with ``combine(a, b)`` (futures or values)."""
    level = list(items)
    while len(level) > 1:
        nxt = [combine(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def parse_args(argv: list[str]) -> tuple[list[str], Sizes, str]:
    """``WORKLOAD[,WORKLOAD...] SIZES_JSON [STAMP_PATH]`` as given by the driver."""
    workloads, sizes = argv[0].split(","), Sizes.from_json(argv[1])
    return workloads, sizes, argv[2] if len(argv) > 2 else ""
