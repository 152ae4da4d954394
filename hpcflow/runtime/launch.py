"""``hpcflow run``: run an app on the local runtime and report how it went."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from hpcflow.runtime import context
from hpcflow.runtime.app import AppOutcome, check_app, report, run_app
from hpcflow.runtime.session import Session, local_session


@dataclass(frozen=True)
class LocalOptions:
    """Sizes of the local runtime (None = detect) and output settings."""

    workers: int | None = None
    cpus: int | None = None
    memory_gb: float | None = None
    quiet: bool = False


def run_local(app: str, args: Sequence[str], options: LocalOptions) -> int:
    """Run ``app`` with a local pool of task processes; return the exit status."""
    path = check_app(app)
    session = local_session(os.path.dirname(path), options.workers, options.cpus,
                            options.memory_gb, progress=not options.quiet and sys.stderr.isatty())
    return finish(session, path, args, options.quiet)


def finish(session: Session, path: str, args: Sequence[str], quiet: bool) -> int:
    """Run the app under ``session``, close it, print the summary; the exit status."""
    with context.installed(session.master):
        outcome = run_app(path, args)
    session.close()
    fatal = session.master.fatal
    if outcome.status == 0 and fatal is not None:
        outcome = AppOutcome(1, str(fatal), fatal.remote_traceback)
    if not quiet:
        sys.stderr.write(session.summary() + "\n")
    report(outcome)
    return outcome.status
