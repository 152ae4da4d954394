"""The local agent: this machine's resources and a pool of task processes."""

from __future__ import annotations

import dataclasses
import os
import platform
import socket
from collections.abc import Callable, Mapping

import psutil

from hpcflow.agents.pool import WorkerPool
from hpcflow.agents.protocol import Assignment, Result
from hpcflow.scheduler.resources import NodeResources


def usable_cores() -> int:
    """Cores this process may run on (affinity-aware, as under Slurm's cgroups)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return psutil.cpu_count(logical=True) or 1


def processor_type() -> str:
    """The CPU model name, or the machine type when unknown."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def detect_node(name: str | None = None, cpus: int | None = None,
                memory_gb: float | None = None, workers: int | None = None) -> NodeResources:
    """Describe this node; explicit values override what is detected."""
    cores = cpus or usable_cores()
    memory = memory_gb if memory_gb is not None else psutil.virtual_memory().total / 2**30
    return NodeResources(name=name or socket.gethostname(), cores=cores,
                         memory_gb=round(memory, 2), architecture=platform.machine(),
                         processor_type=processor_type(), gpus=0, slots=workers or 0,
                         software=software_tags(os.environ))


def software_tags(env: Mapping[str, str]) -> frozenset[str]:
    """The site config's software tags, as ``hpcflow run``/``submit`` export them."""
    return frozenset(t.strip().lower() for t in env.get("HPCFLOW_SOFTWARE", "").split(",")
                     if t.strip())


class LocalAgent:
    """Runs assignments in a pool of processes on this machine.

    It takes one queued one-core task per task process beyond those running (prefetch):
    the pool hands it to the first process to finish, before the master hears of it.
    """

    def __init__(self, resources: NodeResources, on_results: Callable[[list[Result]], None],
                 app_dir: str = "") -> None:
        self.resources = dataclasses.replace(resources, queue=resources.task_slots)
        self._pool = WorkerPool(resources.task_slots, on_results, app_dir)

    def start(self) -> None:
        self._pool.start()

    def dispatch(self, assignment: Assignment) -> None:
        self._pool.submit(assignment)

    def withdraw(self) -> list[int]:
        """The queued tasks not started yet, taken back (the walltime drain)."""
        return self._pool.withdraw()

    def kill(self, task_id: int, reason: str) -> None:
        self._pool.kill(task_id, reason)

    def shutdown(self) -> None:
        self._pool.shutdown()
