"""What ``hpcflow submit`` adds for checkpoints and walltime: the job's ``hpcflow run``
flags, the warning signal's lead, and ``submit --resume RUN``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hpcflow.config.walltime import parse_walltime
from hpcflow.errors import UsageError
from hpcflow.runtime.chain import SCRIPT_FILE, job_chain, read_job, resubmit
from hpcflow.runtime.walltime import LEAD_ENV, default_lead

if TYPE_CHECKING:
    from hpcflow.config.site import SiteConfig
    from hpcflow.runtime.submit import Context, SubmitRequest

_POLICIES = ("every", "periodic", "off")
__all__ = ["LEAD_ENV", "job_run_flags", "resubmit_run", "walltime_lead"]


def job_run_flags(request: SubmitRequest, run_dir: Path, site: SiteConfig | None = None
                  ) -> list[str]:
    """``hpcflow run`` flags of the job: it resumes its run directory, so the same
    script serves the first job, resubmissions and continuations. The policy: the
    command line's, else the site's. Then the flags ``hpcflow submit`` passes on
    (``--compat``, ``--wall-clock-limit``)."""
    passed_on = [f"--compat={request.compat}"] * bool(request.compat)
    if request.wall_clock_limit:
        passed_on.append(f"--wall-clock-limit={request.wall_clock_limit:g}")
    return _checkpoint_flags(request, run_dir, site) + passed_on


def _checkpoint_flags(request: SubmitRequest, run_dir: Path, site: SiteConfig | None
                      ) -> list[str]:
    policy = request.checkpoint or (site.checkpoint if site is not None else "every")
    if policy not in _POLICIES:
        raise UsageError(f"unknown checkpoint policy {policy!r}; valid: {', '.join(_POLICIES)}")
    if policy == "off":
        if request.continue_run:
            raise UsageError("--continue needs checkpoints: not with --checkpoint off")
        return ["--run-dir", str(run_dir), "--checkpoint", "off"]
    flags = ["--resume", str(run_dir)]
    if policy != "every":
        flags += ["--checkpoint", policy]
    if request.continue_run:
        flags += ["--continue", "--max-continuations", str(request.max_continuations)]
    return flags


def walltime_lead(walltime: str, requested: int | None) -> int:
    """Seconds before the limit at which Slurm warns the job (shorter than the limit)."""
    seconds = parse_walltime(walltime)
    lead = default_lead(seconds) if requested is None else requested
    if lead < 1 or lead >= seconds:
        raise UsageError(f"--walltime-lead {lead} must be at least 1 s and shorter than the "
                         f"time limit ({seconds} s)")
    return lead


def resubmit_run(request: SubmitRequest, ctx: Context) -> int:
    """``hpcflow submit --resume RUN``: the run's own job script again, resuming the run."""
    from hpcflow.runtime.artifacts import resolve_run
    from hpcflow.runtime.submit import wait_for_job

    if request.resume is None:
        raise UsageError("give APP and --nodes (or --resume RUN)")
    given = [flag for flag, value in (("--nodes", request.nodes), ("--time", request.time),
                                      ("--continue", request.continue_run)) if value]
    if given:
        raise UsageError(f"with --resume the run's own job script is submitted again: "
                         f"{', '.join(given)} cannot change (submit a new run instead)")
    run_dir = resolve_run(request.resume, ctx)
    if request.dry_run:
        ctx.out.write((run_dir / SCRIPT_FILE).read_text(encoding="utf-8"))
        return 0
    for job in job_chain(read_job(run_dir))[-1:]:
        info = ctx.client.job_info(job)
        if info is not None and not info.is_final:
            raise UsageError(f"job {job} of this run is still {info.state.value}: two jobs "
                             f"must not resume one run (hpcflow cancel {job} first)")
    job_id = resubmit(ctx.client, run_dir)
    where = ctx.err if request.wait else ctx.out
    where.write(f"submitted job {job_id}\nrun directory {run_dir} (resumed)\n")
    where.flush()
    return wait_for_job(ctx, job_id, run_dir) if request.wait else 0
