"""``python -m hpcflow.agents.mpitask PAYLOAD RESULT``: one rank of a Python launched task.

``PAYLOAD`` holds the pickled function, its arguments and the task process's sys.path. Each rank
calls the function; rank 0 writes its pickled value to ``RESULT.0`` (every rank writes
``RESULT.<rank>`` when the task gathers all values). A rank that raises writes
``RESULT.error<rank>`` (rank, host, reason, traceback) and leaves at once with exit code
1, so the launcher (``srun --kill-on-bad-exit``, mpiexec) ends the other ranks instead of
leaving them blocked in a collective.

The rank comes from the launcher's environment (``SLURM_PROCID``, ``PMI_RANK``,
``OMPI_COMM_WORLD_RANK``, ``PMIX_RANK``; ``HPCFLOW_RANK`` for plain processes), so this
module never initialises MPI itself: the function does, with mpi4py, when it needs to.
"""

from __future__ import annotations

import os
import pickle
import socket
import sys
import traceback
from collections.abc import Mapping
from typing import Any

import cloudpickle

RANK_VARS = ("HPCFLOW_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID")


def rank_of(env: Mapping[str, str]) -> int:
    """This process's rank, from the first launcher variable that is set (0 if none)."""
    for name in RANK_VARS:
        value = env.get(name, "")
        if value.isdigit():
            return int(value)
    return 0


def _write(path: str, data: bytes) -> None:
    with open(f"{path}.part", "wb") as fh:
        fh.write(data)
    os.replace(f"{path}.part", path)


def _fail(result: str, rank: int, exc: BaseException) -> None:
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__.tb_next
                                           if exc.__traceback__ else None))
    reason = f"{type(exc).__name__}: {exc}"
    try:
        _write(f"{result}.error{rank}", pickle.dumps((rank, socket.gethostname(), reason, tb)))
    finally:
        sys.stderr.write(f"hpcflow rank {rank} on {socket.gethostname()}: {reason}\n{tb}")
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(1)


def run(payload_path: str, result: str, env: Mapping[str, str]) -> None:
    """Run this rank's share of the task described in ``payload_path``."""
    rank = rank_of(env)
    try:
        with open(payload_path, "rb") as fh:
            payload: dict[str, Any] = pickle.load(fh)
        sys.path.extend(p for p in payload.get("path", []) if p not in sys.path)
        value = payload["func"](*payload["args"], **payload["kwargs"])
        if rank == 0 or payload.get("gather"):
            _write(f"{result}.{rank}", cloudpickle.dumps(value))
    except BaseException as exc:  # reported to the task process through the error file
        _fail(result, rank, exc)


def main(argv: list[str]) -> None:
    if len(argv) != 3:
        sys.exit("usage: python -m hpcflow.agents.mpitask PAYLOAD RESULT")
    run(argv[1], argv[2], os.environ)
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv)
