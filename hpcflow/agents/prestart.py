"""Task processes started before the runtime is imported, so that they are up by the time
the app submits its first task (``hpcflow run`` starts them first thing).

A pre-started process is the same ``python -m hpcflow.agents.taskproc`` a pool spawns; the
local pool adopts them when they were started for its size and app directory. One that is
never adopted sees its socket close when this process exits, and ends.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection

from hpcflow.agents import malloc


@dataclass(eq=False)
class Started:
    """A task process and the master's end of its socket."""

    process: subprocess.Popen[bytes]
    conn: Connection


#: Bytes a socket holds in flight each way (the kernel caps it at net.core.wmem_max): a
#: large value crosses in a few wake-ups instead of one per 200 KiB.
SOCKET_BUFFER = 4 << 20

_waiting: dict[str, list[Started]] = {}  # app directory -> processes not yet adopted


def spawn(app_dir: str) -> Started:
    """Start one task process serving over a socket pair."""
    parent, child = socket.socketpair()
    for sock in (parent, child):
        for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
            sock.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER)
    argv = [sys.executable, "-m", "hpcflow.agents.taskproc", str(child.fileno()), app_dir]
    process = subprocess.Popen(
        argv, pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL, process_group=0,
        env=malloc.child_env(),
    )
    child.close()
    return Started(process, Connection(parent.detach()))


def prestart_for_run(
    app: str | None,
    workers: int | None,
    cpus: int | None,
    compat: str | None,
    env: Mapping[str, str] | None = None,
) -> None:
    """``hpcflow run APP``: start the local pool's task processes now, when the run will
    be local (not across a multi-node allocation) and its pool size is known cheaply."""
    env = os.environ if env is None else env
    if not app or compat or not os.path.isfile(app) or env.get("SLURM_JOB_NUM_NODES", "1") != "1":
        return
    slurm_cpus = env.get("SLURM_CPUS_ON_NODE", "")
    count = (
        workers
        or cpus
        or (int(slurm_cpus) if slurm_cpus.isdigit() else None)
        or len(os.sched_getaffinity(0))
    )
    app_dir = os.path.dirname(os.path.abspath(app))
    _waiting[app_dir] = [spawn(app_dir) for _ in range(count)]


def adopt(app_dir: str, count: int) -> list[Started]:
    """The processes pre-started for ``app_dir``, if there are ``count`` of them."""
    started = _waiting.pop(app_dir, [])
    if len(started) == count:
        return started
    for proc in started:  # the wrong size: let them go
        proc.conn.close()
    return []
