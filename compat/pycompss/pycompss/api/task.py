"""``@task``: hpcflow's task, with PyCOMPSs's keywords and parameter dictionaries."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from typing import Any

import hpcflow
from pycompss.api.parameter import is_stream_out, to_hpcflow
from pycompss.streams.distro_stream import DistroStream

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
        writers = tuple(k for k, v in kwargs.items() if is_stream_out(v))
        if writers:
            made.arg_hook = _StreamWriters(made.signature, writers)
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


class _StreamWriters:
    """Registers each call's ``STREAM_OUT`` streams as written by that call (at submission,
    so a consumer never sees the stream closed before a producer has started)."""

    def __init__(self, signature: inspect.Signature, names: tuple[str, ...]) -> None:
        self.signature, self.names = signature, names

    def __call__(self, args: tuple[Any, ...], kwargs: dict[str, Any]
                 ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        extra = {"returns": kwargs.pop("returns")} if "returns" in kwargs and \
            "returns" not in self.signature.parameters else {}  # call-time returns=
        try:
            bound = self.signature.bind_partial(*args, **kwargs)
        except TypeError:
            return args, {**kwargs, **extra}  # the task call itself reports the mistake
        for name in self.names:
            stream = bound.arguments.get(name)
            if isinstance(stream, DistroStream):
                bound.arguments[name] = stream.as_writer()
        return bound.args, {**bound.kwargs, **extra}


def _warn(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        sys.stderr.write(f"hpcflow (pycompss compat): {message}\n")
