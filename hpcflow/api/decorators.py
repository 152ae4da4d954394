"""``@task``, ``@constraint``, ``@implement`` and ``@on_failure``.

Decorators record a frozen :class:`TaskSpec` on a :class:`TaskFunction` and hand calls
to the installed runtime; with no runtime installed the function runs in place.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hpcflow.api.returns import PER_CALL, count_returns, future_classes, returns_at_call
from hpcflow.errors import UsageError
from hpcflow.graph.expr import evaluate, parameters_in
from hpcflow.graph.launch import apply_launch, type_name
from hpcflow.graph.spec import (
    Constraints,
    Kind,
    ParamSpec,
    Policy,
    TaskSpec,
    as_direction,
    constraint_name,
    make_constraints,
)
from hpcflow.runtime import context
from hpcflow.runtime.calls import function_bytes

_STASH = "__hpcflow_stash__"  # options given by decorators placed below @task
_TASK_OPTIONS = ("returns", "priority", "time_out", "on_failure", "retries", "defaults",
                 "target_direction", "checkpoint")
_UNSET: Any = object()


class TaskFunction:
    """A decorated task. Calling it submits a task and returns future(s) at once."""

    def __init__(self, func: Callable[..., Any], spec: TaskSpec) -> None:
        functools.update_wrapper(self, func)
        self.__wrapped__ = func
        self.spec = spec
        self.signature = inspect.signature(func)
        self.func_key = f"{func.__module__}.{func.__qualname__}#{id(self)}"
        self._implementations: list[TaskFunction] = []
        self._alone = [self]  # versions() without implementations (not to be changed)
        self._bytes: bytes | None = None
        self.returns: Any = None  # the declared ``returns`` (a count, types, a string)
        self._variants: dict[Any, TaskFunction] = {}
        self.several_as: type = tuple  # the container of several futures (PyCOMPSs: list)
        self.arg_hook: Callable[..., Any] | None = None  # (args, kwargs) -> (args, kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        returns = _UNSET
        if "returns" in kwargs and self.spec.param("returns") is None:
            returns = kwargs.pop("returns")  # PyCOMPSs: ``f(x, returns=2)`` at call time
        if self.arg_hook is not None:  # e.g. the compat layer's stream writers
            args, kwargs = self.arg_hook(args, kwargs)
        runtime = context.current()
        if runtime is None:
            return self.__wrapped__(*args, **kwargs)
        declared = self.returns if returns is _UNSET else returns
        target = self._for_count(self._count_at_call(declared, returns, args, kwargs))
        if target.spec.constraint_exprs:
            target = _constraints_at_call(target, args, kwargs)
        result = _future_objects(runtime, runtime.submit(target, args, kwargs), declared)
        return self.several_as(result) if isinstance(result, tuple) else result

    def _count_at_call(self, declared: Any, given: Any, args: tuple[Any, ...],
                       kwargs: dict[str, Any]) -> int:
        if given is _UNSET and self.spec.n_returns != PER_CALL:
            return self.spec.n_returns
        if isinstance(declared, str) and not declared.strip().isdigit():
            return returns_at_call(declared, self.signature, args, kwargs, self.__wrapped__,
                                   self.spec.name)
        return count_returns(declared, self.__wrapped__, self.spec.name)

    def _for_count(self, n_returns: int) -> TaskFunction:
        """This task, or a copy of it returning ``n_returns`` values (cached per count)."""
        if n_returns == self.spec.n_returns:
            return self
        return self.variant(n_returns, n_returns=n_returns)

    def variant(self, key: Any, **changes: Any) -> TaskFunction:
        """A copy of this task with ``changes`` to its spec, cached under ``key``."""
        if key not in self._variants:
            self._variants[key] = self.with_spec(**changes)
        return self._variants[key]

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self
        return functools.partial(self, obj)

    def __repr__(self) -> str:
        return f"<hpcflow task {self.spec.name}>"

    def versions(self) -> list[TaskFunction]:
        """This task first, then the implementations registered with ``@implement``."""
        if not self._implementations:
            return self._alone
        return [self, *self._implementations]

    def function_bytes(self) -> bytes:
        if self._bytes is None:
            self._bytes = function_bytes(self.__wrapped__, self.spec.name)
        return self._bytes

    def with_spec(self, **changes: Any) -> TaskFunction:
        clone = TaskFunction(self.__wrapped__, dataclasses.replace(self.spec, **changes))
        clone._implementations = self._implementations
        clone.returns = self.returns
        clone.several_as = self.several_as
        clone.arg_hook = self.arg_hook
        return clone

    def add_implementation(self, other: TaskFunction) -> None:
        mine = [p.name for p in self.spec.params]
        theirs = [p.name for p in other.spec.params]
        if mine != theirs:
            raise UsageError(f"implementation {other.spec.name} of {self.spec.name} must take "
                             f"the same parameters ({', '.join(mine)}), not {', '.join(theirs)}")
        self._implementations.append(other)


def task(func: Callable[..., Any] | None = None, **options: Any) -> Any:
    """Mark a function as a task: ``@task(returns=1, x=INOUT, path=FILE_IN, ...)``."""
    if func is not None:
        return _make_task(func, options)
    return lambda f: _make_task(f, options)


def _make_task(func: Callable[..., Any], options: dict[str, Any]) -> TaskFunction:
    if isinstance(func, TaskFunction) or not callable(func):
        raise UsageError(f"@task must decorate a plain function, not {func!r}")
    stash: dict[str, Any] = getattr(func, _STASH, {})
    name = func.__name__
    params = _params(func, options, name)
    spec = TaskSpec(
        name=name, qualname=f"{func.__module__}.{func.__qualname__}", params=params,
        n_returns=count_returns(options.get("returns"), func, name),
        priority=bool(options.get("priority", False)),
        time_out=_time_out(options.get("time_out"), name),
        policy=Policy.parse(options.get("on_failure", "RETRY"), f"task {name}"),
        retries=int(options.get("retries", 2)),
        constraints=stash.get("constraints", Constraints()),
        constraint_exprs=stash.get("constraint_exprs", ()),
        returns_type=type_name(options.get("returns")),
        checkpoint=bool(options.get("checkpoint", True)))
    _check_exprs(spec, spec.constraint_exprs)
    spec = _apply_failure(spec, options.get("defaults"), stash.get("on_failure"))
    spec = apply_launch(spec, stash.get("launch"))
    result = TaskFunction(func, spec)
    result.returns = options.get("returns")
    for target in stash.get("implements", []):
        _register_implementation(result, *target)
    return result


def _params(func: Callable[..., Any], options: dict[str, Any], name: str) -> tuple[ParamSpec, ...]:
    signature = inspect.signature(func)
    names = set(signature.parameters)
    for key in options:
        if key not in names and key not in _TASK_OPTIONS:
            raise UsageError(f"task {name} has no parameter {key!r} (parameters: "
                             f"{', '.join(signature.parameters) or 'none'})")
    params = []
    target = options.get("target_direction", "INOUT")
    for pname, p in signature.parameters.items():
        default = target if pname == "self" and "." in func.__qualname__ else "IN"
        declared = options.get(pname, default)
        direction = as_direction(declared, f"parameter {pname!r} of {name}")
        variadic = p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        params.append(ParamSpec(pname, direction, variadic, _depth(declared, pname, name)))
    return tuple(params)


def _depth(declared: Any, pname: str, name: str) -> int | None:
    """``{"type": COLLECTION_INOUT, "depth": 2}``: nested lists below depth 2 are elements."""
    if not isinstance(declared, Mapping):
        return None
    depth = declared.get("depth", declared.get("Depth"))
    if depth is None:
        return None
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise UsageError(f"depth={depth!r} of parameter {pname!r} of {name} must be >= 1")
    return depth


def _future_objects(runtime: Any, result: Any, declared: Any) -> Any:
    """Futures of a ``returns=SomeClass`` task become empty instances of the class (as in
    PyCOMPSs) when it constructs without arguments, so ``f().method()`` chains tasks."""
    if result is None or isinstance(declared, int):  # a count: plain futures
        return result
    futures = result if isinstance(result, tuple) else (result,)
    classes = future_classes(declared)
    if not any(classes):
        return result
    objects = tuple(_stand_in(runtime, fut, cls) for fut, cls in
                    zip(futures, classes + (None,) * len(futures), strict=False))
    return objects if isinstance(result, tuple) else objects[0]


def _stand_in(runtime: Any, future: Any, cls: type | None) -> Any:
    if cls is None:
        return future
    try:
        obj = cls()
    except Exception:  # no argument-less constructor: a plain future, as in PyCOMPSs
        return future
    runtime.tracker.alias(obj, future.key)
    return obj


def _time_out(value: Any, name: str) -> float | None:
    if value in (None, 0):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"time_out={value!r} of task {name} is not a number of seconds") \
            from None
    if seconds <= 0:
        raise UsageError(f"time_out={value!r} of task {name} must be positive")
    return seconds


def _apply_failure(spec: TaskSpec, defaults: Any, stashed: dict[str, Any] | None) -> TaskSpec:
    if stashed:
        spec = dataclasses.replace(spec, policy=stashed["policy"],
                                   ignore_files=_file_defaults(spec, stashed["files"]))
        defaults = stashed.get("returns", defaults)
    if defaults is None:
        return spec
    values = tuple(defaults) if spec.n_returns > 1 else (defaults,)
    return dataclasses.replace(spec, ignore_returns=values)


def _stash(func: Any, key: str, value: Any) -> None:
    stash = dict(getattr(func, _STASH, {}))
    if key == "implements":
        stash[key] = [*stash.get(key, []), value]
    else:
        stash[key] = value
    setattr(func, _STASH, stash)


def constraint(**constraints: Any) -> Callable[[Any], Any]:
    """Resources a task needs: ``computing_units``, ``memory_size`` (GB),
    ``processor_architecture``, ``processor_type``, ``gpus``, ``app_software`` (software
    tags of the site config; CamelCase also accepted). Values may be strings with
    ``$ENV``/``${ENV}``, or computed per call from the task's parameters:
    ``computing_units="{n}"`` (also ``"{{n}}"``) or ``"max(1, {n} // 2)"``."""
    fixed = {k: v for k, v in constraints.items() if not parameters_in(v)}
    exprs = tuple((constraint_name(k, "@constraint"), v) for k, v in constraints.items()
                  if parameters_in(v))

    def decorate(func: Any) -> Any:
        name = getattr(func, "__name__", repr(func))
        parsed = make_constraints(f"task {name}", **fixed)
        if isinstance(func, TaskFunction):
            _check_exprs(func.spec, exprs)
            return func.with_spec(constraints=parsed, constraint_exprs=exprs)
        _stash(func, "constraints", parsed)
        _stash(func, "constraint_exprs", exprs)
        return func

    return decorate


def _check_exprs(spec: TaskSpec, exprs: tuple[tuple[str, str], ...]) -> None:
    for name, text in exprs:
        for pname in parameters_in(text):
            if spec.param(pname) is None:
                raise UsageError(f"constraint {name}={text!r} of task {spec.name}: the task "
                                 f"has no parameter {pname!r}")


def _constraints_at_call(target: TaskFunction, args: tuple[Any, ...],
                         kwargs: dict[str, Any]) -> TaskFunction:
    """A task with constraints computed from this call's arguments (cached per value)."""
    spec = target.spec
    try:
        bound = target.signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise UsageError(f"bad call to task {spec.name}: {exc}") from None
    bound.apply_defaults()
    values = {n: evaluate(text, bound.arguments, f"constraint {n} of task {spec.name}")
              for n, text in spec.constraint_exprs}
    fixed = {f.name: getattr(spec.constraints, f.name)
             for f in dataclasses.fields(spec.constraints)
             if getattr(spec.constraints, f.name) is not None and f.name != "alongside"}
    computed = make_constraints(f"task {spec.name}", **{**fixed, **values})
    return target.variant(("constraints", computed), constraints=computed)


