"""How a task is launched when it is more than a Python call: ``@binary``, ``@mpi``,
``@ompss`` and ``@multinode`` (PyCOMPSs names).

Pure data and pure helpers: the frozen :class:`LaunchSpec` the decorators record on a
``TaskSpec``, the checks made at decoration, and the filling of ``{param}`` placeholders
into an argv list (never a shell string).
"""

from __future__ import annotations

import enum
import re
import shlex
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from hpcflow.errors import UsageError
from hpcflow.graph.spec import DIRECTIONS, Kind, ParamSpec, Stream, TaskSpec

#: MPI runners accepted by ``@mpi(runner=...)``.
RUNNERS = ("srun", "mpirun", "mpiexec")


class LaunchKind(enum.Enum):
    """What the task runs."""

    BINARY = "binary"  # any executable, once, on one node
    MPI = "mpi"  # P ranks (an MPI binary, or the Python function with mpi4py)
    OMPSS = "ompss"  # a threaded binary on one node with computing_units threads
    MULTINODE = "multinode"  # the Python function, once, owning K whole nodes


@dataclass(frozen=True)
class LaunchSpec:
    """A task's launch, recorded at decoration.

    ``processes``, ``processes_per_node`` and ``computing_nodes`` are ints or a
    ``"{param}"`` naming the parameter that gives the number at call time.
    ``streams`` maps ``stdin``/``stdout``/``stderr`` to the FILE parameter bound to it.
    """

    kind: LaunchKind
    binary: str | None = None
    binary_args: tuple[str, ...] = ()  # words after the program in ``binary="prog -x"``
    args: str | None = None
    runner: str = "srun"
    processes: int | str = 1
    processes_per_node: int | str | None = None
    computing_nodes: int | str | None = None
    working_dir: str | None = None
    fail_by_exit_value: bool = True
    streams: tuple[tuple[str, str], ...] = ()

    @property
    def python(self) -> bool:
        """True when the decorated Python function itself runs (no binary)."""
        return self.binary is None

    def stream(self, name: str) -> str | None:
        """The parameter bound to stream ``name`` (``stdin``/``stdout``/``stderr``)."""
        return dict(self.streams).get(name)


def count_value(value: Any, what: str, where: str) -> int | str:
    """A positive int, or a ``"{param}"`` placeholder kept for the call."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{") and text.endswith("}") and text[1:-1].strip().isidentifier():
            return "{" + text[1:-1].strip() + "}"
        if text.isdigit() and int(text) >= 1:
            return int(text)
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise UsageError(f"{what}={value!r} of {where} must be a positive integer or "
                     f"'{{param}}'")


_DOUBLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def pycompss_template(template: str | None) -> str | None:
    """Accept PyCOMPSs' ``{{name}}`` spelling of a placeholder as ``{name}``."""
    return None if template is None else _DOUBLE.sub(r"{\1}", template)


def split_binary(binary: str, where: str) -> tuple[str, tuple[str, ...]]:
    """``"Rscript --vanilla run.R"`` -> ``("Rscript", ("--vanilla", "run.R"))``."""
    try:
        words = shlex.split(binary)
    except ValueError as exc:
        raise UsageError(f"binary={binary!r} of {where} cannot be split: {exc}") from None
    if not words:
        raise UsageError(f"binary={binary!r} of {where} must be a program name or path")
    return words[0], tuple(words[1:])


def placeholder_name(value: int | str | None) -> str | None:
    """``"{n}"`` -> ``"n"``; an int or None -> None."""
    if isinstance(value, str):
        return value[1:-1]
    return None


def template_fields(template: str, where: str) -> list[str]:
    """The parameter names a template's ``{placeholders}`` use (roots of ``{a.b}``)."""
    names = []
    try:
        for _, field_name, _, _ in string.Formatter().parse(template):
            if field_name is None:
                continue
            root = field_name.split(".", 1)[0].split("[", 1)[0]
            if not root or root.isdigit():
                raise UsageError(f"placeholder {{{field_name}}} in {where} must name a "
                                 f"parameter, e.g. {{n}}")
            names.append(root)
    except ValueError as exc:
        raise UsageError(f"bad template {template!r} in {where}: {exc}") from None
    return names


