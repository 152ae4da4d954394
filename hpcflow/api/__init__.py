"""The user API: decorators, directions and synchronisation."""

from hpcflow.api.decorators import TaskFunction, constraint, implement, on_failure, task
from hpcflow.api.sync import (
    TaskGroup,
    barrier,
    delete_file,
    delete_object,
    open_file,
    start,
    stop,
    wait_on,
    wait_on_directory,
    wait_on_file,
)

__all__ = [
    "TaskFunction", "TaskGroup", "barrier", "constraint", "delete_file", "delete_object",
    "implement", "on_failure", "open_file", "start", "stop", "task", "wait_on",
    "wait_on_directory", "wait_on_file",
]
