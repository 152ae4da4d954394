"""Running a launched task inside its task process: a binary, MPI ranks, a threaded
binary or a whole-node Python function, as a child process (argv list, no shell).

The task process is the leader of its own process group and the child stays in it, so
the pool's kill (time_out, a failed group, the application stopping) takes the child
and everything it started (srun, mpiexec, the ranks) down with it; the pool then also
cancels the Slurm step by its unique name (:func:`cancel_step`).
"""

from __future__ import annotations

import contextlib
import inspect
import os
import pickle
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any

import cloudpickle

from hpcflow.agents.protocol import StepLaunch
from hpcflow.errors import HpcflowError, SlurmCommandError
from hpcflow.graph.launch import LaunchKind, default_argv, fill_template
from hpcflow.graph.spec import Kind, Mode
from hpcflow.slurm.client import SlurmClient
from hpcflow.slurm.srun import task_step_argv
from hpcflow.slurm.steps import hosts_env, launcher_env

TAIL_LINES = 8


class StepFailed(HpcflowError):
    """A launched task failed: a non-zero exit value, or a rank raised."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.detail = detail


# -- pure builders ------------------------------------------------------------------------
def program_argv(launch: StepLaunch, values: Mapping[str, Any], payload: str = "",
                 result: str = "") -> list[str]:
    """What each rank runs: the binary and its filled arguments, or the Python runner."""
    if launch.spec.python:
        return [sys.executable, "-m", "hpcflow.agents.mpitask", payload, result]
    binary = [launch.binary_path or launch.spec.binary or "", *launch.spec.binary_args]
    if launch.spec.args is None:
        return [*binary, *default_argv(launch.params, values, launch.spec.streams)]
    return [*binary, *fill_template(launch.spec.args, values)]


def launch_argv(launch: StepLaunch, program: list[str]) -> list[str]:
    """``program`` under its launcher: a nested srun step, mpiexec -n P, or as it is."""
    if launch.launcher == "srun":
        return task_step_argv(list(launch.nodes), len(launch.nodes), launch.ntasks,
                              launch.per_node, launch.cpus_per_task, launch.srun_mpi,
                              program, job_name=launch.job_name)
    if launch.launcher == "mpiexec":
        return [launch.launcher_path, "-n", str(launch.ntasks), *program]
    return program


def child_env(launch: StepLaunch, env: Mapping[str, str]) -> dict[str, str]:
    """The child's environment: no trace of the agents' step, threads set, hosts given."""
    out = launcher_env(env)
    threads = str(launch.cpus_per_task)
    out["OMP_NUM_THREADS"] = threads
    if launch.spec.kind is LaunchKind.OMPSS:
        nx_args = f"{env.get('NX_ARGS', '')} --smp-workers={threads}".strip()
        out["NX_ARGS"] = nx_args
    if launch.spec.kind is LaunchKind.MULTINODE:
        out.update(hosts_env(launch.nodes, launch.per_node, launch.cpus_per_task,
                             launch.in_slurm))
    return out


def named_values(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                 launch: StepLaunch) -> dict[str, Any]:
    """The call's arguments by parameter name; FILE/DIRECTORY paths made absolute."""
    target = func.resolve() if hasattr(func, "resolve") else func
    bound = inspect.signature(target).bind(*args, **kwargs)
    values = dict(bound.arguments)
    for param in launch.params:
        value = values.get(param.name)
        if param.direction.kind in (Kind.FILE, Kind.DIRECTORY) and value is not None:
            values[param.name] = os.path.abspath(os.fspath(value))
    return values


# -- running ------------------------------------------------------------------------------
def run_step(launch: StepLaunch, func: Callable[..., Any], args: tuple[Any, ...],
             kwargs: dict[str, Any], extra: dict[str, str]) -> Any:
    """Run the launched task to its end; its value (exit value or function value)."""
    values = named_values(func, args, kwargs, launch)
    os.makedirs(launch.log_dir, exist_ok=True)
    base = os.path.join(launch.log_dir, launch.log_name)
    payload, result = f"{base}.payload", f"{base}.result"
    if launch.spec.python:
        _write(payload, cloudpickle.dumps({"func": func, "args": args, "kwargs": kwargs,
                                           "path": list(sys.path), "gather": launch.gather}))
    argv = launch_argv(launch, program_argv(launch, values, payload, result))
    extra.update({"launcher": launch.launcher, "nodes": ",".join(launch.nodes),
                  "argv": shlex.join(argv)})
    if launch.job_name and launch.launcher == "srun":
        extra["step"] = launch.job_name
    code = _run(launch, argv, values, extra)
    extra["exit_code"] = str(code)
    if launch.spec.python:
        try:
            return _python_result(launch, result, code, extra)
        finally:
            _cleanup(launch.log_dir, os.path.basename(payload), os.path.basename(result))
    if code != 0 and launch.spec.fail_by_exit_value:
        raise StepFailed(f"{_what(launch)} {_exit_text(code)}{_tail(extra['stderr'])}",
                         _read_tail(extra["stderr"]))
    return code


