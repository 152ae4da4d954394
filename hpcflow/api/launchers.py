"""``@binary``, ``@mpi``, ``@ompss`` and ``@multinode``: tasks that are more than a call.

Each records a frozen :class:`~hpcflow.graph.launch.LaunchSpec` on the task's spec; like
``@constraint`` it may sit above ``@task`` or below it, and combines with ``@constraint``
(cores per process or threads) and ``@implement``.

- ``@binary(binary="app", args="-i {infile} -n {n}")``: the function body is not run;
  ``binary`` may carry fixed arguments (``"Rscript --vanilla run.R"``) and ``$VARS``.
  ``{name}`` placeholders (or PyCOMPSs' ``{{name}}``) take the parameters' values: FILE
  parameters as paths, a list placeholder standing alone as several arguments, each value
  one argument (no shell). Without ``args`` every parameter is passed in order.
  ``stdin=``/``stdout=``/``stderr=`` name the FILE parameter bound to that stream (or
  declare it ``FILE_OUT_STDOUT`` & co. in ``@task``); other output goes to
  ``<run dir>/steps/<task>-<id>.<attempt>.out|.err``. ``returns=int`` gives the exit
  value; with ``fail_by_exit_value=True`` (default) a non-zero exit value is a task
  failure whose reason holds the code and the tail of stderr.
- ``@mpi(binary=..., processes=P, processes_per_node=Q, runner="srun")``: P ranks of
  ``computing_units`` cores each, on ceil(P/Q) nodes (without Q: as few nodes as hold
  them). Without ``binary`` the Python function itself runs on every rank (use mpi4py
  inside): the task returns rank 0's value, or every rank's value in rank order with
  ``returns=list``. Under Slurm each call is a nested ``srun`` step on nodes reserved for
  it (whole nodes when it spans several), whatever the ``runner``; locally it runs under
  ``mpiexec -n P`` (``mpirun`` with ``runner="mpirun"``), or, with no MPI launcher, as P
  plain processes that each see a world of size 1.
- ``@ompss(binary=...)``: a threaded binary on one node with ``computing_units`` threads
  (``OMP_NUM_THREADS`` and ``NX_ARGS=--smp-workers=N`` set).
- ``@multinode(computing_nodes=K, processes_per_node=Q)``: the Python function runs once,
  on the first of K whole nodes it owns; ``HPCFLOW_NODES`` and Slurm-like variables
  (``SLURM_NODELIST``, ``SLURM_NNODES``, ``SLURM_TASKS_PER_NODE``, ``SLURM_OVERLAP=1`` ...)
  describe them, so ``srun --nodelist=$HPCFLOW_NODES ...`` inside starts work there.
  Locally (one node) K is 1.

``processes``, ``processes_per_node`` and ``computing_nodes`` may be ``"{param}"``: the
number is then read from that parameter at each call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hpcflow.api.decorators import TaskFunction, _stash
from hpcflow.errors import UsageError
from hpcflow.graph.launch import (
    RUNNERS,
    LaunchKind,
    LaunchSpec,
    apply_launch,
    count_value,
    pycompss_template,
    split_binary,
)

_ALIASES: Mapping[str, str] = {
    "workingdir": "working_dir", "failbyexitvalue": "fail_by_exit_value",
    "computingnodes": "computing_nodes", "processespernode": "processes_per_node",
}
_VALID: Mapping[LaunchKind, tuple[str, ...]] = {
    LaunchKind.BINARY: ("binary", "args", "working_dir", "fail_by_exit_value", "stdin",
                        "stdout", "stderr"),
    LaunchKind.OMPSS: ("binary", "args", "working_dir", "fail_by_exit_value", "stdin",
                       "stdout", "stderr"),
    LaunchKind.MPI: ("binary", "args", "working_dir", "fail_by_exit_value", "stdin", "stdout",
                     "stderr", "runner", "processes", "processes_per_node", "computing_nodes"),
    LaunchKind.MULTINODE: ("computing_nodes", "processes_per_node"),
}


def binary(binary: str | None = None, **options: Any) -> Callable[[Any], Any]:
    """Run an executable instead of the function: ``@binary(binary="app", args="{x}")``.
    Options: ``args``, ``working_dir``, ``fail_by_exit_value``, ``stdin``/``stdout``/``stderr``."""
    return _launcher(LaunchKind.BINARY, {"binary": binary, **options})


def ompss(binary: str | None = None, **options: Any) -> Callable[[Any], Any]:
    """Run a threaded (OmpSs/OpenMP) binary with ``computing_units`` threads; options as
    for :func:`binary`."""
    return _launcher(LaunchKind.OMPSS, {"binary": binary, **options})


def mpi(binary: str | None = None, **options: Any) -> Callable[[Any], Any]:
    """Run an MPI binary, or the function itself, on ``processes`` ranks.
    Options: ``runner`` (srun, mpirun, mpiexec), ``processes``, ``processes_per_node``,
    ``computing_nodes``, and those of :func:`binary`."""
    return _launcher(LaunchKind.MPI, {"binary": binary, **options})


def multinode(computing_nodes: int | str = 1, **options: Any) -> Callable[[Any], Any]:
    """Run the function once, owning ``computing_nodes`` whole nodes
    (``processes_per_node`` sets ``SLURM_TASKS_PER_NODE`` for it)."""
    return _launcher(LaunchKind.MULTINODE, {"computing_nodes": computing_nodes, **options})


def _launcher(kind: LaunchKind, options: dict[str, Any]) -> Callable[[Any], Any]:
    launch = make_launch(kind, options, f"@{kind.value}")

    def decorate(func: Any) -> Any:
        if isinstance(func, TaskFunction):
            return func.with_spec(**_changes(func, launch))
        if not callable(func):
            raise UsageError(f"@{kind.value} must decorate a function, not {func!r}")
        _stash(func, "launch", launch)
        return func

    return decorate


def _changes(func: TaskFunction, launch: LaunchSpec) -> dict[str, Any]:
    spec = apply_launch(func.spec, launch)
    return {"launch": spec.launch, "params": spec.params}


def make_launch(kind: LaunchKind, options: Mapping[str, Any], where: str) -> LaunchSpec:
    """Check a launcher's options (unknown ones are errors listing the valid ones)."""
    values = {_ALIASES.get(k.lower(), k): v for k, v in options.items()}
    valid = _VALID[kind]
    for key in values:
        if key not in valid:
            raise UsageError(f"unknown option {key!r} for {where}; valid: {', '.join(valid)}")
    binary_name = values.get("binary")
    if kind in (LaunchKind.BINARY, LaunchKind.OMPSS) and not binary_name:
        raise UsageError(f"{where} needs binary=")
    if binary_name is not None and not isinstance(binary_name, str):
        raise UsageError(f"binary={binary_name!r} of {where} must be a program name or path")
    program, binary_args = split_binary(binary_name, where) if binary_name else (None, ())
    runner = values.get("runner", "srun")
    if runner not in RUNNERS:
        raise UsageError(f"runner={runner!r} of {where}; valid: {', '.join(RUNNERS)}")
    return LaunchSpec(
        kind=kind, binary=program, binary_args=binary_args,
        args=pycompss_template(_text(values, "args", where)), runner=runner,
        processes=count_value(values.get("processes", 1), "processes", where),
        processes_per_node=_optional_count(values, "processes_per_node", where),
        computing_nodes=_optional_count(values, "computing_nodes", where),
        working_dir=pycompss_template(_text(values, "working_dir", where)),
        fail_by_exit_value=_flag(values.get("fail_by_exit_value", True), where),
        streams=_streams(values, where))


def _optional_count(values: Mapping[str, Any], key: str, where: str) -> int | str | None:
    value = values.get(key)
    return None if value is None else count_value(value, key, where)


def _text(values: Mapping[str, Any], key: str, where: str) -> str | None:
    value = values.get(key)
    if value is not None and not isinstance(value, str):
        raise UsageError(f"{key}={value!r} of {where} must be a string")
    return value


def _flag(value: Any, where: str) -> bool:
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise UsageError(f"fail_by_exit_value={value!r} of {where} must be True or False")
    return value


def _streams(values: Mapping[str, Any], where: str) -> tuple[tuple[str, str], ...]:
    streams = []
    for stream in ("stdin", "stdout", "stderr"):
        name = values.get(stream)
        if name is None:
            continue
        if not isinstance(name, str) or not name.isidentifier():
            raise UsageError(f"{stream}={name!r} of {where} must name a FILE parameter")
        streams.append((stream, name))
    return tuple(streams)
