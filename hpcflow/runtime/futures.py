"""Futures: placeholders for values that tasks will produce."""

from __future__ import annotations

import itertools
from typing import Any

_ids = itertools.count(1)


class Future:
    """The value a task will return. Pass it to other tasks, or get it with ``wait_on``."""

    __slots__ = ("__weakref__", "key", "task")

    def __init__(self, task: str) -> None:
        self.key: tuple[str, int] = ("fut", next(_ids))
        self.task = task

    def __repr__(self) -> str:
        return f"<hpcflow Future of {self.task}>"

    def __bool__(self) -> bool:
        raise TypeError(f"the truth value of {self!r} is unknown until wait_on() returns it")

    def __reduce__(self) -> Any:
        raise TypeError(f"{self!r} cannot be pickled; pass it to a task or use wait_on() first")
