"""Turn one task call into a plan: pickled arguments, data accesses, file outputs.

Runs in the caller's thread, before the master lock is taken, so arguments are
snapshotted at call time (as in PyCOMPSs). Futures and objects the runtime already
tracks are pickled as persistent references, wherever they sit inside the arguments;
they become the task's dependencies.
"""

from __future__ import annotations

import inspect
import io
import os
import pickle
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import cloudpickle

from hpcflow.agents.protocol import FilePrep
from hpcflow.agents.worker import ImportedFunction
from hpcflow.errors import UsageError
from hpcflow.graph.graph import Access, DataKey
from hpcflow.graph.spec import Kind, Mode, ParamSpec, Share, TaskSpec
from hpcflow.runtime.futures import Future

IMMUTABLE = (int, float, complex, str, bytes, bool, tuple, frozenset, type(None))


@dataclass
class FileOutput:
    """A FILE_/DIRECTORY_ OUT or INOUT parameter: written privately, committed later."""

    key: DataKey
    path: str
    temp: str
    directory: bool
    fallback: str | None = None  # IGNORE: copied into place when the task fails


@dataclass(slots=True)
class CallPlan:
    """Everything the master needs to register and later dispatch one call."""

    call: bytes
    refs: list[DataKey]
    accesses: list[Access]
    write_back: tuple[int, ...]
    initial: dict[DataKey, bytes]
    files: list[FileOutput] = field(default_factory=list)
    preps: tuple[FilePrep, ...] = ()
    released: tuple[Any, ...] = ()  # IN_DELETE arguments: forgotten once submitted


class Tracker:
    """Mutable objects whose versions the runtime manages, by identity.

    An object may also stand for a future (``alias``): it is then that future's datum.
    """

    def __init__(self) -> None:
        self._objects: dict[int, tuple[Any, DataKey]] = {}
        self.aliased: set[DataKey] = set()  # futures' keys that an object stands for

    def key_of(self, obj: Any) -> DataKey | None:
        if isinstance(obj, Future):
            return obj.key
        entry = self._objects.get(id(obj))
        if entry is not None and entry[0] is obj:
            return entry[1]
        return None

    def track(self, obj: Any) -> DataKey:
        key: DataKey = ("obj", id(obj))
        self._objects[id(obj)] = (obj, key)
        return key

    def alias(self, obj: Any, key: DataKey) -> None:
        """``obj`` stands for the datum ``key`` (a future) until it is synchronised."""
        self._objects[id(obj)] = (obj, key)
        self.aliased.add(key)

    def forget(self, obj: Any) -> DataKey | None:
        key = self.key_of(obj)
        if key is not None and not isinstance(obj, Future):
            del self._objects[id(obj)]
            self.aliased.discard(key)
        return key


class _RefPickler(cloudpickle.Pickler):
    def __init__(self, buffer: io.BytesIO, builder: _Builder) -> None:
        super().__init__(buffer)
        self._builder = builder

    def persistent_id(self, obj: Any) -> Any:
        if obj is None or isinstance(obj, IMMUTABLE[:5]):
            return None
        key = self._builder.tracker.key_of(obj)
        return None if key is None else self._builder.ref(key, Mode.IN)


