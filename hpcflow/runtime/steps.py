"""The master's side of launched tasks (``@binary``, ``@mpi``, ``@ompss``, ``@multinode``).

At the call: resolve ``{param}`` counts, find the binary and decide the task's shape
(nodes, ranks, cores) for every version, so that an impossible request is a one-line
UsageError before anything runs. At dispatch: turn the shape and the nodes the scheduler
reserved into the :class:`~hpcflow.agents.protocol.StepLaunch` the task process follows.

Under Slurm (the distributed runtime) an MPI task is a nested ``srun`` step with
``--exact --overlap`` and ``--mpi`` from ``HPCFLOW_SRUN_MPI`` (the site's ``srun_mpi``,
exported by ``hpcflow submit``), else from ``SLURM_MPI_TYPE`` (what the agents' step was
started with). Locally it runs under ``mpiexec -n P`` when one is found (on PATH or next to
the Python interpreter), else as P plain processes that each see an MPI world of size 1.
Serial Python tasks never create steps.
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hpcflow.agents.protocol import StepLaunch
from hpcflow.errors import UsageError
from hpcflow.graph.launch import LaunchKind, LaunchSpec, placeholder_name
from hpcflow.graph.spec import Constraints, TaskSpec
from hpcflow.runtime.futures import Future
from hpcflow.scheduler.gang import Gang, mpi_gang, multinode_gang, serial_gang
from hpcflow.scheduler.placement import Candidate
from hpcflow.scheduler.resources import NodeResources


@dataclass(frozen=True)
class StepSettings:
    """How launched tasks start here; resolved once when the runtime starts."""

    in_slurm: bool = False
    srun_mpi: str | None = None
    run_dir: str | None = None
    mpiexec: str | None = None
    mpirun: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str], in_slurm: bool,
                 run_dir: str | None = None) -> StepSettings:
        """Read ``HPCFLOW_SRUN_MPI``/``SLURM_MPI_TYPE``, ``HPCFLOW_RUN_DIR`` and find the
        local MPI launchers."""
        mpi = env.get("HPCFLOW_SRUN_MPI") or env.get("SLURM_MPI_TYPE") or None
        return cls(in_slurm=in_slurm, srun_mpi=None if mpi == "default" else mpi,
                   run_dir=run_dir or env.get("HPCFLOW_RUN_DIR") or None,
                   mpiexec=find_launcher("mpiexec", env), mpirun=find_launcher("mpirun", env))


def find_launcher(name: str, env: Mapping[str, str]) -> str | None:
    """``name`` on PATH, else next to this Python (where the mpich wheel puts it)."""
    found = shutil.which(name, path=env.get("PATH"))
    beside = os.path.join(os.path.dirname(sys.executable), name)
    if found is None and os.access(beside, os.X_OK):
        found = beside
    return found


@dataclass(frozen=True)
class Shape:
    """One version of one call: what it takes and what the scheduler must find."""

    gang: Gang
    constraints: Constraints  # per node (cores of one node's share)
    binary_path: str | None = None
    gather: bool = False


class StepPlanner:
    """Plans the calls and launches of launched tasks for one master."""

    def __init__(self, settings: StepSettings | None = None) -> None:
        self._settings = settings
        self.token = secrets.token_hex(3)
        self._log_dir: str | None = None

    @property
    def settings(self) -> StepSettings:
        """The settings given, else the local runtime's (read from the environment once)."""
        if self._settings is None:
            self._settings = StepSettings.from_env(os.environ, in_slurm=False)
        return self._settings

    def configure(self, settings: StepSettings) -> None:
        """Replace the settings (before the first launched task is dispatched)."""
        self._settings = settings
        self._log_dir = None

    def plan(self, definition: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any],
             nodes: Sequence[NodeResources]) -> tuple[Shape | None, ...]:
        """The shape of every version of this call; UsageError if one cannot run."""
        if all(v.spec.launch is None for v in definition.versions()):
            return ()
        return tuple(self._plan_version(v.spec, v.signature, args, kwargs, nodes)
                     for v in definition.versions())

    def _plan_version(self, spec: TaskSpec, signature: Any, args: tuple[Any, ...],
                      kwargs: Mapping[str, Any], nodes: Sequence[NodeResources]) -> Shape | None:
        launch = spec.launch
        if launch is None:
            return None
        where = f"task {spec.name}"
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise UsageError(f"bad call to {where}: {exc}") from None
        bound.apply_defaults()
        values = bound.arguments
        loose = not self.settings.in_slurm or not nodes
        try:
            gang = _gang(launch, values, spec.constraints.computing_units, nodes, loose)
        except UsageError as exc:
            raise UsageError(f"{where}: {exc}") from None
        binary = None if launch.python else find_binary(launch, where)
        constraints = dataclasses.replace(spec.constraints, computing_units=gang.cores)
        return Shape(gang, constraints, binary, gather=spec.returns_type == "list")

    def candidate(self, task_id: int, versions: Sequence[Constraints],
                  shapes: Sequence[Shape | None], locality: Mapping[str, int]) -> Candidate:
        """The scheduler's view of a ready task: per-node constraints, whole nodes."""
        if not shapes:
            return Candidate(task_id, tuple(versions), locality)
        cons = tuple(s.constraints if s else c for s, c in zip(shapes, versions, strict=True))
        whole = tuple(s.gang.nodes if s and s.gang.whole else 0 for s in shapes)
        return Candidate(task_id, cons, locality, whole)

    def launch(self, spec: TaskSpec, shape: Shape | None, nodes: Sequence[str], task_id: int,
               attempt: int) -> StepLaunch | None:
        """What the task process must do to run this attempt on ``nodes``."""
        if spec.launch is None or shape is None:
            return None
        gang, launch = shape.gang, spec.launch
        launcher, path = self._launcher(launch)
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", spec.name)
        return StepLaunch(
            spec=launch, params=spec.params, launcher=launcher, nodes=tuple(nodes),
            ntasks=gang.ntasks, per_node=gang.per_node, cpus_per_task=gang.cpus_per_task,
            binary_path=shape.binary_path, launcher_path=path,
            srun_mpi=self.settings.srun_mpi, job_name=f"hpcflow-{self.token}-{task_id}.{attempt}",
            log_dir=self.log_dir(), log_name=f"{safe}-{task_id}.{attempt}", gather=shape.gather,
            in_slurm=self.settings.in_slurm)

    def _launcher(self, launch: LaunchSpec) -> tuple[str, str]:
        if launch.kind is not LaunchKind.MPI:
            return "direct", ""
        if self.settings.in_slurm:
            return "srun", "srun"
        wanted = self.settings.mpirun if launch.runner == "mpirun" else None
        path = wanted or self.settings.mpiexec or self.settings.mpirun
        return ("mpiexec", path) if path else ("plain", "")

    def log_dir(self) -> str:
        """``<run dir>/steps``, or a temporary directory when the run has none."""
        if self._log_dir is None:
            run_dir = self.settings.run_dir
            if run_dir:
                self._log_dir = os.path.join(os.path.abspath(run_dir), "steps")
                os.makedirs(self._log_dir, exist_ok=True)
            else:
                self._log_dir = tempfile.mkdtemp(prefix="hpcflow-steps-")
        return self._log_dir


