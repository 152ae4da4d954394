"""``pycompss.api.parameter``: directions as hpcflow directions, the ``{Type: ...}`` keys.

``STREAM_IN``/``STREAM_OUT`` take a DistroStream of ``pycompss.streams.distro_stream``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hpcflow.errors import UsageError
from hpcflow.graph.spec import DIRECTIONS, Kind
from hpcflow.graph.spec import Direction as _Direction

IN = DIRECTIONS["IN"]
OUT = DIRECTIONS["OUT"]
INOUT = DIRECTIONS["INOUT"]
CONCURRENT = DIRECTIONS["CONCURRENT"]
COMMUTATIVE = DIRECTIONS["COMMUTATIVE"]
IN_DELETE = DIRECTIONS["IN_DELETE"]

FILE = FILE_IN = DIRECTIONS["FILE_IN"]
FILE_OUT = DIRECTIONS["FILE_OUT"]
FILE_INOUT = DIRECTIONS["FILE_INOUT"]
FILE_CONCURRENT = DIRECTIONS["FILE_CONCURRENT"]
FILE_COMMUTATIVE = DIRECTIONS["FILE_COMMUTATIVE"]
FILE_IN_STDIN = DIRECTIONS["FILE_IN_STDIN"]
FILE_OUT_STDOUT = DIRECTIONS["FILE_OUT_STDOUT"]
FILE_OUT_STDERR = DIRECTIONS["FILE_OUT_STDERR"]
FILE_INOUT_STDOUT = DIRECTIONS["FILE_INOUT_STDOUT"]
FILE_INOUT_STDERR = DIRECTIONS["FILE_INOUT_STDERR"]

DIRECTORY = DIRECTORY_IN = DIRECTIONS["DIRECTORY_IN"]
DIRECTORY_OUT = DIRECTIONS["DIRECTORY_OUT"]
DIRECTORY_INOUT = DIRECTIONS["DIRECTORY_INOUT"]

COLLECTION = COLLECTION_IN = DIRECTIONS["COLLECTION_IN"]
COLLECTION_IN_DELETE = DIRECTIONS["COLLECTION_IN_DELETE"]
COLLECTION_OUT = DIRECTIONS["COLLECTION_OUT"]
COLLECTION_INOUT = DIRECTIONS["COLLECTION_INOUT"]
COLLECTION_FILE = COLLECTION_FILE_IN = DIRECTIONS["COLLECTION_FILE_IN"]
COLLECTION_FILE_OUT = DIRECTIONS["COLLECTION_FILE_OUT"]
COLLECTION_FILE_INOUT = DIRECTIONS["COLLECTION_FILE_INOUT"]

DICTIONARY = DICTIONARY_IN = DIRECTIONS["DICTIONARY_IN"]
DICTIONARY_IN_DELETE = DIRECTIONS["DICTIONARY_IN_DELETE"]
DICTIONARY_OUT = DIRECTIONS["DICTIONARY_OUT"]
DICTIONARY_INOUT = DIRECTIONS["DICTIONARY_INOUT"]


class _Stream:
    """``STREAM_IN``/``STREAM_OUT``: a DistroStream argument (pycompss.streams), passed by
    value with no dependency, so producers and consumers run at the same time."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


STREAM_IN = _Stream("STREAM_IN")
STREAM_OUT = _Stream("STREAM_OUT")


def is_stream_out(value: Any) -> bool:
    """Is this a ``STREAM_OUT`` declaration (also as ``{Type: STREAM_OUT}``)?"""
    if isinstance(value, Mapping):
        value = value.get(Type)
    return value is STREAM_OUT

STDIN, STDOUT, STDERR = "stdin", "stdout", "stderr"

Type = "type"
Direction = "direction"
StdIOStream = "stdiostream"
Prefix = "prefix"
Depth = "depth"
Weight = "weight"
Keep_rename = "keep_rename"
Cache = "cache"

_IGNORED_KEYS = (Prefix, Weight, Keep_rename, Cache)


def to_hpcflow(value: Any, where: str) -> Any:
    """A direction, or a ``{Type: ..., Direction: ..., StdIOStream: ..., Depth: n}``
    dictionary, as hpcflow takes it (``{"type": direction, "depth": n}``)."""
    if isinstance(value, _Stream) or (isinstance(value, Mapping) and
                                      isinstance(value.get(Type), _Stream)):
        stream = value if isinstance(value, _Stream) else value[Type]
        return DIRECTIONS[stream.name]  # no dependency; never queued behind another task
    if not isinstance(value, Mapping):
        return value
    unknown = set(value) - {Type, Direction, StdIOStream, Depth, *_IGNORED_KEYS}
    if unknown:
        raise UsageError(f"unknown key(s) {sorted(unknown)} in the parameter of {where}")
    base = value.get(Type, IN)
    if not isinstance(base, _Direction):
        base = IN  # a type such as INT or OBJECT: an object parameter
    name = _combined(base, value.get(Direction), value.get(StdIOStream))
    depth = value.get(Depth)
    return DIRECTIONS[name] if depth is None else {"type": DIRECTIONS[name], "depth": depth}


def _combined(base: _Direction, direction: Any, stream: Any) -> str:
    name = base.name
    if isinstance(direction, _Direction):
        prefix = name[: -len(base.mode.name)]
        name = prefix + (direction.name if direction.kind is Kind.OBJECT else
                         direction.mode.name)
    if stream in (STDIN, STDOUT, STDERR):
        name = f"{name}_{stream.upper()}"
    if name not in DIRECTIONS:
        raise UsageError(f"no direction {name} (from the parameter dictionary)")
    return name