class _Builder:
    def __init__(self, spec: TaskSpec, tracker: Tracker, task_id: int) -> None:
        self.spec = spec
        self.tracker = tracker
        self.task_id = task_id
        self.refs: list[DataKey] = []
        self.index: dict[DataKey, int] = {}
        self.modes: dict[DataKey, Mode] = {}
        self.initial: dict[DataKey, bytes] = {}
        self.files: list[FileOutput] = []
        self.file_modes: dict[DataKey, Mode] = {}
        self.preps: list[FilePrep] = []
        self.shares: dict[DataKey, Share] = {}
        self.released: list[Any] = []

    def ref(self, key: DataKey, mode: Mode) -> int:
        if key not in self.modes:
            self.index[key] = len(self.refs)
            self.refs.append(key)
            self.modes[key] = mode
        elif mode.writes:
            self.modes[key] = Mode.INOUT
        return self.index[key]

    def written_object(self, value: Any, where: str, share: Share | None = None) -> None:
        key = self.tracker.key_of(value)
        if key is None:
            if isinstance(value, IMMUTABLE):
                raise UsageError(
                    f"{where} is {type(value).__name__}, which is immutable: a task cannot "
                    f"change it in place; return the new value instead (returns=...)")
            self.initial[("obj", id(value))] = _dumps(value, where)
            key = self.tracker.track(value)
        self.ref(key, Mode.INOUT)
        if share is not None:
            self.shares[key] = share

    def written_collection(self, value: Any, where: str, depth: int | None = None) -> None:
        """Every element is a datum; nested lists are collections down to ``depth``."""
        if not isinstance(value, list):
            raise UsageError(f"{where} must be a list, not {type(value).__name__}")
        deeper = None if depth is None else depth - 1
        for index, item in enumerate(value):
            if isinstance(item, list) and deeper != 0 and \
                    not all(isinstance(x, IMMUTABLE) for x in item):
                self.written_collection(item, f"{where}[{index}]", deeper)
            elif isinstance(item, Future) or not isinstance(item, IMMUTABLE):
                self.written_object(item, f"{where}[{index}]")

    def written_dictionary(self, value: Any, where: str, depth: int | None = None) -> None:
        """Every value is a datum; nested dicts are dictionaries down to ``depth``."""
        if not isinstance(value, dict):
            raise UsageError(f"{where} must be a dict, not {type(value).__name__}")
        deeper = None if depth is None else depth - 1
        for name, item in value.items():
            if isinstance(item, dict) and deeper != 0:
                self.written_dictionary(item, f"{where}[{name!r}]", deeper)
            elif isinstance(item, Future) or not isinstance(item, IMMUTABLE):
                self.written_object(item, f"{where}[{name!r}]")

    def path_collection(self, value: Any, mode: Mode, where: str,
                        depth: int | None = None) -> list[Any]:
        """A list of paths (nested lists down to ``depth``): each path a file datum."""
        if not isinstance(value, list):
            raise UsageError(f"{where} must be a list of paths, not {type(value).__name__}")
        deeper = None if depth is None else depth - 1
        return [self.path_collection(item, mode, f"{where}[{i}]", deeper)
                if isinstance(item, list) and deeper != 0
                else self.path_param(item, Kind.FILE, mode, f"{where}[{i}]")
                for i, item in enumerate(value)]

    def path_param(self, value: Any, kind: Kind, mode: Mode, where: str,
                   share: Share | None = None, fallback: str | None = None) -> str:
        if not isinstance(value, (str, os.PathLike)):
            raise UsageError(f"{where} must be a path, not {type(value).__name__}")
        path = os.path.abspath(os.fspath(value))
        key: DataKey = ("file", path)
        self.file_modes[key] = Mode.INOUT if key in self.file_modes else mode
        if share is not None:  # shared writers work on the file in place
            self.shares[key] = share
            return path
        if not mode.writes:
            return os.fspath(value)
        head, tail = os.path.split(path)  # private, but ending with the original name
        temp = os.path.join(head, f".{tail}.hpcflow-{self.task_id}.part", tail)
        directory = kind is Kind.DIRECTORY
        if fallback is not None and not os.path.exists(fallback):
            raise UsageError(f"the @on_failure default {fallback} of {where} does not exist")
        self.files.append(FileOutput(key, path, temp, directory,
                                     fallback and os.path.abspath(fallback)))
        self.preps.append(FilePrep(temp, path if mode.reads else None, directory))
        return temp


