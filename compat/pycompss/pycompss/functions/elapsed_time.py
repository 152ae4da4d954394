"""``@timeit()`` over a task: the call returns ``[result, seconds]`` (the time to submit
it when a runtime runs, as in PyCOMPSs)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any


class TimeIt:
    """Time each call of the decorated function."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> list[Any]:
            started = time.time()
            result = func(*args, **kwargs)
            return [result, time.time() - started]

        return timed


timeit = TimeIT = TIMEIT = TimeIt
