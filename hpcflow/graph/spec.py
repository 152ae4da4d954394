"""Frozen task specifications: parameter directions, constraints and failure policies.

Everything here is pure data recorded by the decorators and read by the graph, the
scheduler and the agents.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hpcflow.errors import UsageError

if TYPE_CHECKING:
    from hpcflow.graph.launch import LaunchSpec


class Kind(enum.Enum):
    """What a parameter refers to: an object, a file path, a directory path or a collection."""

    OBJECT = "object"
    FILE = "file"
    DIRECTORY = "directory"
    COLLECTION = "collection"  # a list: every element its own datum (nested lists too)
    COLLECTION_FILE = "collection_file"  # a list of paths: every path its own file datum
    DICTIONARY = "dictionary"  # a dict: every value its own datum (nested dicts too)


class Mode(enum.Enum):
    """How a task accesses a parameter."""

    IN = "in"
    OUT = "out"
    INOUT = "inout"

    @property
    def reads(self) -> bool:
        return self is not Mode.OUT

    @property
    def writes(self) -> bool:
        return self is not Mode.IN


class Stream(enum.Enum):
    """A standard stream a FILE parameter is bound to (binary tasks)."""

    STDIN = "stdin"
    STDOUT = "stdout"
    STDERR = "stderr"


class Share(enum.Enum):
    """Writers of one datum that need not run one after the other.

    CONCURRENT writers may run at the same time (files: on the file in place, the task
    coordinates its writes); COMMUTATIVE writers run one at a time in any order. Readers
    after the group see the datum once every writer of the group has finished.
    """

    CONCURRENT = "concurrent"
    COMMUTATIVE = "commutative"


@dataclass(frozen=True)
class Direction:
    """A parameter direction such as ``INOUT`` or ``FILE_IN``."""

    name: str
    kind: Kind
    mode: Mode
    stream: Stream | None = None
    share: Share | None = None  # CONCURRENT / COMMUTATIVE (mode INOUT)
    delete: bool = False  # IN_DELETE: the runtime releases the datum once it was read
    alongside: bool = False  # the task coordinates with other running tasks (see Constraints)

    def __repr__(self) -> str:
        return self.name


def _dirs() -> dict[str, Direction]:
    table: dict[str, Direction] = {}
    prefixes = {Kind.OBJECT: "", Kind.FILE: "FILE_", Kind.DIRECTORY: "DIRECTORY_",
                Kind.COLLECTION: "COLLECTION_", Kind.COLLECTION_FILE: "COLLECTION_FILE_",
                Kind.DICTIONARY: "DICTIONARY_"}
    for kind, prefix in prefixes.items():
        for mode in Mode:
            name = prefix + mode.name
            table[name] = Direction(name, kind, mode)
        if kind in (Kind.OBJECT, Kind.COLLECTION, Kind.DICTIONARY):
            name = f"{prefix}IN_DELETE"
            table[name] = Direction(name, kind, Mode.IN, delete=True)
    for kind in (Kind.OBJECT, Kind.FILE):
        for share in Share:
            name = prefixes[kind] + share.name
            table[name] = Direction(name, kind, Mode.INOUT, share=share,
                                    alongside=share is Share.CONCURRENT)
    for name in ("STREAM_IN", "STREAM_OUT"):  # a stream object: no dependency, run together
        table[name] = Direction(name, Kind.OBJECT, Mode.IN, alongside=True)
    table["FILE_IN_STDIN"] = Direction("FILE_IN_STDIN", Kind.FILE, Mode.IN, Stream.STDIN)
    table["FILE_OUT_STDOUT"] = Direction("FILE_OUT_STDOUT", Kind.FILE, Mode.OUT, Stream.STDOUT)
    table["FILE_OUT_STDERR"] = Direction("FILE_OUT_STDERR", Kind.FILE, Mode.OUT, Stream.STDERR)
    table["FILE_INOUT_STDOUT"] = Direction(
        "FILE_INOUT_STDOUT", Kind.FILE, Mode.INOUT, Stream.STDOUT)
    table["FILE_INOUT_STDERR"] = Direction(
        "FILE_INOUT_STDERR", Kind.FILE, Mode.INOUT, Stream.STDERR)
    return table


DIRECTIONS: Mapping[str, Direction] = _dirs()


def as_direction(value: object, where: str) -> Direction:
    """Accept a Direction or its name; anything else is a one-line UsageError."""
    if isinstance(value, Direction):
        return value
    if isinstance(value, str) and value.upper() in DIRECTIONS:
        return DIRECTIONS[value.upper()]
    if isinstance(value, Mapping):
        kind = value.get("Type", value.get("type"))
        return as_direction(kind, where)
    valid = ", ".join(sorted(DIRECTIONS))
    raise UsageError(f"unknown direction {value!r} for {where}; valid: {valid}")


class Policy(enum.Enum):
    """What to do when a task fails (as in PyCOMPSs ``on_failure``)."""

    RETRY = "RETRY"
    CANCEL_SUCCESSORS = "CANCEL_SUCCESSORS"
    FAIL = "FAIL"
    IGNORE = "IGNORE"

    @classmethod
    def parse(cls, value: object, where: str) -> Policy:
        if isinstance(value, Policy):
            return value
        if isinstance(value, str) and value.upper() in cls.__members__:
            return cls[value.upper()]
        valid = ", ".join(cls.__members__)
        raise UsageError(f"unknown on_failure {value!r} for {where}; valid: {valid}")


@dataclass(frozen=True)
class Constraints:
    """Resources a task needs on one node (PyCOMPSs ``@constraint``)."""

    computing_units: int = 1
    memory_size: float = 0.0
    processor_architecture: str | None = None
    processor_type: str | None = None
    processor_performance: str | None = None
    gpus: int = 0
    app_software: frozenset[str] = frozenset()  # tags the node must offer (site config)
    # set from the directions (STREAM_*, CONCURRENT): the task may wait for other running
    # tasks, so it starts on a free slot and never waits in an agent's queue behind one
    alongside: bool = False

    def describe(self) -> str:
        parts = [f"computing_units={self.computing_units}"]
        if self.memory_size:
            parts.append(f"memory_size={self.memory_size:g}GB")
        for name in ("processor_architecture", "processor_type", "gpus"):
            value = getattr(self, name)
            if value:
                parts.append(f"{name}={value}")
        if self.app_software:
            parts.append(f"app_software={','.join(sorted(self.app_software))}")
        return ", ".join(parts)


CONSTRAINT_ALIASES: Mapping[str, str] = {
    "computing_units": "computing_units",
    "computingunits": "computing_units",
    "memory_size": "memory_size",
    "memorysize": "memory_size",
    "processor_architecture": "processor_architecture",
    "processorarchitecture": "processor_architecture",
    "processor_type": "processor_type",
    "processortype": "processor_type",
    "processor_performance": "processor_performance",
    "processorperformance": "processor_performance",
    "gpus": "gpus",
    "app_software": "app_software",
    "appsoftware": "app_software",
}


def constraint_name(key: str, where: str) -> str:
    """The canonical name of a constraint keyword (snake_case or CamelCase)."""
    name = CONSTRAINT_ALIASES.get(key.lower())
    if name is None:
        valid = sorted(set(CONSTRAINT_ALIASES.values()))
        raise UsageError(f"unknown constraint {key!r} for {where}; valid: {', '.join(valid)}")
    return name


def make_constraints(where: str, **kwargs: Any) -> Constraints:
    """Build Constraints from snake_case or the seed's CamelCase keywords; string values
    may name environment variables (``"$NCORES"``, ``"${MEM}"``)."""
    values: dict[str, Any] = {}
    for key, raw in kwargs.items():
        name = constraint_name(key, where)
        if isinstance(raw, str):
            raw = os.path.expandvars(raw)
        values[name] = _coerce_constraint(name, raw, where)
    return Constraints(**values)


def _coerce_constraint(name: str, raw: Any, where: str) -> Any:
    if name == "app_software":
        tags = raw.split(",") if isinstance(raw, str) else raw
        if not isinstance(tags, (list, tuple, set, frozenset)) or \
                not all(isinstance(t, str) for t in tags):
            raise UsageError(f"invalid constraint app_software={raw!r} for {where}: "
                             f"use \"tag1,tag2\" or a list of tags")
        return frozenset(t.strip().lower() for t in tags if t.strip())
    try:
        if name in ("computing_units", "gpus"):
            value = int(raw)
            if value < (1 if name == "computing_units" else 0):
                raise ValueError
            return value
        if name == "memory_size":
            value = float(raw)
            if value < 0:
                raise ValueError
            return value
    except (TypeError, ValueError):
        raise UsageError(f"invalid constraint {name}={raw!r} for {where}") from None
    return str(raw)


@dataclass(frozen=True)
class ParamSpec:
    """One declared parameter of a task function."""

    name: str
    direction: Direction
    variadic: bool = False  # *args or **kwargs
    depth: int | None = None  # collections/dictionaries: levels of nesting that are data


@dataclass(frozen=True)
class TaskSpec:
    """Everything the runtime needs to know about a task function, fixed at decoration."""

    name: str
    qualname: str
    params: tuple[ParamSpec, ...]
    n_returns: int = 0
    priority: bool = False
    time_out: float | None = None
    policy: Policy = Policy.RETRY
    retries: int = 2
    ignore_returns: tuple[Any, ...] = ()
    ignore_files: tuple[tuple[str, str], ...] = ()  # IGNORE: (file parameter, default path)
    constraints: Constraints = field(default_factory=Constraints)
    launch: LaunchSpec | None = None  # @binary/@mpi/@ompss/@multinode
    returns_type: str = ""  # the name of a type given as ``returns`` (``int``, ``list``)
    constraint_exprs: tuple[tuple[str, str], ...] = ()  # per call: (name, "{n} * 2")
    checkpoint: bool = True  # False: never stored nor restored (``@task(checkpoint=False)``)

    def __post_init__(self) -> None:
        alongside = any(p.direction.alongside for p in self.params)
        if alongside != self.constraints.alongside:
            object.__setattr__(self, "constraints",
                               dataclasses.replace(self.constraints, alongside=alongside))

    @functools.cached_property
    def plain_arity(self) -> int:
        """How many positional arguments make a plain call (every parameter a value read
        in, nothing variadic): such a call of scalars has nothing to bind or track. -1 when
        no call is plain."""
        plain = all(not p.variadic and p.direction.mode is Mode.IN and not p.direction.delete
                    and p.direction.stream is None
                    and p.direction.kind in (Kind.OBJECT, Kind.COLLECTION, Kind.DICTIONARY)
                    for p in self.params)
        return len(self.params) if plain else -1

    def param(self, name: str) -> ParamSpec | None:
        for p in self.params:
            if p.name == name:
                return p
        return None
