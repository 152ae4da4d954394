"""Pure argv builders for the Slurm commands hpcflow runs.

Every function returns a ``list[str]`` meant for ``subprocess.run(argv)`` (never a
shell string) and validates what it is given, raising
:class:`~hpcflow.errors.UsageError` with one readable line.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Sequence

from hpcflow.errors import UsageError
from hpcflow.slurm.parse import SACCT_FIELDS, SQUEUE_FORMAT

#: Accepts "123", "123_4" (array task), "123+1" (het component), "123.0" / "123.batch" (step).
_JOB_ID_RE = re.compile(r"[0-9]+(?:[_+][0-9]+)?(?:\.[0-9A-Za-z_]+)?")
_NODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]*")
_MPI_RE = re.compile(r"[A-Za-z0-9_]+")
_SIGNAL_RE = re.compile(r"(?:SIG)?[A-Z][A-Z0-9]*|[0-9]+")

#: Default name of the agents step (visible in ``squeue -s``).
AGENTS_STEP_NAME = "hpcflow-agents"


def agents_step_argv(
    nodes: int,
    srun_mpi: str | None,
    python: str,
    module_args: Sequence[str],
    *,
    nodelist: Sequence[str] | None = None,
    job_name: str = AGENTS_STEP_NAME,
    output: str | None = None,
    error: str | None = None,
) -> list[str]:
    """Argv of the long-lived step running one hpcflow agent per node.

    ``python`` is the interpreter command used on the nodes, split with
    :func:`shlex.split` (so ``"apptainer exec img.sif python3"`` works);
    ``module_args`` follow it verbatim, e.g. ``["-m", "hpcflow.agents", ...]``.

    The step must survive the loss of one agent: ``--kill-on-bad-exit=0`` keeps
    the others running when an agent exits non-zero, ``--wait=0`` overrides a
    site ``WaitTime`` that would kill them some seconds later, and ``--no-kill``
    keeps the step when a node fails.  No ``--cpu-bind``: the agent is bound (if
    the site binds at all) to all CPUs of the job on its node, which its local
    processes may use; passing one warns on clusters without task/affinity.
    """
    _check_positive("nodes", nodes)
    argv = [
        "srun",
        f"--nodes={nodes}",
        f"--ntasks={nodes}",
        "--ntasks-per-node=1",
        "--kill-on-bad-exit=0",
        "--no-kill",
        "--wait=0",
        f"--job-name={_check_text('job_name', job_name)}",
    ]
    argv += _common_step_options(nodelist, srun_mpi, output, error)
    return argv + python_argv(python) + _check_argv("module_args", module_args, allow_empty=True)


def task_step_argv(
    nodelist: Sequence[str],
    nodes: int,
    ntasks: int,
    ntasks_per_node: int | None,
    cpus_per_task: int,
    srun_mpi: str | None,
    argv: Sequence[str],
    *,
    exact: bool = True,
    overlap: bool = True,
    job_name: str | None = None,
    output: str | None = None,
    error: str | None = None,
    mem: str | None = None,
    kill_on_bad_exit: bool = True,
) -> list[str]:
    """Argv of a nested step running one (possibly MPI) task on ``nodelist``.

    ``--exact`` gives the step only the CPUs it asks for, and ``--overlap`` lets it
    share nodes with the long-lived agents step (which otherwise holds them).
    ``--kill-on-bad-exit=1`` (default) ends all ranks when one fails, so an MPI
    task cannot hang on a dead peer.
    """
    if not nodelist:
        raise UsageError("task_step_argv: nodelist must name at least one node")
    out = ["srun", *_task_counts(nodes, ntasks, ntasks_per_node, cpus_per_task)]
    if exact:
        out.append("--exact")
    if overlap:
        out.append("--overlap")
    out.append(f"--kill-on-bad-exit={int(kill_on_bad_exit)}")
    if job_name is not None:
        out.append(f"--job-name={_check_text('job_name', job_name)}")
    if mem is not None:
        out.append(f"--mem={_check_text('mem', mem)}")
    out += _common_step_options(nodelist, srun_mpi, output, error)
    return out + _check_argv("argv", argv)


def _task_counts(
    nodes: int, ntasks: int, ntasks_per_node: int | None, cpus_per_task: int
) -> list[str]:
    for name, value in (("nodes", nodes), ("ntasks", ntasks), ("cpus_per_task", cpus_per_task)):
        _check_positive(name, value)
    counts = [f"--nodes={nodes}", f"--ntasks={ntasks}"]
    if ntasks_per_node is not None:
        _check_positive("ntasks_per_node", ntasks_per_node)
        counts.append(f"--ntasks-per-node={ntasks_per_node}")
    return [*counts, f"--cpus-per-task={cpus_per_task}"]


def python_argv(python: str) -> list[str]:
    """Split the configured interpreter command (``"python3"``, ``"/opt/py/bin/python"``)."""
    try:
        words = shlex.split(python)
    except ValueError as exc:
        raise UsageError(f"python command {python!r} cannot be split: {exc}") from None
    if not words:
        raise UsageError("python command is empty")
    return words


def sbatch_argv(script_path: str | os.PathLike[str], parsable: bool = True,
                dependency: str | None = None) -> list[str]:
    """``sbatch [--parsable] [--dependency=D] SCRIPT``; the script carries every other
    option as #SBATCH lines."""
    extra = [f"--dependency={dependency}"] if dependency else []
    return ["sbatch", *(["--parsable"] if parsable else []), *extra, os.fspath(script_path)]


