"""Futures: placeholders for values that tasks will produce."""

from __future__ import annotations

import collections
import itertools
from typing import Any

_ids = itertools.count(1)
# keys of the futures the program no longer holds, for the master to release their values
# (appended by any thread as the future is collected: deque.append is atomic)
DROPPED: collections.deque[tuple[str, int]] = collections.deque()


class Future:
    """The value a task will return. Pass it to other tasks, or get it with ``wait_on``."""

    __slots__ = ("__weakref__", "key", "task")

    def __init__(self, task: str) -> None:
        self.key: tuple[str, int] = ("fut", next(_ids))
        self.task = task

    def __del__(self) -> None:
        DROPPED.append(self.key)

    def __repr__(self) -> str:
        return f"<hpcflow Future of {self.task}>"

    def __bool__(self) -> bool:
        raise TypeError(f"the truth value of {self!r} is unknown until wait_on() returns it")

    def __reduce__(self) -> Any:
        raise TypeError(f"{self!r} cannot be pickled; pass it to a task or use wait_on() first")
