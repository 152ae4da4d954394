"""The one place hpcflow runs Slurm commands.

:class:`SlurmClient` sends every command through :meth:`SlurmClient._run`, which
runs an argv list (never a shell) through an injectable *runner* and turns every
failure into a :class:`~hpcflow.errors.SlurmCommandError` carrying the argv, exit
code, stdout and stderr.  Tests pass a fake runner; nothing here needs Slurm.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from hpcflow.errors import SlurmCommandError
from hpcflow.slurm import srun
from hpcflow.slurm.extension import (
    merge_argvs,
    node_states_argv,
    parse_granted,
    parse_node_states,
    parse_time_left,
    resize_argv,
    time_left_argv,
)
from hpcflow.slurm.parse import (
    JobInfo,
    expand_nodelist,
    parse_default_partition,
    parse_end_time,
    parse_hostnames,
    parse_sacct,
    parse_sbatch_parsable,
    parse_scontrol_jobs,
    parse_sinfo_nodes,
    parse_squeue,
)
from hpcflow.slurm.steps import squeue_steps_argv, steps_named

#: Exit code reported for a command that timed out (as coreutils ``timeout`` does).
TIMEOUT_EXIT = 124
#: Exit code reported for a command that is not installed (as a shell does).
NOT_FOUND_EXIT = 127

# Slurm's messages for a job it no longer (or never) knew about.
_UNKNOWN_JOB = ("invalid job id", "job id not found")
_ALREADY_DONE = ("already completing or completed", "job/step already completing")


class CompletedLike(Protocol):
    """What a runner returns: the fields of :class:`subprocess.CompletedProcess` we use."""

    @property
    def returncode(self) -> int: ...
    @property
    def stdout(self) -> str: ...
    @property
    def stderr(self) -> str: ...


#: ``runner(argv, timeout)``: runs argv, returns its result; may raise FileNotFoundError,
#: PermissionError or subprocess.TimeoutExpired, which the client translates.
Runner = Callable[[list[str], float], CompletedLike]


class SlurmNotFoundError(SlurmCommandError):
    """A Slurm command is not installed (not on PATH)."""

    def __init__(self, argv: list[str]) -> None:
        super().__init__(argv, NOT_FOUND_EXIT, "", f"{argv[0]}: command not found")
        self.args = (f"{argv[0]} not found on PATH: is Slurm installed?",)


class SlurmTimeoutError(SlurmCommandError):
    """A Slurm command did not finish in time (slurmctld busy or unreachable?)."""

    def __init__(self, argv: list[str], timeout: float, stdout: str, stderr: str) -> None:
        super().__init__(argv, TIMEOUT_EXIT, stdout, stderr)
        self.timeout = timeout
        self.args = (f"{argv[0]} timed out after {timeout:g}s (is slurmctld responding?)",)


def subprocess_runner(argv: list[str], timeout: float) -> CompletedLike:
    """Default runner: :func:`subprocess.run` without a shell, capturing text output."""
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def cwd_runner(cwd: str, env: Mapping[str, str] | None = None) -> Runner:
    """A runner that starts commands in ``cwd`` (``scontrol update`` of a job's node list
    writes ``slurm_job_J_resize.*`` scripts into its working directory), with ``env``."""
    environ = None if env is None else dict(env)

    def run(argv: list[str], timeout: float) -> CompletedLike:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              check=False, stdin=subprocess.DEVNULL, cwd=cwd, env=environ)

    return run


class SlurmClient:
    """Submit, query and cancel Slurm jobs through one checked command runner."""

    def __init__(self, runner: Runner | None = None, timeout: float = 30.0) -> None:
        """Use ``runner`` (default :func:`subprocess_runner`) with ``timeout`` seconds a call."""
        self.runner: Runner = runner or subprocess_runner
        self.timeout = timeout

    def _run(self, argv: Sequence[str], *, timeout: float | None = None) -> str:
        """Run ``argv``; return stdout, or raise SlurmCommandError (or a subclass)."""
        return self._run_both(argv, timeout=timeout)[0]

    def _run_both(self, argv: Sequence[str], *, timeout: float | None = None
                  ) -> tuple[str, str]:
        """Run ``argv``; return stdout and stderr, or raise SlurmCommandError."""
        argv = list(argv)
        limit = self.timeout if timeout is None else timeout
        try:
            result = self.runner(argv, limit)
        except (FileNotFoundError, PermissionError):
            raise SlurmNotFoundError(argv) from None
        except subprocess.TimeoutExpired as exc:
            raise SlurmTimeoutError(argv, limit, _text(exc.stdout), _text(exc.stderr)) from None
        stdout, stderr = _text(result.stdout), _text(result.stderr)
        if result.returncode != 0:
            raise SlurmCommandError(argv, result.returncode, stdout, stderr)
        return stdout, stderr

    def submit(self, script_path: str | os.PathLike[str], dependency: str | None = None) -> str:
        """Submit a batch script with ``sbatch --parsable`` (and ``--dependency``); return
        the job id."""
        return parse_sbatch_parsable(self._run(srun.sbatch_argv(script_path,
                                                                dependency=dependency)))

    def end_time(self, job_id: str) -> float | None:
        """When the time limit of a running job ends it (epoch seconds); None if unknown."""
        return parse_end_time(self._run(srun.squeue_end_time_argv(job_id)))

    def job_info(self, job_id: str) -> JobInfo | None:
        """State of ``job_id`` from ``scontrol -o show job``; None once Slurm forgot it."""
        try:
            out = self._run(srun.scontrol_show_job_argv(job_id))
        except SlurmCommandError as exc:
            if _mentions(exc, _UNKNOWN_JOB):
                return None
            raise
        jobs = parse_scontrol_jobs(out)
        exact = [job for job in jobs if job.job_id == str(job_id)]
        return next(iter(exact or jobs), None)

    def queue(self, job_ids: Sequence[str] | None = None, user: str | None = None) -> list[JobInfo]:
        """Jobs listed by ``squeue`` (all states when ``job_ids`` is given)."""
        try:
            return parse_squeue(self._run(srun.squeue_argv(job_ids, user=user)))
        except SlurmCommandError as exc:
            if job_ids and _mentions(exc, _UNKNOWN_JOB):
                return []
            raise

    def accounting_info(self, job_id: str) -> JobInfo | None:
        """Final record of ``job_id`` from ``sacct``; None if unknown or no slurmdbd.
        A resized job has one record per size (``RESIZING`` first): the last one counts."""
        try:
            jobs = parse_sacct(self._run(srun.sacct_argv(job_id)))
        except SlurmCommandError:
            return None  # sacct missing, accounting storage disabled or slurmdbd down
        exact = [job for job in jobs if job.job_id == str(job_id)]
        return exact[-1] if exact else None

    def cancel(self, job_id: str, signal: str | None = None, *, full: bool = False) -> bool:
        """Cancel (or signal) a job; False if it had already ended, True otherwise."""
        try:
            self._run(srun.scancel_argv(job_id, signal, full=full))
        except SlurmCommandError as exc:
            if _mentions(exc, _UNKNOWN_JOB + _ALREADY_DONE):
                return False
            raise
        return True

    def resize(self, job_id: str, kept: Sequence[str]) -> None:
        """Shrink ``job_id`` to the nodes ``kept`` (steps on the others are SIGKILLed)."""
        self._run(resize_argv(job_id, kept))

    def expand(self, main_job: str, salloc: Sequence[str], timeout: float) -> str:
        """Allocate with ``salloc`` (``--dependency=expand:MAIN``) and merge the nodes into
        ``main_job``; the id of the (now cancelled) allocation that brought them."""
        out, err = self._run_both(salloc, timeout=timeout)
        extra = parse_granted(f"{out}\n{err}")
        try:
            for argv in merge_argvs(main_job, extra):
                self._run(argv)
        except SlurmCommandError:
            self.cancel(extra)  # never leave the helper allocation behind
            raise
        return extra

    def time_left(self, job_id: str) -> float | None:
        """Seconds left before ``job_id`` hits its time limit; None if unlimited/unknown."""
        return parse_time_left(self._run(time_left_argv(job_id)))

    def node_states(self, nodes: Sequence[str]) -> dict[str, str]:
        """Slurm's state of each node (``idle``, ``mixed``, ``down``, ``drained``, ...)."""
        return parse_node_states(self._run(node_states_argv(nodes))) if nodes else {}

    def step_ids(self, job_id: str, name: str) -> list[str]:
        """Ids (``JOB.STEP``) of the running steps of ``job_id`` called ``name``."""
        return steps_named(self._run(squeue_steps_argv(job_id)), name)

    def hostnames(self, nodelist: str) -> list[str]:
        """Expand a hostlist with ``scontrol show hostnames``, or in Python without scontrol."""
        if "[" not in nodelist:
            return expand_nodelist(nodelist)
        try:
            return parse_hostnames(self._run(srun.scontrol_hostnames_argv(nodelist)))
        except SlurmNotFoundError:
            return expand_nodelist(nodelist)

    def partition_nodes(self, partition: str) -> int:
        """Number of nodes in ``partition`` (0 if sinfo lists none, e.g. a wrong name)."""
        return len(parse_sinfo_nodes(self._run(srun.sinfo_nodes_argv(partition))))

    def default_partition(self) -> str | None:
        """The cluster's default partition (``*`` in sinfo), or None when there is none."""
        return parse_default_partition(self._run(srun.sinfo_partitions_argv()))

    def available(self) -> bool:
        """True if Slurm commands are installed and the controller answers."""
        try:
            self._run(srun.sinfo_partitions_argv())
        except SlurmCommandError:
            return False
        return True


def _mentions(exc: SlurmCommandError, needles: tuple[str, ...]) -> bool:
    text = f"{exc.stderr}\n{exc.stdout}".lower()
    return any(needle in text for needle in needles)


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else value
