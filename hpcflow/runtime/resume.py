"""``hpcflow run --resume RUN``: find the run again and give its master checkpoints and the
walltime handling."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hpcflow.errors import UsageError
from hpcflow.runtime.chain import read_job
from hpcflow.runtime.checkpoint import Checkpointer, CheckpointPolicy
from hpcflow.runtime.ckstore import CheckpointStore
from hpcflow.runtime.events import read_events
from hpcflow.runtime.session import Session
from hpcflow.runtime.walltime import Walltime, WalltimeSettings


def resume_target(resume: str) -> tuple[str, str | None, list[str]]:
    """The run directory RUN names, and the app and arguments it ran (None if unknown)."""
    from hpcflow.runtime.artifacts import resolve_run

    run_dir = resolve_run(resume)
    app, args = _recorded_app(run_dir)
    return str(run_dir.resolve()), app, args


def _recorded_app(run_dir: Path) -> tuple[str | None, list[str]]:
    events = run_dir / "events.jsonl"
    for event in read_events(str(events)) if events.is_file() else []:
        if event.get("event") == "run_started" and isinstance(event.get("app"), str):
            return event["app"], [str(a) for a in event.get("args") or []]
    job = read_job(run_dir)
    if isinstance(job.get("app"), str):
        return job["app"], [str(a) for a in job.get("args") or []]
    return None, []


def resolve_resume(app: str | None, args: Sequence[str], resume: str
                   ) -> tuple[str, str, list[str]]:
    """``(run_dir, app, args)`` of ``--resume RUN``: the app given, else the recorded one."""
    run_dir, recorded, recorded_args = resume_target(resume)
    if app:
        return run_dir, app, list(args)
    if recorded is None:
        raise UsageError(f"{run_dir} records no app: give it, hpcflow run --resume RUN APP")
    return run_dir, recorded, recorded_args


def attach(session: Session, options: Any, env: Mapping[str, str]) -> None:
    """Checkpoints for the run directory and the walltime signal, on the master."""
    policy = CheckpointPolicy.parse(options.checkpoint)
    master = session.master
    if policy is not CheckpointPolicy.OFF and options.run_dir:
        store = CheckpointStore(options.run_dir)
        checkpoints = Checkpointer(store, policy, options.checkpoint_interval)
        master.checkpoints = checkpoints.start(resume=bool(options.resume))
        session.on_close.append(lambda: _close(checkpoints, options.quiet))
        if store.corrupt and not options.quiet:
            sys.stderr.write(f"hpcflow: ignored {store.corrupt} damaged checkpoint "
                             f"entr{'y' if store.corrupt == 1 else 'ies'}\n")
    client = None
    if env.get("SLURM_JOB_ID"):
        from hpcflow.slurm.client import SlurmClient

        client = SlurmClient()
    settings = WalltimeSettings(options.continue_run, options.max_continuations,
                                options.run_dir)
    walltime = Walltime(master, settings, env, client).install()
    session.on_close.append(walltime.close)


def _close(checkpoints: Checkpointer, quiet: bool) -> None:
    checkpoints.close()
    if checkpoints.restored and not quiet:
        sys.stderr.write(f"hpcflow: {checkpoints.restored} task(s) restored from "
                         f"checkpoints in {os.path.dirname(checkpoints.store.root)}\n")
