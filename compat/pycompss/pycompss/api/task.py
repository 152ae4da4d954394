"""``@task``: hpcflow's task, with PyCOMPSs's keywords and parameter dictionaries."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import hpcflow
from pycompss.api.parameter import to_hpcflow

#: Options of the PyCOMPSs task that change nothing here (placement or tracing hints).
IGNORED = frozenset({"cache_returns", "tracing_hook", "numba", "numba_flags",
                     "numba_signature", "numba_declaration", "varargs_type", "is_distributed"})
#: Options whose PyCOMPSs meaning hpcflow does not implement: said once on stderr.
UNSUPPORTED = frozenset({"is_replicated", "computing_nodes", "is_reduce", "chunk_size"})
_TASK_KEYS = frozenset({"returns", "priority", "time_out", "on_failure", "retries",
                        "target_direction"})
_warned: set[str] = set()


def task(*args: Any, **kwargs: Any) -> Any:
    """``@task(returns=..., param=DIRECTION, ...)`` (also bare ``@task``)."""
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return task()(args[0])

    def decorate(func: Callable[..., Any]) -> Any:
        name = getattr(func, "__name__", "task")
        made = hpcflow.task(func, **_options(kwargs, name))
        made.several_as = list  # PyCOMPSs: several returns are a list of futures
        return made

    return decorate


def _options(kwargs: dict[str, Any], name: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for key, value in kwargs.items():
        if key in IGNORED:
            continue
        if key in UNSUPPORTED:
            _warn(f"@task({key}=...) of {name} is not supported by hpcflow; ignored")
        elif key == "defaults":
            if not isinstance(value, dict):
                options["defaults"] = value
        elif key in _TASK_KEYS:
            options[key] = to_hpcflow(value, f"task {name}") if key == "target_direction" \
                else value
        else:
            options[key] = to_hpcflow(value, f"parameter {key!r} of {name}")
    return options


def _warn(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        sys.stderr.write(f"hpcflow (pycompss compat): {message}\n")