def squeue_end_time_argv(job_id: str) -> list[str]:
    """``squeue -h -j JOB -o %e``: the time the job's limit ends it."""
    return ["squeue", "-h", "-j", check_job_id(job_id), "-o", "%e"]


def scancel_argv(job_id: str, signal: str | None = None, *, full: bool = False) -> list[str]:
    """``scancel [--signal=SIG [--full]] JOB``.

    Without ``signal`` the job is cancelled.  With it, only the job's steps get the
    signal unless ``full`` (then the batch shell too), as scancel documents.
    """
    argv = ["scancel"]
    if signal is not None:
        if not _SIGNAL_RE.fullmatch(signal):
            raise UsageError(f"bad signal {signal!r}: use a name like TERM or USR1, or a number")
        argv.append(f"--signal={signal}")
        if full:
            argv.append("--full")
    return [*argv, check_job_id(job_id)]


def squeue_argv(job_ids: Sequence[str] | None = None, *, user: str | None = None) -> list[str]:
    """``squeue -h -o FORMAT [--states=all -j IDS] [-u USER]`` (text, for parse_squeue)."""
    argv = ["squeue", "-h", "-o", SQUEUE_FORMAT]
    if job_ids:
        argv += ["--states=all", "-j", ",".join(check_job_id(j) for j in job_ids)]
    if user is not None:
        argv += ["-u", _check_text("user", user)]
    return argv


def squeue_json_argv() -> list[str]:
    """``squeue --json``: 22.05 ignores -j/-t here, so filter with parse_squeue_json."""
    return ["squeue", "--json"]


def scontrol_show_job_argv(job_id: str) -> list[str]:
    """``scontrol -o show job ID``: one line of key=value per job (22.05 has no --json)."""
    return ["scontrol", "-o", "show", "job", check_job_id(job_id)]


def scontrol_hostnames_argv(nodelist: str) -> list[str]:
    """``scontrol show hostnames LIST``: one host name per line."""
    return ["scontrol", "show", "hostnames", _check_text("nodelist", nodelist)]


def sinfo_nodes_argv(partition: str) -> list[str]:
    """``sinfo -h -N -p PART -o %N``: one line per node of the partition."""
    return ["sinfo", "-h", "-N", "-p", _check_text("partition", partition), "-o", "%N"]


def sinfo_partitions_argv() -> list[str]:
    """``sinfo -h -o %P``: one partition per line, the default one marked ``*``."""
    return ["sinfo", "-h", "-o", "%P"]


def sacct_argv(job_id: str) -> list[str]:
    """``sacct -X -n -P -o FIELDS -j ID`` (needs slurmdbd; see parse_sacct)."""
    return ["sacct", "-X", "-n", "-P", "-o", SACCT_FIELDS, "-j", check_job_id(job_id)]


def check_job_id(job_id: str) -> str:
    """Return ``job_id`` as a string if it looks like a Slurm job id, else raise UsageError."""
    text = str(job_id).strip()
    if not _JOB_ID_RE.fullmatch(text):
        raise UsageError(f"bad Slurm job id {job_id!r}")
    return text


def _common_step_options(
    nodelist: Sequence[str] | None,
    srun_mpi: str | None,
    output: str | None,
    error: str | None,
) -> list[str]:
    argv: list[str] = []
    if nodelist:
        bad = [n for n in nodelist if not _NODE_RE.fullmatch(n)]
        if bad:
            raise UsageError(f"bad node name {bad[0]!r} in nodelist")
        argv.append("--nodelist=" + ",".join(nodelist))
    if srun_mpi is not None:
        if not _MPI_RE.fullmatch(srun_mpi):
            raise UsageError(f"bad srun --mpi value {srun_mpi!r} (e.g. pmi2, pmix, none)")
        argv.append(f"--mpi={srun_mpi}")
    if output is not None:
        argv.append(f"--output={_check_text('output', output)}")
    if error is not None:
        argv.append(f"--error={_check_text('error', error)}")
    return argv


def _check_positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{name} must be a positive integer, got {value!r}")


def _check_text(name: str, value: str) -> str:
    if not isinstance(value, str) or not value or any(c in value for c in "\n\r\0"):
        raise UsageError(f"{name} must be a non-empty one-line string, got {value!r}")
    return value


def _check_argv(name: str, argv: Sequence[str], *, allow_empty: bool = False) -> list[str]:
    items = list(argv)
    if isinstance(argv, str) or not all(isinstance(a, str) for a in items):
        raise UsageError(f"{name} must be a list of strings, got {argv!r}")
    if not items and not allow_empty:
        raise UsageError(f"{name} must not be empty")
    if items and name == "argv" and items[0].startswith("-"):
        raise UsageError(f"{name}[0] must be a program, not an option: {items[0]!r}")
    if any("\0" in a for a in items):
        raise UsageError(f"{name} contains a NUL character")
    return items