def _run(launch: StepLaunch, argv: list[str], values: Mapping[str, Any],
         extra: dict[str, str]) -> int:
    cwd = _working_dir(launch, values)
    env = child_env(launch, os.environ)
    copies = launch.ntasks if launch.launcher == "plain" else 1
    with _streams(launch, values, extra) as (stdin, stdout, stderr):
        procs = []
        for rank in range(copies):
            if launch.launcher == "plain":
                env = {**env, "HPCFLOW_RANK": str(rank)}
            procs.append(subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=stderr,
                                          cwd=cwd, env=env))
        codes = [proc.wait() for proc in procs]
    return next((c for c in codes if c != 0), 0)


def _working_dir(launch: StepLaunch, values: Mapping[str, Any]) -> str | None:
    if not launch.spec.working_dir:
        return None
    path = os.path.expandvars(os.path.expanduser(fill_template(launch.spec.working_dir,
                                                               values)[0]))
    os.makedirs(path, exist_ok=True)
    return path


@contextlib.contextmanager
def _streams(launch: StepLaunch, values: Mapping[str, Any],
             extra: dict[str, str]) -> Iterator[tuple[Any, IO[bytes], IO[bytes]]]:
    """Open stdin/stdout/stderr: the bound FILE parameters, else the step's log files."""
    with contextlib.ExitStack() as stack:
        opened: dict[str, Any] = {"stdin": subprocess.DEVNULL}
        for stream, default in (("stdout", launch.stdout_log), ("stderr", launch.stderr_log)):
            name = launch.spec.stream(stream)
            path = str(values[name]) if name else default
            mode = "ab" if name and _mode(launch, name) is Mode.INOUT else "wb"
            opened[stream] = stack.enter_context(open(path, mode))
            extra[stream] = path
        name = launch.spec.stream("stdin")
        if name:
            opened["stdin"] = stack.enter_context(open(str(values[name]), "rb"))
        yield opened["stdin"], opened["stdout"], opened["stderr"]


def _mode(launch: StepLaunch, name: str) -> Mode:
    return next(p.direction.mode for p in launch.params if p.name == name)


def _python_result(launch: StepLaunch, result: str, code: int, extra: dict[str, str]) -> Any:
    failures = sorted(f for f in os.listdir(launch.log_dir)
                      if f.startswith(os.path.basename(result) + ".error"))
    if failures:
        with open(os.path.join(launch.log_dir, failures[0]), "rb") as fh:
            rank, host, reason, tb = pickle.load(fh)
        raise StepFailed(f"rank {rank} on {host}: {reason}", tb)
    if code != 0:
        raise StepFailed(f"{_what(launch)} {_exit_text(code)}{_tail(extra['stderr'])}",
                         _read_tail(extra["stderr"]))
    ranks = range(launch.ntasks) if launch.gather else range(1)
    values = []
    for rank in ranks:
        path = f"{result}.{rank}"
        if not os.path.exists(path):
            raise StepFailed(f"{_what(launch)}: rank {rank} returned no value")
        with open(path, "rb") as fh:
            values.append(pickle.load(fh))
    return values if launch.gather else values[0]


def _cleanup(directory: str, *prefixes: str) -> None:
    """Remove the payload and result files (the logs stay)."""
    for name in os.listdir(directory):
        if name.startswith(prefixes):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(directory, name))


def _what(launch: StepLaunch) -> str:
    if launch.spec.python:
        return f"{launch.spec.kind.value} task ({launch.ntasks} processes)"
    return os.path.basename(launch.spec.binary or "binary")


def _exit_text(code: int) -> str:
    if code < 0:
        try:
            import signal

            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def _read_tail(path: str, lines: int = TAIL_LINES) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, os.path.getsize(path) - 4096))
            text = fh.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def _tail(path: str) -> str:
    last = _read_tail(path, 3).replace("\n", " | ")
    return f"; stderr: {last}" if last else ""


def _write(path: str, data: bytes) -> None:
    with open(f"{path}.part", "wb") as fh:
        fh.write(data)
    os.replace(f"{path}.part", path)


def launch_logs(launch: StepLaunch) -> dict[str, str]:
    """Where a launched task's output went, for a task that died before telling us."""
    logs = {"nodes": ",".join(launch.nodes), "launcher": launch.launcher}
    for stream, default in (("stdout", launch.stdout_log), ("stderr", launch.stderr_log)):
        if not launch.spec.stream(stream):
            logs[stream] = default
    if launch.job_name and launch.launcher == "srun":
        logs["step"] = launch.job_name
    return logs


# -- cancelling ---------------------------------------------------------------------------
def cancel_step(job_name: str, env: Mapping[str, str] | None = None,
                client: SlurmClient | None = None, wait: float = 10.0) -> list[str]:
    """Cancel this job's steps called ``job_name`` and wait (up to ``wait`` s) until
    Slurm no longer lists them; the step ids cancelled. Errors are reported, not raised."""
    env = os.environ if env is None else env
    job_id = env.get("SLURM_JOB_ID", "")
    if not job_id or not job_name:
        return []
    client = client or SlurmClient(timeout=10.0)
    try:
        steps = client.step_ids(job_id, job_name)
        for step in steps:
            client.cancel(step)
        deadline = time.monotonic() + wait
        while steps and client.step_ids(job_id, job_name) and time.monotonic() < deadline:
            time.sleep(0.1)
    except SlurmCommandError as exc:
        sys.stderr.write(f"hpcflow: cannot cancel step {job_name}: {exc}\n")
        return []
    return steps
