"""``generator``: random data in fragments, each fragment made by a task."""

from __future__ import annotations

import random
from typing import Any

from pycompss.api.api import compss_wait_on
from pycompss.api.task import task


@task(returns=1)
def _fragment(size: int, seed: int, distribution: str) -> list[float]:
    rng = random.Random(seed)
    if distribution == "normal":
        return [rng.gauss(0.0, 1.0) for _ in range(size)]
    if distribution == "uniform":
        return [rng.uniform(-1.0, 1.0) for _ in range(size)]
    return [rng.random() for _ in range(size)]


def generator(size: Any, num_frag: int, seed: int = 0, distribution: str = "random",
              wait: bool = False) -> list[Any]:
    """``num_frag`` fragments of random numbers (``size`` numbers in all, or a
    ``(rows, cols)`` shape: ``rows * cols``); futures unless ``wait``."""
    total = size[0] * size[1] if isinstance(size, tuple) else int(size)
    per = max(1, total // num_frag)
    fragments = [_fragment(per, seed + i, distribution) for i in range(num_frag)]
    return compss_wait_on(fragments) if wait else fragments