def build_call(spec: TaskSpec, signature: inspect.Signature, tracker: Tracker, task_id: int,
               args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> CallPlan:
    """Bind the arguments, register the accesses they imply and pickle the call."""
    if not kwargs and len(args) == spec.plain_arity and \
            all(type(arg) in _SCALARS for arg in args):
        return _plain_call(args)
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise UsageError(f"bad call to task {spec.name}: {exc}") from None
    bound.apply_defaults()
    builder = _Builder(spec, tracker, task_id)
    for param in spec.params:
        if param.name in bound.arguments and not param.variadic:
            bound.arguments[param.name] = _declare(builder, param,
                                                   bound.arguments[param.name], spec.name)
    call = _pickle_call(builder, bound.args, bound.kwargs, spec.name)
    shares = builder.shares
    accesses = [Access(k, builder.modes[k], share=shares.get(k)) for k in builder.refs]
    accesses += [Access(k, m, in_place=True, share=shares.get(k))
                 for k, m in builder.file_modes.items()]
    write_back = tuple(i for i, k in enumerate(builder.refs) if builder.modes[k].writes)
    return CallPlan(call, builder.refs, accesses, write_back, builder.initial, builder.files,
                    tuple(builder.preps), tuple(builder.released))


_SCALARS = frozenset((int, float, complex, str, bytes, bool, type(None)))


def _plain_call(args: tuple[Any, ...]) -> CallPlan:
    """Every argument given, positionally, as a scalar: nothing to track or bind."""
    return CallPlan(pickle.dumps((args, {}), protocol=5), [], [], (), {})


def _declare(builder: _Builder, param: ParamSpec, value: Any, task: str) -> Any:
    where = f"parameter {param.name!r} of task {task}"
    direction = param.direction
    kind, mode = direction.kind, direction.mode
    if kind in (Kind.FILE, Kind.DIRECTORY):
        fallback = dict(builder.spec.ignore_files).get(param.name)
        return builder.path_param(value, kind, mode, where, direction.share, fallback)
    if kind is Kind.COLLECTION_FILE:
        return builder.path_collection(value, mode, where, param.depth)
    if direction.delete:
        builder.released.append(value)
    if mode.writes and kind is Kind.COLLECTION:
        builder.written_collection(value, where, param.depth)
    elif mode.writes and kind is Kind.DICTIONARY:
        builder.written_dictionary(value, where, param.depth)
    elif mode.writes:
        builder.written_object(value, where, direction.share)
    return value


def _pickle_call(builder: _Builder, args: tuple[Any, ...], kwargs: dict[str, Any],
                 task: str) -> bytes:
    buffer = io.BytesIO()
    try:
        _RefPickler(buffer, builder).dump((args, kwargs))
    except Exception as exc:
        raise UsageError(f"an argument of task {task} cannot be serialized: "
                         f"{type(exc).__name__}: {exc}") from None
    return buffer.getvalue()


def _dumps(value: Any, where: str) -> bytes:
    try:
        return cloudpickle.dumps(value)
    except Exception as exc:
        raise UsageError(f"{where} cannot be serialized: {type(exc).__name__}: {exc}") from None


def function_bytes(func: Callable[..., Any], name: str) -> bytes:
    """Pickle a task function: by reference when its module can be imported on the
    workers, by value when it lives in ``__main__`` or a closure."""
    module, qualname = getattr(func, "__module__", None), getattr(func, "__qualname__", "")
    if module and module != "__main__" and "<locals>" not in qualname:
        return cloudpickle.dumps(ImportedFunction(module, qualname, _import_root(module)))
    try:
        return cloudpickle.dumps(func)
    except Exception as exc:
        raise UsageError(f"task function {name} cannot be serialized: {exc}") from None


def _import_root(module: str) -> str:
    """The directory that must be on sys.path to import ``module`` as it was here."""
    mod = sys.modules.get(module)
    path = getattr(mod, "__file__", None)
    if not path:
        return ""
    depth = module.count(".") + (2 if os.path.basename(path) == "__init__.py" else 1)
    root = os.path.abspath(path)
    for _ in range(depth):
        root = os.path.dirname(root)
    return root
