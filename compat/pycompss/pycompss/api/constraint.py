"""``@constraint``: values may be strings with ``$ENV``/``${ENV}``; constraints hpcflow
does not place by are said once on stderr, not silently dropped."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import hpcflow
from hpcflow.graph.spec import CONSTRAINT_ALIASES

_warned: set[str] = set()


def constraint(**constraints: Any) -> Callable[[Any], Any]:
    """``@constraint(computing_units="4", memory_size="${MEM}", ...)``."""
    kept: dict[str, Any] = {}
    dropped: list[str] = []
    for key, value in constraints.items():
        if isinstance(value, str):
            value = os.path.expandvars(value)
        if key.lower() in CONSTRAINT_ALIASES:
            kept[key] = value
        else:
            dropped.append(key)
    inner = hpcflow.constraint(**kept)

    def decorate(func: Any) -> Any:
        if dropped:
            _warn(f"constraint(s) {', '.join(sorted(dropped))} of "
                  f"{getattr(func, '__name__', func)} are not enforced by hpcflow")
        return inner(func)

    return decorate


def _warn(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        sys.stderr.write(f"hpcflow (pycompss compat): {message}\n")
