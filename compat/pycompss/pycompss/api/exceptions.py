"""``COMPSsException``: raised in a task of a ``TaskGroup`` it cancels the group's other
tasks (running ones too) and reaches the caller at the group's end or at
``compss_barrier_group``."""

from __future__ import annotations

from hpcflow.errors import StopGroup, TaskFailed

_PREFIX = "COMPSsException: "


class COMPSsException(StopGroup):
    """An exception a task raises on purpose to stop its task group (never retried)."""

    def __init__(self, message: object = "", target_direction: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.target_direction = target_direction


def as_compss(failure: TaskFailed) -> BaseException:
    """The COMPSsException a task raised, rebuilt from its failure; else the failure."""
    reason = failure.reason
    if reason.startswith("cancelled because ") and _PREFIX in reason:
        reason = reason[reason.index(_PREFIX):]
    if reason.startswith(_PREFIX):
        return COMPSsException(reason[len(_PREFIX):])
    return failure
