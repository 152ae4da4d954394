"""hpcflow: a SLURM-native, elastic task launcher for plain Python scripts.

Decorate functions with ``@task``; calls become asynchronous tasks in a data-flow graph
built from the parameter directions, run in parallel locally (``hpcflow run``) or across
a Slurm allocation (``hpcflow submit``).

The names below are loaded on first use (PEP 562), so a task process or the command line,
which import ``hpcflow.<module>`` and not the API, do not pay for the whole API at start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hpcflow.api import (
        TaskGroup,
        barrier,
        binary,
        constraint,
        delete_file,
        delete_object,
        free_resources,
        implement,
        mpi,
        multinode,
        number_of_resources,
        ompss,
        on_failure,
        open_file,
        request_resources,
        snapshot,
        start,
        stop,
        task,
        wait_on,
        wait_on_directory,
        wait_on_file,
    )
    from hpcflow.errors import HpcflowError, StopGroup, TaskFailed
    from hpcflow.graph.spec import Direction

    IN: Direction
    OUT: Direction
    INOUT: Direction
    FILE_IN: Direction
    FILE_OUT: Direction
    FILE_INOUT: Direction
    DIRECTORY_IN: Direction
    DIRECTORY_OUT: Direction
    DIRECTORY_INOUT: Direction
    COLLECTION_IN: Direction
    COLLECTION_OUT: Direction
    COLLECTION_INOUT: Direction
    FILE_IN_STDIN: Direction
    FILE_OUT_STDOUT: Direction
    FILE_OUT_STDERR: Direction
    FILE_INOUT_STDOUT: Direction
    FILE_INOUT_STDERR: Direction

__version__ = "0.1.0"

__all__ = [
    "COLLECTION_IN", "COLLECTION_INOUT", "COLLECTION_OUT", "DIRECTORY_IN", "DIRECTORY_INOUT",
    "DIRECTORY_OUT", "FILE_IN", "FILE_INOUT", "FILE_INOUT_STDERR", "FILE_INOUT_STDOUT",
    "FILE_IN_STDIN", "FILE_OUT", "FILE_OUT_STDERR", "FILE_OUT_STDOUT", "IN", "INOUT", "OUT",
    "HpcflowError", "StopGroup", "TaskFailed", "TaskGroup", "barrier", "binary", "constraint",
    "delete_file", "delete_object", "free_resources", "implement", "mpi", "multinode",
    "number_of_resources", "ompss", "on_failure", "open_file", "request_resources", "snapshot",
    "start", "stop", "task",
    "wait_on", "wait_on_directory", "wait_on_file",
]
_ERRORS = ("HpcflowError", "StopGroup", "TaskFailed")
_DIRECTIONS = frozenset(name for name in __all__ if name.isupper())


def __getattr__(name: str) -> Any:
    """Load a public name on first use and keep it in the module."""
    if name in _DIRECTIONS:
        from hpcflow.graph.spec import DIRECTIONS

        value: Any = DIRECTIONS[name]
    elif name in __all__:
        module = "hpcflow.errors" if name in _ERRORS else "hpcflow.api"
        value = getattr(importlib.import_module(module), name)
    else:
        raise AttributeError(f"module 'hpcflow' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
