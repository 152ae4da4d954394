"""``@reduction(chunk_size=n)`` over a ``@task`` of one COLLECTION_IN parameter: the call
becomes a tree of tasks, each reducing at most ``chunk_size`` partial results."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


def reduction(chunk_size: int | str = 2, **_: Any) -> Callable[[Any], Any]:
    """Reduce a collection argument in chunks of ``chunk_size`` (at least 2)."""
    size = max(2, int(chunk_size))

    def decorate(task_func: Any) -> Any:
        @functools.wraps(task_func)
        def tree(data: list[Any], *args: Any, **kwargs: Any) -> Any:
            partial = list(data)
            while len(partial) > size:
                partial = [task_func(partial[i:i + size], *args, **kwargs)
                           for i in range(0, len(partial), size)]
            return task_func(partial, *args, **kwargs)

        return tree

    return decorate