def on_failure(management: str = "RETRY", returns: Any = None,
               **files: Any) -> Callable[[Any], Any]:
    """Failure policy: RETRY, CANCEL_SUCCESSORS, FAIL or IGNORE. Under IGNORE, ``returns``
    are the values of the failed task's futures and ``<file parameter>=path`` the file
    copied into place of that output (otherwise it is created empty)."""

    def decorate(func: Any) -> Any:
        name = getattr(func, "__name__", repr(func))
        policy = Policy.parse(management, f"task {name}")
        if isinstance(func, TaskFunction):
            return func.with_spec(**_failure_changes(func.spec, policy, returns, files))
        _stash(func, "on_failure", {"policy": policy, "returns": returns, "files": files})
        return func

    return decorate


def _file_defaults(spec: TaskSpec, files: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """``@on_failure(out=path)``: ``out`` must be a FILE/DIRECTORY output of the task."""
    for pname in files:
        param = spec.param(pname)
        if param is None or param.direction.kind not in (Kind.FILE, Kind.DIRECTORY) or \
                not param.direction.mode.writes:
            raise UsageError(f"@on_failure of task {spec.name}: {pname!r} is not a file "
                             f"output parameter of the task")
    return tuple((pname, os.fspath(path)) for pname, path in files.items())


def _failure_changes(spec: TaskSpec, policy: Policy, returns: Any,
                     files: Mapping[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {"policy": policy, "ignore_files": _file_defaults(spec, files)}
    if returns is not None:
        changes["ignore_returns"] = tuple(returns) if spec.n_returns > 1 else (returns,)
    return changes


def implement(source_class: Any = None, method: Any = None) -> Callable[[Any], Any]:
    """Register the decorated task as another version of ``source_class.method``."""

    def decorate(func: Any) -> Any:
        if isinstance(func, TaskFunction):
            _register_implementation(func, source_class, method)
        else:
            _stash(func, "implements", (source_class, method))
        return func

    return decorate


def _register_implementation(impl: TaskFunction, source: Any, method: Any) -> None:
    target = method if isinstance(method, TaskFunction) else _lookup(source, method, impl)
    if not isinstance(target, TaskFunction):
        raise UsageError(f"@implement of {impl.spec.name}: {source}.{method} is not a @task")
    target.add_implementation(impl)


def _lookup(source: Any, method: Any, impl: TaskFunction) -> Any:
    owner = source
    if isinstance(source, str):
        owner = sys.modules.get(source) or _main_if_named(source)
        if owner is None:
            try:
                owner = importlib.import_module(source)
            except ImportError:
                raise UsageError(f"@implement of {impl.spec.name}: no module {source!r}") \
                    from None
    if owner is None:
        owner = sys.modules.get(impl.__wrapped__.__module__)
    try:
        return getattr(owner, str(method))
    except AttributeError:
        raise UsageError(f"@implement of {impl.spec.name}: {source}.{method} not found "
                         f"(define the original task before its implementations)") from None


def _main_if_named(name: str) -> Any:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return main if path and Path(path).stem == name.rsplit(".", 1)[-1] else None
