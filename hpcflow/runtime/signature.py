"""Task signatures for checkpoints: what a task computes, independent of the run (pure).

A signature is a sha256 over the function's qualified name, a hash of its code and the
hashes of its inputs. The code hash reads the bytecode, constants and names (recursively
for nested functions and the module-level helpers and plain constants the code refers to),
the defaults and the closure cells, so it works for functions in ``__main__`` and closures,
and moving a function within its file does not change it. An input produced by another
task contributes that task's signature and the output's role; a plain value its pickled
bytes; an input file its sha256.
"""

from __future__ import annotations

import hashlib
import os
import types
from collections.abc import Callable, Iterable, Sequence
from typing import Any

_PLAIN = (int, float, complex, str, bytes, bool, type(None))
_FILE_CACHE: dict[tuple[str, int, int, int], str] = {}


def digest(*parts: bytes | str) -> str:
    """The sha256 hex digest of ``parts``, each length-prefixed (no ambiguity)."""
    return _fed(hashlib.sha256(), parts).hexdigest()


def _fed(h: Any, parts: Iterable[bytes | str]) -> Any:
    """``h`` after taking ``parts`` as :func:`digest` does."""
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "little") + data)
    return h


def blob_hash(blob: bytes) -> str:
    """The content address of a pickled value or a file's bytes."""
    return hashlib.sha256(blob).hexdigest()


def file_hash(path: str, chunk: int = 1 << 20) -> str:
    """sha256 of a file's content; cached by (path, size, mtime, inode)."""
    try:
        st = os.stat(path)
    except OSError:
        return "missing"
    if os.path.isdir(path):
        return tree_hash(path)
    key = (path, st.st_size, st.st_mtime_ns, st.st_ino)
    cached = _FILE_CACHE.get(key)
    if cached is None:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            while block := fh.read(chunk):
                h.update(block)
        cached = _FILE_CACHE[key] = h.hexdigest()
    return cached


def tree_hash(root: str) -> str:
    """A directory's hash: relative paths and the sha256 of each file, sorted."""
    parts: list[str] = []
    for here, dirs, names in os.walk(root):
        dirs.sort()
        rel = os.path.relpath(here, root)
        parts.append(f"d:{rel}")
        parts += [f"f:{os.path.join(rel, n)}:{file_hash(os.path.join(here, n))}"
                  for n in sorted(names)]
    return digest(*parts)


def code_hash(func: Callable[..., Any]) -> str:
    """Hash of what a function computes: its code, the helpers and constants it names,
    its defaults and closure (not its file name or line numbers)."""
    parts: list[str] = []
    _feed_function(func, parts, set())
    return digest(*parts)


def _feed_function(func: Any, parts: list[str], seen: set[int]) -> None:
    if id(func) in seen:
        return
    seen.add(id(func))
    code = getattr(func, "__code__", None)
    if not isinstance(code, types.CodeType):
        parts.append(f"callable:{getattr(func, '__module__', '')}."
                     f"{getattr(func, '__qualname__', repr(func))}")
        return
    _feed_code(code, parts)
    parts.append(_value_text(getattr(func, "__defaults__", None)))
    parts.append(_value_text(getattr(func, "__kwdefaults__", None)))
    for cell in getattr(func, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            parts.append("cell:empty")
            continue
        _feed_reference(value, func, parts, seen)
    names = _all_names(code)
    module_globals = getattr(func, "__globals__", {})
    for name in sorted(names):
        if name in module_globals:
            parts.append(f"global:{name}")
            _feed_reference(module_globals[name], func, parts, seen)


def _feed_reference(value: Any, owner: Any, parts: list[str], seen: set[int]) -> None:
    """A name the code uses: same-module functions by code, plain constants by value."""
    if isinstance(value, types.FunctionType):
        if value.__module__ == getattr(owner, "__module__", None):
            _feed_function(value, parts, seen)
        else:
            parts.append(f"func:{value.__module__}.{value.__qualname__}")
    elif hasattr(value, "__wrapped__") and isinstance(value.__wrapped__, types.FunctionType):
        _feed_function(value.__wrapped__, parts, seen)  # another task
    elif isinstance(value, (*_PLAIN, tuple, frozenset)):
        parts.append(_value_text(value))
    elif isinstance(value, types.ModuleType):
        parts.append(f"module:{value.__name__}")
    else:
        parts.append(f"object:{type(value).__module__}.{type(value).__qualname__}")


def _all_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _all_names(const)
    return names


def _feed_code(code: types.CodeType, parts: list[str]) -> None:
    parts.append(code.co_code.hex())
    parts.append(",".join(code.co_names))
    parts.append(",".join(code.co_varnames))
    parts.append(f"{code.co_argcount}:{code.co_kwonlyargcount}:{code.co_flags}")
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _feed_code(const, parts)
        else:
            parts.append(_value_text(const))


def _value_text(value: Any) -> str:
    """A stable text for a constant (sets sorted, so hash seeds do not matter)."""
    if isinstance(value, (set, frozenset)):
        return "{" + ",".join(sorted(_value_text(v) for v in value)) + "}"
    if isinstance(value, tuple):
        return "(" + ",".join(_value_text(v) for v in value) + ")"
    if isinstance(value, _PLAIN):
        return f"{type(value).__name__}:{value!r}"
    import cloudpickle  # here: the checkpoint writer process signs tasks without it

    try:
        return "pickle:" + blob_hash(cloudpickle.dumps(value))
    except Exception:  # unpicklable default or cell: its type is all we can say
        return f"object:{type(value).__qualname__}"


def task_signature(qualname: str, code: str, call: bytes, inputs: Iterable[str]) -> str:
    """The signature of one task: function, code, its pickled call and its inputs."""
    return FunctionHasher(qualname, code).signature(call, list(inputs))


class FunctionHasher:
    """:func:`task_signature` for the tasks of one function: its name and code hashed
    once, each task's call and inputs then."""

    def __init__(self, qualname: str, code: str) -> None:
        self.head = (qualname, code)
        self._head = _fed(hashlib.sha256(), self.head)

    def signature(self, call: bytes, inputs: Sequence[str]) -> str:
        h = self._head.copy()
        h.update(b"@\0\0\0\0\0\0\0" + hashlib.sha256(call).hexdigest().encode())  # 64 bytes
        return (_fed(h, inputs) if inputs else h).hexdigest()
