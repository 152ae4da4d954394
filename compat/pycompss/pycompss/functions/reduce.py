"""``merge_reduce`` and ``merge_n_reduce``: reduce a list with a task, as a tree."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any


def merge_reduce(function: Callable[[Any, Any], Any], data: Sequence[Any]) -> Any:
    """Reduce ``data`` pairwise with the two-argument task ``function``."""
    return merge_n_reduce(function, 2, data)


def merge_n_reduce(function: Callable[..., Any], arity: int, data: Sequence[Any]) -> Any:
    """Reduce ``data`` with the ``arity``-argument task ``function``, as a tree."""
    if arity < 2:
        raise ValueError(f"arity must be >= 2, not {arity}")
    queue = deque(data)
    while len(queue) > 1:
        group = [queue.popleft() for _ in range(min(arity, len(queue)))]
        queue.append(function(*group))
    return queue[0]
