"""The user API: decorators, directions and synchronisation."""

from hpcflow.api.decorators import TaskFunction, constraint, implement, on_failure, task
from hpcflow.api.launchers import binary, mpi, multinode, ompss
from hpcflow.api.resources import free_resources, number_of_resources, request_resources
from hpcflow.api.sync import (
    TaskGroup,
    barrier,
    delete_file,
    delete_object,
    open_file,
    snapshot,
    start,
    stop,
    wait_on,
    wait_on_directory,
    wait_on_file,
)

__all__ = [
    "TaskFunction", "TaskGroup", "barrier", "binary", "constraint", "delete_file",
    "delete_object", "free_resources", "implement", "mpi", "multinode", "number_of_resources",
    "ompss", "on_failure", "open_file", "request_resources", "snapshot", "start", "stop", "task",
    "wait_on", "wait_on_directory", "wait_on_file",
]
