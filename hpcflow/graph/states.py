"""Task and data-version states, with their final sets."""

from __future__ import annotations

import enum


class TaskState(enum.Enum):
    """Life cycle of a task; FINAL_STATES never change again."""

    PENDING = "pending"  # waiting for input versions
    READY = "ready"  # inputs available, waiting for resources
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_STATES = (TaskState.DONE, TaskState.FAILED, TaskState.CANCELLED)  # a tuple: `in` by identity


class VersionState(enum.Enum):
    """Life cycle of one version of one datum."""

    PENDING = "pending"  # its writer has not finished
    WRITTEN = "written"  # writer finished; waiting to be committed in place
    AVAILABLE = "available"
    CANCELLED = "cancelled"  # its writer failed or was cancelled; it will never exist
