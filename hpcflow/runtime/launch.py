"""``hpcflow run``: run an app locally, or across the Slurm allocation it finds itself in."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from hpcflow.config.site import load_site_config
from hpcflow.errors import UsageError
from hpcflow.runtime import context, wallclock
from hpcflow.runtime.app import AppOutcome, check_app, report, run_app
from hpcflow.runtime.compat import activate
from hpcflow.runtime.events import EventLog
from hpcflow.runtime.records import write_records
from hpcflow.runtime.resume import attach, resolve_resume
from hpcflow.runtime.rundir import default_run_dir, imported_modules, software_versions
from hpcflow.runtime.session import Session, local_session
from hpcflow.runtime.steps import StepSettings
from hpcflow.runtime.walltime import ignore_walltime_signal
from hpcflow.slurm.allocation import Allocation


@dataclass(frozen=True)
class RunOptions:
    """Sizes of the local runtime (None = detect), output settings, site for srun."""

    workers: int | None = None
    cpus: int | None = None
    memory_gb: float | None = None
    quiet: bool = False
    run_dir: str | None = None
    site: str | None = None
    compat: str | None = None  # a compatibility package for the app, e.g. "pycompss"
    resume: str | None = None  # a run to resume from its checkpoints (its run directory)
    checkpoint: str = "every"  # every | periodic | off
    checkpoint_interval: float = 60.0  # seconds, for periodic
    continue_run: bool = False  # near the walltime, submit a continuation job
    max_continuations: int = 10
    wall_clock_limit: float | None = None  # seconds: then outstanding tasks are cancelled


LocalOptions = RunOptions


def run(app: str | None, args: Sequence[str], options: RunOptions,
        env: Mapping[str, str] | None = None) -> int:
    """Run ``app``: distributed inside a multi-node Slurm step or allocation, else local."""
    env = os.environ if env is None else env
    if options.resume:
        if options.checkpoint == "off":
            raise UsageError("--resume needs checkpoints: not with --checkpoint off")
        run_dir, app, args = resolve_resume(app, args, options.resume)
        options = replace(options, run_dir=run_dir, resume=run_dir)
    if not app:
        raise UsageError("give the APP to run (or --resume RUN)")
    path = check_app(app)
    if options.compat:
        activate(options.compat)  # before any task process starts: they inherit PYTHONPATH
    if options.site and "HPCFLOW_SOFTWARE" not in os.environ:  # for app_software
        software = load_site_config(options.site, {}, env=env).software
        os.environ["HPCFLOW_SOFTWARE"] = ",".join(software)
    if not options.run_dir:
        options = replace(options, run_dir=default_run_dir(path, datetime.now(), os.getpid(),
                                                           os.getcwd()))
    allocation = Allocation.from_env(env)
    tasks = _step_tasks(env)
    elastic = bool(env.get("HPCFLOW_ELASTIC"))  # one rank can grow: it needs the hub
    if allocation is not None and allocation.in_step and (tasks > 1 or elastic):
        return run_rank(path, args, options, tasks)
    if allocation is not None and not allocation.in_step and allocation.nnodes > 1:
        return relaunch(path, args, options, allocation, env)
    return run_local(path, args, options)


def _step_tasks(env: Mapping[str, str]) -> int:
    value = env.get("SLURM_STEP_NUM_TASKS") or env.get("SLURM_NTASKS") or "1"
    return int(value) if value.isdigit() else 1


def run_local(path: str, args: Sequence[str], options: RunOptions) -> int:
    """Run the app with a pool of task processes on this machine."""
    from hpcflow.agents.mpi import node_cpus

    session = local_session(os.path.dirname(path), options.workers,
                            options.cpus or node_cpus(), options.memory_gb,
                            progress=_progress(options), events=_event_log(options))
    session.master.steps.configure(StepSettings.from_env(os.environ, False, options.run_dir))
    attach(session, options, os.environ)
    return finish(session, path, args, options)


def run_rank(path: str, args: Sequence[str], options: RunOptions, tasks: int) -> int:
    """One rank of the agents step: rank 0 runs the master and the app, others serve."""
    from hpcflow.agents.mpi import serve_agent
    from hpcflow.runtime.distributed import check_world, distributed_session, mpi_world

    comm = mpi_world()
    check_world(comm, tasks)
    app_dir = os.path.dirname(path)
    transport = os.environ.get("HPCFLOW_TRANSPORT", "tcp")
    if transport not in ("tcp", "mpi"):
        raise UsageError(f"HPCFLOW_TRANSPORT={transport!r}: use tcp or mpi")
    if transport == "mpi" and os.environ.get("HPCFLOW_ELASTIC"):
        raise UsageError("--elastic needs HPCFLOW_TRANSPORT=tcp: extension jobs join over TCP")
    if comm.Get_rank() != 0:
        ignore_walltime_signal()
        _exit_now(serve_agent(comm, app_dir, transport))
    session = distributed_session(comm, app_dir, _progress(options), transport,
                                  events=_event_log(options), elastic=_elastic(options, app_dir))
    session.master.steps.configure(StepSettings.from_env(os.environ, True, options.run_dir))
    attach(session, options, os.environ)
    _exit_now(finish(session, path, args, options))
    return 1  # not reached


def _elastic(options: RunOptions, app_dir: str) -> Any:
    """The hook that makes a distributed session elastic, when HPCFLOW_ELASTIC is set."""
    if not os.environ.get("HPCFLOW_ELASTIC"):
        return None
    if not options.run_dir:
        raise UsageError("an elastic run needs a run directory (--run-dir)")
    from hpcflow.runtime.elastic_setup import make_elastic

    run_dir = options.run_dir
    return lambda session, agents, hub: make_elastic(session, agents, hub, run_dir, app_dir,
                                                     os.environ)


def _exit_now(status: int) -> None:
    """Leave without MPI_Finalize: it waits for every rank, and a lost one never comes."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def relaunch(path: str, args: Sequence[str], options: RunOptions, allocation: Allocation,
             env: Mapping[str, str]) -> int:
    """In a batch script: start one rank per node of the allocation with srun."""
    from hpcflow.slurm.srun import agents_step_argv  # batch scripts only: off start-up

    site = load_site_config(options.site, {}, env=env)
    rerun = ["-m", "hpcflow", "run", *_option_args(options), path, "--", *args]
    argv = agents_step_argv(allocation.nnodes, site.srun_mpi, sys.executable, rerun)
    return subprocess.run(argv, check=False).returncode


