"""hpcflow: a SLURM-native, elastic task launcher for plain Python scripts.

Decorate functions with ``@task``; calls become asynchronous tasks in a data-flow graph
built from the parameter directions, run in parallel locally (``hpcflow run``) or across
a Slurm allocation (``hpcflow submit``).
"""

from hpcflow.api import (
    TaskGroup,
    barrier,
    binary,
    constraint,
    delete_file,
    delete_object,
    free_resources,
    implement,
    mpi,
    multinode,
    number_of_resources,
    ompss,
    on_failure,
    open_file,
    request_resources,
    snapshot,
    start,
    stop,
    task,
    wait_on,
    wait_on_directory,
    wait_on_file,
)
from hpcflow.errors import HpcflowError, TaskFailed
from hpcflow.graph.spec import DIRECTIONS

IN = DIRECTIONS["IN"]
OUT = DIRECTIONS["OUT"]
INOUT = DIRECTIONS["INOUT"]
FILE_IN = DIRECTIONS["FILE_IN"]
FILE_OUT = DIRECTIONS["FILE_OUT"]
FILE_INOUT = DIRECTIONS["FILE_INOUT"]
DIRECTORY_IN = DIRECTIONS["DIRECTORY_IN"]
DIRECTORY_OUT = DIRECTIONS["DIRECTORY_OUT"]
DIRECTORY_INOUT = DIRECTIONS["DIRECTORY_INOUT"]
COLLECTION_IN = DIRECTIONS["COLLECTION_IN"]
COLLECTION_OUT = DIRECTIONS["COLLECTION_OUT"]
COLLECTION_INOUT = DIRECTIONS["COLLECTION_INOUT"]
FILE_IN_STDIN = DIRECTIONS["FILE_IN_STDIN"]
FILE_OUT_STDOUT = DIRECTIONS["FILE_OUT_STDOUT"]
FILE_OUT_STDERR = DIRECTIONS["FILE_OUT_STDERR"]
FILE_INOUT_STDOUT = DIRECTIONS["FILE_INOUT_STDOUT"]
FILE_INOUT_STDERR = DIRECTIONS["FILE_INOUT_STDERR"]

__version__ = "0.1.0"

__all__ = [
    "COLLECTION_IN", "COLLECTION_INOUT", "COLLECTION_OUT", "DIRECTORY_IN", "DIRECTORY_INOUT",
    "DIRECTORY_OUT", "FILE_IN", "FILE_INOUT", "FILE_INOUT_STDERR", "FILE_INOUT_STDOUT",
    "FILE_IN_STDIN", "FILE_OUT", "FILE_OUT_STDERR", "FILE_OUT_STDOUT", "IN", "INOUT", "OUT",
    "HpcflowError", "TaskFailed", "TaskGroup", "barrier", "binary", "constraint",
    "delete_file", "delete_object", "free_resources", "implement", "mpi", "multinode",
    "number_of_resources", "ompss", "on_failure", "open_file", "request_resources", "snapshot",
    "start", "stop", "task",
    "wait_on", "wait_on_directory", "wait_on_file",
]
