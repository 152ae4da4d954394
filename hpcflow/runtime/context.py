"""Which runtime receives task calls: the one installed, or none (sequential)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

_installed: list[Any] = []


def current() -> Any:
    """The installed runtime (a master), or None: tasks then run in place."""
    return _installed[-1] if _installed else None


def install(runtime: Any) -> None:
    _installed.append(runtime)


def uninstall(runtime: Any) -> None:
    if runtime in _installed:
        _installed.remove(runtime)


@contextlib.contextmanager
def installed(runtime: Any) -> Iterator[Any]:
    """Route task calls to ``runtime`` inside the block."""
    install(runtime)
    try:
        yield runtime
    finally:
        uninstall(runtime)
