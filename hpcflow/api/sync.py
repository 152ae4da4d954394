"""Synchronisation with the runtime: wait_on, files, barrier, groups, start/stop."""

from __future__ import annotations

import os
import shutil
from typing import IO, Any

from hpcflow.runtime import context
from hpcflow.runtime.futures import Future

_WRITE_MODES = set("wax+")
_started: list[Any] = []


def wait_on(*objs: Any) -> Any:
    """Concrete values of futures and of objects written by tasks (nested containers too).

    Objects changed in place by INOUT tasks are updated in place when their type allows
    (lists, dicts, sets, arrays, objects with ``__dict__``) and also returned.
    """
    runtime = context.current()
    values = [_resolve(runtime, obj) for obj in objs]
    return values[0] if len(values) == 1 else values


def _resolve(runtime: Any, obj: Any) -> Any:
    if runtime is None:
        return obj
    if isinstance(obj, Future):
        return runtime.wait_value(obj.key)
    key = runtime.tracker.key_of(obj)
    if key is not None:
        value = runtime.wait_object(obj)
        if key[0] == "fut":
            runtime.tracker.forget(obj)  # a stand-in for a future is the caller's again
        return _sync_into(obj, value)
    if isinstance(obj, list):
        futures = [x.key for x in obj if isinstance(x, Future)]
        if len(futures) > 1:
            runtime.settle_values(futures)  # one wake-up for the lot, not one per item
        return [_resolve(runtime, x) for x in obj]
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        return tuple(_resolve(runtime, x) for x in obj)
    if isinstance(obj, dict):
        return {k: _resolve(runtime, v) for k, v in obj.items()}
    return obj


def _sync_into(target: Any, new: Any) -> Any:
    """Make ``target`` equal to ``new`` in place when its type allows; return the result."""
    if type(target) is not type(new):
        return new
    if isinstance(target, list):
        target[:] = [_resolve(context.current(), x) for x in new]
    elif isinstance(target, (dict, set)):
        target.clear()
        target.update(new)
    elif isinstance(target, bytearray):
        target[:] = new
    elif hasattr(target, "__array_interface__") and getattr(target, "shape", None) == new.shape:
        target[...] = new
    elif hasattr(target, "__dict__"):
        vars(target).clear()
        vars(target).update(vars(new))
    else:
        return new
    return target


def wait_on_file(*paths: str | os.PathLike[str]) -> Any:
    """Wait until the last task writing each path has put it in place."""
    runtime = context.current()
    done = [runtime.wait_file(p) if runtime else os.fspath(p) for p in paths]
    return done[0] if len(done) == 1 else done


wait_on_directory = wait_on_file


def open_file(path: str | os.PathLike[str], mode: str = "r", **kwargs: Any) -> IO[Any]:
    """``open`` after synchronising with the tasks that write (or, to write, read) ``path``."""
    runtime = context.current()
    if runtime is not None:
        runtime.wait_file(path, writing=bool(_WRITE_MODES & set(mode)))
    return open(path, mode, **kwargs)


def file_exists(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` exists, or a task submitted so far will write it."""
    runtime = context.current()
    if runtime is not None and runtime.graph.latest(("file", os.path.abspath(path))):
        return True
    return os.path.exists(path)


def barrier_group(name: str) -> None:
    """Wait for the tasks of group ``name`` (left with ``implicit_barrier=False``);
    raise its first failure."""
    runtime = context.current()
    if runtime is not None:
        runtime.barrier_group(name)


def cancel_group(name: str) -> None:
    """Cancel the tasks of group ``name`` that have not finished (running ones are killed)."""
    runtime = context.current()
    if runtime is not None:
        runtime.cancel_group(name)


def barrier(no_more_tasks: bool = False) -> None:
    """Wait until every task submitted so far has finished."""
    runtime = context.current()
    if runtime is not None:
        runtime.barrier()


def snapshot(timeout: float | None = None) -> bool:
    """Write the checkpoint of every task finished so far now (with ``--checkpoint
    periodic`` they are otherwise written every interval); True once they are on disk."""
    checkpoints = getattr(context.current(), "checkpoints", None)
    return True if checkpoints is None else bool(checkpoints.flush(timeout))


def delete_object(*objs: Any) -> None:
    """Tell the runtime an object will not be used again; it drops its versions."""
    runtime = context.current()
    for obj in objs:
        if runtime is not None:
            runtime.forget_object(obj)


def delete_file(*paths: str | os.PathLike[str]) -> None:
    """Delete a file or directory once no task uses it any more."""
    runtime = context.current()
    for path in paths:
        if runtime is not None:
            runtime.forget_file(path)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.remove(path)


class TaskGroup:
    """Tasks submitted inside the block form a group; leaving it waits for all of them
    (with ``implicit_barrier=False`` it does not: ``barrier_group(name)`` does).

    The first failure in the group cancels the rest of the group and is raised (as
    :class:`TaskFailed`) when the block ends, whatever the task's failure policy
    (IGNORE aside).
    """

    def __init__(self, name: str, implicit_barrier: bool = True) -> None:
        self.name = name
        self.implicit_barrier = implicit_barrier
        self._runtime: Any = None

    def __enter__(self) -> TaskGroup:
        self._runtime = context.current()
        if self._runtime is not None:
            self._runtime.open_group(self.name)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._runtime is not None:
            self._runtime.close_group(self.name, wait=self.implicit_barrier)


def start(workers: int | None = None, cpus: int | None = None,
          memory_gb: float | None = None, progress: bool = False) -> None:
    """Start the local runtime (e.g. in a notebook); tasks run in parallel until stop()."""
    from hpcflow.runtime.session import local_session

    session = local_session(os.getcwd(), workers, cpus, memory_gb, progress)
    _started.append(session)
    context.install(session.master)


def stop(summary: bool = False) -> None:
    """Wait for every task, stop the runtime started by start(), print a summary if asked."""
    if not _started:
        return
    session = _started.pop()
    try:
        session.master.barrier()
    finally:
        context.uninstall(session.master)
        session.close()
        if summary:
            print(session.summary())
