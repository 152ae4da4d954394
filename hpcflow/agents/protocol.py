"""What crosses between the master and the agents: assignments and results."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only launched tasks carry these; unpickling one imports them
    from multiprocessing.connection import Connection

    from hpcflow.graph.launch import LaunchSpec
    from hpcflow.graph.spec import ParamSpec


@dataclass(frozen=True)
class FilePrep:
    """Before a task runs: copy ``source`` to ``target`` (FILE_INOUT/DIRECTORY_INOUT),
    or just clear ``target`` (OUT)."""

    target: str
    source: str | None = None
    directory: bool = False


@dataclass(frozen=True)
class StepLaunch:
    """How the task process launches a ``@binary``/``@mpi``/``@ompss``/``@multinode`` task,
    resolved by the master: where, how many ranks, with which launcher.

    ``launcher``: ``srun`` (a nested step on ``nodes``), ``mpiexec`` (the local MPI
    launcher at ``launcher_path``), ``plain`` (``ntasks`` plain processes) or ``direct``
    (one process on this node). Logs go to ``log_dir`` as ``<log_name>.out``/``.err``.
    """

    spec: LaunchSpec
    params: tuple[ParamSpec, ...]
    launcher: str
    nodes: tuple[str, ...]
    ntasks: int = 1
    per_node: int = 1
    cpus_per_task: int = 1
    binary_path: str | None = None
    launcher_path: str = ""
    srun_mpi: str | None = None
    job_name: str = ""
    log_dir: str = ""
    log_name: str = ""
    gather: bool = False  # @mpi function with returns=list: every rank's value
    in_slurm: bool = False

    @property
    def stdout_log(self) -> str:
        return f"{self.log_dir}/{self.log_name}.out"

    @property
    def stderr_log(self) -> str:
        return f"{self.log_dir}/{self.log_name}.err"


@dataclass(slots=True)
class Assignment:
    """One attempt of one task, sent to an agent (treat it as read-only).

    ``call`` is the pickled ``(args, kwargs)`` whose persistent ids index ``refs``;
    after the call the agent returns the new value of every ref in ``write_back``.
    Not frozen, and so not hashable: made and unpickled once per task, a frozen
    dataclass costs four times as much to make and half again to unpickle.
    """

    task_id: int
    attempt: int
    name: str
    func_key: str
    func: bytes | None
    call: bytes
    refs: tuple[bytes, ...]
    write_back: tuple[int, ...] = ()
    n_returns: int = 0
    time_out: float | None = None
    cores: int = 1
    files: tuple[FilePrep, ...] = ()
    app_dir: str = ""
    launch: StepLaunch | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as the arguments to make it: a third of the default's cost to read."""
        return (Assignment, (self.task_id, self.attempt, self.name, self.func_key, self.func,
                             self.call, self.refs, self.write_back, self.n_returns,
                             self.time_out, self.cores, self.files, self.app_dir, self.launch))


@dataclass(slots=True)
class Result:
    """The outcome of one attempt, sent back to the master (treat it as read-only; not
    frozen, for the reason given at Assignment)."""

    task_id: int
    attempt: int
    ok: bool
    host: str
    pid: int
    started: float
    ended: float
    values: tuple[bytes, ...] = ()
    writes: tuple[bytes, ...] = ()
    error: str = ""
    traceback: str = ""
    crashed: bool = False
    timed_out: bool = False
    final: bool = False  # the task raised StopGroup: never retried
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return max(0.0, self.ended - self.started)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as the arguments to make it (see Assignment.__reduce__)."""
        return (Result, (self.task_id, self.attempt, self.ok, self.host, self.pid, self.started,
                         self.ended, self.values, self.writes, self.error, self.traceback,
                         self.crashed, self.timed_out, self.final, self.extra))


OUT_OF_BAND_MIN = 64 * 1024  # bytes: smaller data travel inside the message's frame


def send_message(conn: Connection, message: Any) -> None:
    """Send an assignment, a result or a list of them over a pipe to or from a task
    process, their large data (pickled values, refs) as pickle protocol 5 out-of-band
    buffers: one frame for the rest, then one frame per buffer, written from the buffer
    itself (never joined)."""
    if isinstance(message, list):
        message = [_lift(m) for m in message]
    else:
        message = _lift(message)
    buffers: list[pickle.PickleBuffer] = []

    def out_of_band(buffer: pickle.PickleBuffer) -> bool:  # False: out of band
        if buffer.raw().nbytes < OUT_OF_BAND_MIN:
            return True  # small: a frame of its own would cost more than the copy
        buffers.append(buffer)
        return False

    head = pickle.dumps(message, protocol=5, buffer_callback=out_of_band)
    conn.send_bytes(len(buffers).to_bytes(4, "little") + head)
    for buffer in buffers:
        conn.send_bytes(buffer.raw())


def _lift(message: Any) -> Any:
    """``message`` with its large blobs wrapped to travel out of band."""
    if isinstance(message, Assignment):
        if _any_large(message.refs):
            return replace(message, refs=tuple(map(pickle.PickleBuffer, message.refs)))
    elif isinstance(message, Result):
        if _any_large(message.values) or _any_large(message.writes):
            return replace(message, values=tuple(map(pickle.PickleBuffer, message.values)),
                           writes=tuple(map(pickle.PickleBuffer, message.writes)))
    return message


def _any_large(blobs: tuple[bytes, ...]) -> bool:
    """Is one of ``blobs`` worth a frame of its own? (Small ones are sent as they are.)"""
    return any(len(blob) >= OUT_OF_BAND_MIN for blob in blobs)


def recv_message(conn: Connection) -> Any:
    """Receive what :func:`send_message` sent; its data arrive as ``bytes``."""
    frame = conn.recv_bytes()
    count = int.from_bytes(frame[:4], "little")
    buffers = [conn.recv_bytes() for _ in range(count)]
    return pickle.loads(memoryview(frame)[4:], buffers=buffers)