def _gang(launch: LaunchSpec, values: Mapping[str, Any], cpus: int,
          nodes: Sequence[NodeResources], loose: bool) -> Gang:
    if launch.kind is LaunchKind.MPI:
        processes = _count(launch.processes, values, "processes") or 1
        per_node = _count(launch.processes_per_node, values, "processes_per_node")
        count = _count(launch.computing_nodes, values, "computing_nodes")
        return mpi_gang(processes, per_node, count, cpus, nodes, oversubscribe=loose)
    if launch.kind is LaunchKind.MULTINODE:
        count = _count(launch.computing_nodes, values, "computing_nodes") or 1
        per_node = _count(launch.processes_per_node, values, "processes_per_node")
        return multinode_gang(count, per_node, nodes, oversubscribe=loose)
    return serial_gang(cpus)


def _count(value: int | str | None, values: Mapping[str, Any], what: str) -> int | None:
    name = placeholder_name(value)
    if name is None:
        return value if isinstance(value, int) else None
    got = values.get(name)
    if isinstance(got, Future):
        raise UsageError(f"{what}='{{{name}}}': {name} is a future; pass a number "
                         f"(wait_on it first)")
    if isinstance(got, bool) or not isinstance(got, (int, str)) or not str(got).isdigit() \
            or int(got) < 1:
        raise UsageError(f"{what}='{{{name}}}': {name}={got!r} is not a positive integer")
    return int(got)


def find_binary(launch: LaunchSpec, where: str) -> str:
    """The binary's path, checked now (on the master's node); UsageError if missing."""
    name = os.path.expandvars(os.path.expanduser(launch.binary or ""))
    if os.sep in name:
        base = launch.working_dir if launch.working_dir and "{" not in launch.working_dir \
            else os.getcwd()
        path = os.path.join(os.path.expanduser(base), name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return os.path.abspath(path)
        raise UsageError(f"binary {launch.binary!r} of {where} not found or not executable "
                         f"({os.path.abspath(path)})")
    found = shutil.which(name) if name else None
    if found is None:
        raise UsageError(f"binary {launch.binary!r} of {where} not found on PATH")
    return found
