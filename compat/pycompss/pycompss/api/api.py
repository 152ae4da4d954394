"""``pycompss.api.api``: synchronisation and housekeeping, mapped onto hpcflow."""

from __future__ import annotations

import os
from typing import IO, Any

import hpcflow
from hpcflow.api import sync
from hpcflow.errors import TaskFailed
from hpcflow.runtime import context, wallclock
from hpcflow.runtime.futures import Future
from pycompss.api.exceptions import as_compss

_started_here: list[bool] = []


def _many(values: list[Any]) -> Any:
    return values[0] if len(values) == 1 else values


def compss_start(log_level: str = "off", tracing: bool = False, interactive: bool = False,
                 **_: Any) -> None:
    """Start a local runtime (notebooks) unless ``hpcflow run`` already runs one."""
    if context.current() is None:
        hpcflow.start()
        _started_here.append(True)


def compss_stop(code: int = 0, _hard_stop: bool = False) -> None:
    """Stop the runtime started by ``compss_start`` (waits for every task)."""
    if _started_here:
        _started_here.pop()
        hpcflow.stop()


def compss_wait_on(*objs: Any, **_: Any) -> Any:
    """Values of futures and of objects written by tasks, as PyCOMPSs gives them: lists
    and dicts (exactly those types; dict keys too) are recursed, anything else (a tuple
    of futures included) is returned as it is; several arguments give a list."""
    runtime = context.current()
    try:
        return _many([_wait_one(runtime, obj) for obj in objs])
    except TaskFailed as failure:
        raise as_compss(failure) from None


def _wait_one(runtime: Any, obj: Any) -> Any:
    if runtime is None:
        return obj
    if isinstance(obj, Future) or runtime.tracker.key_of(obj) is not None:
        return hpcflow.wait_on(obj)
    if type(obj) is list:
        return [_wait_one(runtime, item) for item in obj]
    if type(obj) is dict:
        return {_wait_one(runtime, k): _wait_one(runtime, v) for k, v in obj.items()}
    return obj


def compss_barrier(no_more_tasks: bool = False) -> None:
    """Wait for every task submitted so far."""
    try:
        hpcflow.barrier()
    except TaskFailed as failure:
        raise as_compss(failure) from None


def compss_open(file_name: str, mode: str = "r") -> IO[Any]:
    """``open`` once the tasks writing (or, for ``w``/``a``/``r+``, reading) it are done."""
    return hpcflow.open_file(file_name, mode)


def compss_wait_on_file(*file_name: str) -> None:
    """Wait until the tasks writing these files have put them in place."""
    hpcflow.wait_on_file(*file_name)


def compss_wait_on_directory(*directory_name: str) -> None:
    """Wait until the tasks writing these directories have put them in place."""
    hpcflow.wait_on_directory(*directory_name)


def compss_file_exists(*file_name: str) -> Any:
    """True for an existing file or one a submitted task will write."""
    return _many([sync.file_exists(name) for name in file_name])


def compss_delete_file(*file_name: str) -> Any:
    """Delete files once no task uses them; always True."""
    hpcflow.delete_file(*[name for name in file_name if os.path.lexists(name) or
                          sync.file_exists(name)])
    return _many([True] * len(file_name))


def compss_delete_object(*obj: Any) -> Any:
    """The runtime forgets these objects' versions; always True."""
    hpcflow.delete_object(*obj)
    return _many([True] * len(obj))


def compss_barrier_group(group_name: str) -> None:
    """Wait for the tasks of a group; raise its COMPSsException (or failure)."""
    try:
        sync.barrier_group(group_name)
    except TaskFailed as failure:
        raise as_compss(failure) from None


def compss_cancel_group(group_name: str) -> None:
    """Cancel the group's unfinished tasks (running ones are killed)."""
    sync.cancel_group(group_name)


def compss_get_number_of_resources() -> int:
    """Nodes (agents) the run uses now."""
    return hpcflow.number_of_resources()


def compss_request_resources(num_resources: int, group_name: str | None = None) -> None:
    """Grow an elastic run (``hpcflow submit --elastic``) by ``num_resources`` nodes;
    elsewhere the node count is fixed and nothing changes."""
    hpcflow.request_resources(num_resources)


def compss_free_resources(num_resources: int, group_name: str | None = None) -> None:
    """Give ``num_resources`` nodes of an elastic run back once their tasks end;
    elsewhere nothing changes."""
    hpcflow.free_resources(num_resources)


def compss_set_wall_clock(wall_clock_limit: int) -> None:
    """Stop the run ``wall_clock_limit`` seconds from now: outstanding tasks are cancelled,
    the app is stopped, outputs of finished tasks are kept (exit status 124)."""
    if context.current() is not None:
        wallclock.arm(float(wall_clock_limit))


class TaskGroup(hpcflow.TaskGroup):
    """``with TaskGroup(name, implicit_barrier=True):`` its COMPSsException or failure is
    raised at the end of the block (or at ``compss_barrier_group``)."""

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            super().__exit__(exc_type, exc, tb)
        except TaskFailed as failure:
            raise as_compss(failure) from None
