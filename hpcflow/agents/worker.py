"""The code that runs inside a task process: unpack an assignment, call, pack the result."""

from __future__ import annotations

import collections
import importlib
import io
import os
import pickle
import shutil
import socket
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any

from hpcflow.agents.protocol import Assignment, FilePrep, Result, recv_message, send_message
from hpcflow.errors import StopGroup

HOST = socket.gethostname()


class ImportedFunction:
    """A task function named by module and qualified name, imported where it runs."""

    def __init__(self, module: str, qualname: str, root: str = "") -> None:
        self.module = module
        self.qualname = qualname
        self.root = root  # the sys.path entry the module was imported from
        self._func: Callable[..., Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_func": None}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def resolve(self) -> Callable[..., Any]:
        """Import the function (once)."""
        if self._func is None:
            if self.root and self.root not in sys.path:
                sys.path.append(self.root)
            obj: Any = importlib.import_module(self.module)
            for part in self.qualname.split("."):
                obj = _member(obj, part)
            self._func = getattr(obj, "__wrapped__", obj)
        return self._func


def _member(owner: Any, name: str) -> Any:
    """``owner.name``, but a class's classmethod/staticmethod as the function it wraps."""
    raw = vars(owner).get(name) if isinstance(owner, type) else None
    if isinstance(raw, (classmethod, staticmethod)):
        return raw.__func__
    return getattr(owner, name)


class _RefUnpickler(pickle.Unpickler):
    """Resolves the persistent ids of a call to the values of its refs."""

    def __init__(self, data: bytes, resolve: Callable[[int], Any]) -> None:
        super().__init__(io.BytesIO(data))
        self._resolve = resolve

    def persistent_load(self, pid: Any) -> Any:
        return self._resolve(pid)


def execute(assignment: Assignment, func: Callable[..., Any]) -> Result:
    """Run one attempt in this process and describe its outcome."""
    started = time.time()
    loaded: dict[int, Any] = {}

    def resolve(index: int) -> Any:
        if index not in loaded:
            loaded[index] = pickle.loads(assignment.refs[index])
        return loaded[index]

    extra: dict[str, str] = {}
    try:
        _prepare_files(assignment.files)
        args, kwargs = _RefUnpickler(assignment.call, resolve).load()
        slots = _element_slots((args, kwargs), loaded) if assignment.write_back else {}
        if assignment.launch is None:
            value = func(*args, **kwargs)
        else:
            from hpcflow.agents.steps import run_step  # launched tasks only: kept off start-up

            value = run_step(assignment.launch, func, args, kwargs, extra)
    except BaseException as exc:  # the task's own failure, reported to the master
        return replace(_failure(assignment, started, exc), extra=extra)
    try:
        values = _split_returns(value, assignment.n_returns, assignment.name)
        packed = tuple(dumps(v) for v in values)
        writes = tuple(dumps(_written(i, slots, resolve))
                       for i in assignment.write_back)
    except Exception as exc:
        reason = f"result cannot be serialized: {type(exc).__name__}: {exc}"
        return _failure(assignment, started, exc, reason)
    return Result(assignment.task_id, assignment.attempt, True, HOST, os.getpid(), started,
                  time.time(), values=packed, writes=writes, extra=extra)


def dumps(value: Any) -> bytes:
    """Pickle a task's value: plain pickle when it can (no cloudpickle import, faster),
    cloudpickle for what only it can (lambdas, classes of the app's ``__main__``)."""
    try:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        import cloudpickle

        return cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _element_slots(root: Any, loaded: dict[int, Any]) -> dict[int, tuple[Any, Any]]:
    """Where each loaded ref sits as an element of a list or a value of a dict of the
    arguments, so that a task replacing a collection element (``col[i] = new``) or a
    dictionary value (``d[k] = new``) writes back the new element."""
    index_of = {id(value): index for index, value in loaded.items()}
    slots: dict[int, tuple[Any, Any]] = {}
    seen: set[int] = set()
    todo = [root]
    while todo:
        container = todo.pop()
        if id(container) in seen:
            continue
        seen.add(id(container))
        items = container.items() if isinstance(container, dict) else enumerate(container)
        for position, item in items:
            if isinstance(container, (list, dict)) and id(item) in index_of:
                slots.setdefault(index_of[id(item)], (container, position))
            if isinstance(item, (list, tuple, dict)) and id(item) not in index_of:
                todo.append(item)
    return slots


def _written(index: int, slots: dict[int, tuple[Any, Any]],
             resolve: Callable[[int], Any]) -> Any:
    if index in slots:
        container, position = slots[index]
        if isinstance(container, dict):
            if position in container:
                return container[position]
        elif position < len(container):
            return container[position]
    return resolve(index)


def _split_returns(value: Any, n: int, name: str) -> tuple[Any, ...]:
    if n == 0:
        return ()
    if n == 1:
        return (value,)
    if not isinstance(value, (tuple, list)) or len(value) != n:
        raise ValueError(f"task {name} declares {n} return values but returned {value!r:.80}")
    return tuple(value)


def _failure(assignment: Assignment, started: float, exc: BaseException,
             reason: str | None = None) -> Result:
    tb_obj = exc.__traceback__
    while tb_obj is not None and tb_obj.tb_frame.f_code.co_filename == __file__:
        tb_obj = tb_obj.tb_next  # hide our own frames: the user's code comes first
    tb = "".join(traceback.format_exception(type(exc), exc, tb_obj or exc.__traceback__))
    steps = sys.modules.get("hpcflow.agents.steps")  # loaded if a launched task raised
    if steps is not None and isinstance(exc, steps.StepFailed):
        tb = exc.detail  # the step's stderr or the failing rank's traceback, not ours
        reason = reason or str(exc)
    return Result(assignment.task_id, assignment.attempt, False, HOST, os.getpid(), started,
                  time.time(), error=reason or f"{type(exc).__name__}: {exc}", traceback=tb,
                  final=isinstance(exc, StopGroup))


def _prepare_files(preps: tuple[FilePrep, ...]) -> None:
    for prep in preps:
        os.makedirs(os.path.dirname(prep.target) or ".", exist_ok=True)
        _remove(prep.target)
        if prep.source is None or not os.path.exists(prep.source):
            continue
        if prep.directory:
            shutil.copytree(prep.source, prep.target, symlinks=True)
        else:
            shutil.copy2(prep.source, prep.target)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


#: A task process sends the results of a batch as they come, at most this many seconds
#: after the first one not yet sent (and at once when its batch is done).
FLUSH_AFTER = 0.002


def serve(conn: Connection, app_dir: str) -> None:
    """Main loop of a task process: runs the batches of assignments it is sent, one
    assignment at a time, until told to stop."""
    if app_dir and app_dir not in sys.path:
        sys.path.insert(0, app_dir)
    functions: dict[str, Callable[..., Any]] = {}
    pending: collections.deque[Assignment] = collections.deque()
    results: list[Result] = []
    first = 0.0
    while True:
        if not pending:
            try:
                batch: list[Assignment] | None = recv_message(conn)
            except (EOFError, OSError):
                return
            if batch is None:
                return
            pending.extend(batch)
        result = _run_one(pending.popleft(), functions)
        if not results:
            first = time.monotonic()
        results.append(result)
        if not pending or time.monotonic() - first >= FLUSH_AFTER:
            try:
                send_message(conn, results)
            except OSError:
                return  # the agent is gone; nobody wants the results
            results = []


def _run_one(assignment: Assignment, functions: dict[str, Callable[..., Any]]) -> Result:
    cores = str(assignment.cores)
    if os.environ.get("OMP_NUM_THREADS") != cores:
        os.environ["OMP_NUM_THREADS"] = cores
    try:
        if assignment.func is not None:
            functions[assignment.func_key] = pickle.loads(assignment.func)
        func = functions[assignment.func_key]
    except Exception as exc:
        return _failure(assignment, time.time(), exc,
                        f"cannot load the task function: {type(exc).__name__}: {exc}")
    return execute(assignment, func)


def main(argv: list[str]) -> None:
    """Entry point of a task process: ``python -m hpcflow.agents.worker FD APP_DIR``."""
    conn = Connection(int(argv[1]))
    try:
        serve(conn, argv[2] if len(argv) > 2 else "")
    except KeyboardInterrupt:
        pass
