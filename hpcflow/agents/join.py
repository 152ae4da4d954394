"""An extension job's agent: joins the running master over the authenticated TCP channel.

The master writes its address, the run's key and the app's directory to
``<run dir>/elastic/master.json`` (directory 0700, file 0600). An extension job's step runs
``python -m hpcflow.agents.join RUN_DIR`` on each of its nodes; the agent proves it knows
the key (HMAC challenge) before the master reads a byte from it, says hello with its
node's resources, and serves tasks like any agent until the master says stop.

Ranks of joining agents are ``EXT_RANK_BASE + job id * 1000 + SLURM_PROCID``: unique in
the run, and the master recovers the extension job from the rank (:func:`block_of`).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hpcflow.errors import HpcflowError

JOIN_FILE = "master.json"
ELASTIC_DIR = "elastic"
EXT_RANK_BASE = 1 << 40
_PER_JOB = 1000


@dataclass(frozen=True)
class JoinInfo:
    """How an extension agent reaches the master."""

    host: str
    port: int
    authkey: bytes
    app_dir: str


def elastic_dir(run_dir: str | os.PathLike[str]) -> Path:
    """``<run dir>/elastic`` (created 0700)."""
    path = Path(run_dir) / ELASTIC_DIR
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def write_join_info(run_dir: str | os.PathLike[str], info: JoinInfo) -> Path:
    """Write the join file, readable by the owner only."""
    path = elastic_dir(run_dir) / JOIN_FILE
    doc = {"host": info.host, "port": info.port, "key": info.authkey.hex(),
           "app_dir": info.app_dir}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(doc, fh)
    return path


def read_join_info(run_dir: str | os.PathLike[str]) -> JoinInfo:
    """Read the join file; HpcflowError with one line when it is missing or bad."""
    path = Path(run_dir) / ELASTIC_DIR / JOIN_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return JoinInfo(str(doc["host"]), int(doc["port"]), bytes.fromhex(doc["key"]),
                        str(doc.get("app_dir", "")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise HpcflowError(f"cannot read the master's join file {path}: {exc}") from None


def extension_rank(job_id: str, procid: int) -> int:
    """The rank a joining agent introduces itself with."""
    return EXT_RANK_BASE + int(job_id.split("+")[0].split("_")[0]) * _PER_JOB + procid


def block_of(rank: int) -> str | None:
    """The extension job id behind ``rank``; None for a rank of the main job's step."""
    if rank < EXT_RANK_BASE:
        return None
    return str((rank - EXT_RANK_BASE) // _PER_JOB)


def join(run_dir: str, env: Mapping[str, str]) -> int:
    """Connect to the master of ``run_dir`` and serve until told to stop."""
    from hpcflow.agents.mpi import serve_hub
    from hpcflow.agents.tcp import TcpHub

    info = read_join_info(run_dir)
    job_id = env.get("HPCFLOW_JOIN_BLOCK") or env.get("SLURM_JOB_ID", "")  # merged: B
    procid = env.get("SLURM_PROCID", "0")
    if not job_id.isdigit() or not procid.isdigit():
        raise HpcflowError("hpcflow.agents.join runs inside an extension job's srun step")
    rank = extension_rank(job_id, int(procid))
    return serve_hub(lambda handle: TcpHub.agent(rank, handle, (info.host, info.port),
                                                 info.authkey), info.app_dir)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python -m hpcflow.agents.join RUN_DIR\n")
        return 2
    try:
        return join(argv[1], os.environ)
    except (HpcflowError, OSError) as exc:
        sys.stderr.write(f"hpcflow agent: cannot join the run: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