def _option_args(options: RunOptions) -> list[str]:
    argv = ["--quiet"] if options.quiet else []
    if options.run_dir:
        argv += ["--run-dir", options.run_dir]
    if options.compat:
        argv += ["--compat", options.compat]
    if options.resume:
        argv += ["--resume", options.resume]
    argv += ["--checkpoint", options.checkpoint,
             "--checkpoint-interval", f"{options.checkpoint_interval:g}"]
    if options.continue_run:
        argv += ["--continue", "--max-continuations", str(options.max_continuations)]
    if options.wall_clock_limit:
        argv += ["--wall-clock-limit", f"{options.wall_clock_limit:g}"]
    return argv


def _event_log(options: RunOptions) -> EventLog | None:
    if not options.run_dir:
        return None
    os.makedirs(options.run_dir, mode=0o700, exist_ok=True)
    return EventLog(os.path.join(options.run_dir, "events.jsonl")).open()


def _progress(options: RunOptions) -> bool:
    return not options.quiet and sys.stderr.isatty()


def _stopped_message(run_dir: str | None) -> str:
    if not run_dir:
        return "stopped before the walltime"
    how = "submit" if os.environ.get("SLURM_JOB_ID") else "run"
    return f"stopped before the walltime; resume with: hpcflow {how} --resume {run_dir}"


def finish(session: Session, path: str, args: Sequence[str], options: RunOptions) -> int:
    """Run the app under ``session``, close it, record and report; the exit status."""
    events = session.master.events
    events.emit("run_started", app=path, args=list(args), pid=os.getpid(),
                software=software_versions())
    if options.wall_clock_limit:
        wallclock.arm(options.wall_clock_limit)
    with context.installed(session.master):
        outcome = run_app(path, args)
    if outcome.status == 130:  # Ctrl-C: task processes lead their own process groups
        session.master.abort("interrupted")
    if outcome.status == wallclock.EXIT_STATUS and outcome.message.startswith("wall clock"):
        outcome = AppOutcome(outcome.status, wallclock.stop_run(session.master,
                                                                outcome.message))
    late = wallclock.settle_within(session.master)  # tasks the app never waited for
    outcome = AppOutcome(wallclock.EXIT_STATUS, late) if late else outcome
    session.close()
    fatal = session.master.fatal
    handover = session.master.handover
    drain = session.master.draining
    if handover is not None and outcome.status in (0, 1):  # stopped on time: not a failure
        outcome = AppOutcome(0, "")
    elif drain is not None and drain.stopped_app and outcome.status in (0, 1):
        outcome = AppOutcome(1, _stopped_message(options.run_dir))
    elif fatal is not None and outcome.status in (0, 1):  # report the root cause
        outcome = AppOutcome(1, str(fatal), fatal.remote_traceback)
    events.emit("run_finished", status=outcome.status, message=outcome.message,
                modules=imported_modules())
    events.close()
    if options.run_dir:
        write_records(options.run_dir, session.master, outcome.status, outcome.message)
    if not options.quiet:
        where = f"\nrun directory {options.run_dir}" if options.run_dir else ""
        sys.stderr.write(session.summary() + where + "\n")
    report(outcome)
    if handover is not None:
        sys.stderr.write(f"hpcflow: stopped before the walltime; the run continues in job "
                         f"{handover}\n")
    return outcome.status