def check_launch(launch: LaunchSpec, params: Sequence[ParamSpec], task: str,
                 n_returns: int) -> tuple[LaunchSpec, tuple[ParamSpec, ...]]:
    """Validate a launch against the task's parameters; bind the streams.

    Returns the launch with every stream bound (``stdout=`` names and ``*_STDOUT``
    directions alike) and the parameters with stream parameters made FILE ones.
    """
    where = f"@{launch.kind.value} of task {task}"
    names = [p.name for p in params]
    used = template_fields(launch.args or "", where)
    used += template_fields(launch.working_dir or "", where)
    for value in (launch.processes, launch.processes_per_node, launch.computing_nodes):
        name = placeholder_name(value)
        if name is not None:
            used.append(name)
    for name in used:
        if name not in names:
            raise UsageError(f"placeholder {{{name}}} in {where} names no parameter "
                             f"(parameters: {', '.join(names) or 'none'})")
    if n_returns > 1:
        raise UsageError(f"{where}: returns={n_returns} is not supported; a launched task "
                         f"returns one value (the exit value, or the function's value)")
    streams, params = _bind_streams(launch, params, where)
    return replace(launch, streams=streams), params


def _bind_streams(launch: LaunchSpec, params: Sequence[ParamSpec],
                  where: str) -> tuple[tuple[tuple[str, str], ...], tuple[ParamSpec, ...]]:
    bound = {p.direction.stream.value: p.name for p in params if p.direction.stream}
    for stream, name in launch.streams:
        if name not in [p.name for p in params]:
            raise UsageError(f"{stream}={name!r} in {where} names no parameter")
        if bound.get(stream, name) != name:
            raise UsageError(f"{where}: {stream} is bound to both {bound[stream]!r} and "
                             f"{name!r}")
        bound[stream] = name
    if bound and launch.python:
        raise UsageError(f"{where}: stdin/stdout/stderr need a binary")
    return tuple(sorted(bound.items())), tuple(_stream_param(p, bound) for p in params)


def _stream_param(param: ParamSpec, bound: Mapping[str, str]) -> ParamSpec:
    stream = next((s for s, n in bound.items() if n == param.name), None)
    if stream is None:
        return param
    direction = param.direction
    if direction.kind is Kind.FILE:
        return param
    if direction.kind is not Kind.OBJECT or direction.mode.name != "IN":
        raise UsageError(f"parameter {param.name!r} bound to {stream} must be a FILE "
                         f"parameter, not {direction.name}")
    default = "FILE_IN" if stream == Stream.STDIN.value else "FILE_OUT"
    return replace(param, direction=DIRECTIONS[default])


def fill_template(template: str, values: Mapping[str, Any]) -> list[str]:
    """Split ``template`` like a shell would (``shlex``), then fill each word.

    A word that is exactly ``{name}`` becomes one argv element per item when the value
    is a list or tuple, and disappears when it is None; anything else is formatted
    in place. Values never go through a shell.
    """
    try:
        words = shlex.split(template)
    except ValueError as exc:
        raise UsageError(f"bad args template {template!r}: {exc}") from None
    argv: list[str] = []
    for word in words:
        whole = _whole_placeholder(word)
        if whole is not None and whole in values:
            argv += _as_words(values[whole])
        else:
            argv.append(_format(word, values))
    return argv


def _whole_placeholder(word: str) -> str | None:
    if word.startswith("{") and word.endswith("}") and word.count("{") == 1:
        inner = word[1:-1]
        if inner.isidentifier():
            return inner
    return None


def _as_words(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [w for item in value for w in _as_words(item)]
    return [str(value)]


def _format(word: str, values: Mapping[str, Any]) -> str:
    try:
        return word.format_map(values)
    except (KeyError, AttributeError, IndexError, ValueError) as exc:
        raise UsageError(f"cannot fill {word!r}: {type(exc).__name__}: {exc}") from None


def default_argv(params: Sequence[ParamSpec], values: Mapping[str, Any],
                 streams: Sequence[tuple[str, str]]) -> list[str]:
    """No ``args`` template: every parameter but the streams, in order (PyCOMPSs)."""
    skip = {name for _, name in streams}
    argv: list[str] = []
    for param in params:
        if param.name not in skip:
            argv += _as_words(values.get(param.name))
    return argv


def apply_launch(spec: TaskSpec, launch: LaunchSpec | None) -> TaskSpec:
    """``spec`` with ``launch`` checked and recorded (and its stream parameters bound)."""
    if launch is None:
        return spec
    if spec.launch is not None:
        raise UsageError(f"task {spec.name} has two launchers: @{spec.launch.kind.value} "
                         f"and @{launch.kind.value}")
    checked, params = check_launch(launch, spec.params, spec.name, spec.n_returns)
    return replace(spec, launch=checked, params=params)


def type_name(value: Any) -> str:
    """The name of a type given as ``returns`` (``int``, ``list``), else ``""``."""
    return value.__name__ if isinstance(value, type) else ""
