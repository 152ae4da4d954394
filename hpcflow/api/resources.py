"""How many nodes the run holds, and asking for more or fewer (elastic runs).

In a job submitted with ``hpcflow submit --elastic MIN:MAX`` these steer the elastic
controller: ``request_resources(n)`` grows the run by ``n`` nodes (extension jobs that
join it, up to MAX), ``free_resources(n)`` gives ``n`` nodes back (drained first; never
below MIN, never the master's node). While the application has asked for a size, that
size replaces the demand-driven one. In any other run (local, a fixed allocation, no
runtime) the node count is fixed: the calls change nothing and return the current size.
"""

from __future__ import annotations

from typing import Any

from hpcflow.errors import UsageError
from hpcflow.runtime import context


def number_of_resources() -> int:
    """Nodes the run uses now (1 locally or without a runtime)."""
    runtime = context.current()
    if runtime is None:
        return 1
    controller = _controller(runtime)
    if controller is not None:
        return int(controller.number())
    return max(1, len(runtime.nodes()))


def request_resources(n: int) -> int:
    """Ask for ``n`` more nodes; returns the node count the run is heading for."""
    _check(n, "request_resources")
    controller = _controller(context.current())
    return int(controller.request(n)) if controller is not None else number_of_resources()


def free_resources(n: int) -> int:
    """Give ``n`` nodes back once their tasks end; returns the node count aimed for."""
    _check(n, "free_resources")
    controller = _controller(context.current())
    return int(controller.free(n)) if controller is not None else number_of_resources()


def _controller(runtime: Any) -> Any:
    return getattr(runtime, "elastic", None) if runtime is not None else None


def _check(n: int, name: str) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise UsageError(f"{name}(n): n must be an int >= 0, got {n!r}")
