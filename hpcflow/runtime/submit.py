"""``hpcflow submit``, ``status``, ``cancel`` and ``logs``: an app run as one Slurm batch job.

``submit`` resolves the configuration once (built-in < site < user < command line), checks
every input before creating anything (app, nodes, time limit, elastic range, then the
partition's size via sinfo), renders the script with the pure :func:`build_plan`, and only
then creates the run directory, writes ``job.sbatch``, runs sbatch (removing the run
directory again if that fails) and writes ``job.json``.  The job runs ``python -m hpcflow
run --resume RUN_DIR APP -- ARGS`` (so continuations reuse the script) in one srun step,
one task per node; it writes ``status.json``, which ``--wait`` turns into our exit status.
The outside world (cwd, clock, environment, Slurm, streams) comes in through a :class:`Context`.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from hpcflow.config.site import (
    SiteConfig,
    default_site_dirs,
    load_site_config,
    user_default_site,
)
from hpcflow.errors import UsageError
from hpcflow.runtime import chain, elastic_io
from hpcflow.runtime.app import check_app
from hpcflow.runtime.continuation import LEAD_ENV, job_run_flags, resubmit_run, walltime_lead
from hpcflow.runtime.live import EVENTS_FILE, ProgressTails, run_status_lines
from hpcflow.slurm.client import SlurmClient
from hpcflow.slurm.follow import FileTail, follow
from hpcflow.slurm.parse import JobInfo, JobState
from hpcflow.slurm.script import SbatchSpec, render_sbatch
from hpcflow.slurm.srun import agents_step_argv, check_job_id

#: Site used when neither the command line nor the user's config names one.
DEFAULT_SITE = "generic"
#: Directory under the cwd holding one run directory per job (unless ``--output``).
RUNS_DIR = "hpcflow-runs"
SCRIPT_FILE = chain.SCRIPT_FILE
JOB_FILE = chain.JOB_FILE
STATUS_FILE = "status.json"
#: Jobs named with this prefix are listed by ``hpcflow status`` (besides local job.json ids).
JOB_NAME_PREFIX = "hpcflow"
POLL_SECONDS = 0.5

_JOB_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")
_ELASTIC_RE = re.compile(r"([0-9]+):([0-9]+)")
_MAX_ATTEMPTS = 100
_ENDED = {JobState.COMPLETED, JobState.FAILED}


@dataclass(frozen=True)
class SubmitRequest:
    """What ``hpcflow submit`` was asked for; None means "option not given"."""

    app: str
    nodes: int
    args: tuple[str, ...] = ()
    time: str | None = None
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    cpus_per_node: int | None = None
    mem_per_node: str | None = None
    site: str | None = None
    site_config: str | None = None
    job_name: str | None = None
    output: str | None = None
    elastic: str | None = None
    idle_timeout: float | None = None
    compat: str | None = None  # --compat and --wall-clock-limit of hpcflow run in the job
    wall_clock_limit: float | None = None
    dry_run: bool = False
    wait: bool = False
    resume: str | None = None  # submit the run's own script again; it resumes the run
    checkpoint: str | None = None  # None: the site's (default every)
    continue_run: bool = False
    max_continuations: int = 10
    walltime_lead: int | None = None


@dataclass(frozen=True)
class Context:
    """The world a command sees: injectable for tests; :meth:`from_process` for real use."""

    cwd: Path
    env: Mapping[str, str]
    client: SlurmClient
    out: TextIO
    err: TextIO
    now: Callable[[], datetime] = datetime.now
    sleep: Callable[[float], None] = time.sleep
    poll: float = POLL_SECONDS
    user: str | None = None
    search_dirs: Sequence[Path] | None = None

    @classmethod
    def from_process(cls) -> Context:
        """The current directory, environment, user, real Slurm and sys.stdout/stderr."""
        return cls(Path.cwd(), dict(os.environ), SlurmClient(), sys.stdout, sys.stderr,
                   user=getpass.getuser())


@dataclass(frozen=True)
class SubmitPlan:
    """Everything decided about a job before it exists; ``script`` is the sbatch text."""

    site: SiteConfig
    app: str
    args: tuple[str, ...]
    nodes: int
    job_name: str
    run_dir: Path
    cwd: Path
    time: str
    elastic: tuple[int, int] | None
    script: str


# --------------------------------------------------------------------------- pure planning


def resolve_config(request: SubmitRequest, ctx: Context) -> SiteConfig:
    """Site settings: built-in < site (``--site``, ``--site-config``, the user's
    ``default_site``, else ``generic.toml`` if installed) < user file < CLI flags."""
    if request.site is not None and request.site_config is not None:
        raise UsageError("give --site NAME or --site-config FILE, not both")
    cli = {"partition": request.partition, "account": request.account, "qos": request.qos,
           "cores_per_node": request.cpus_per_node, "mem_per_node": request.mem_per_node}
    if request.site_config is not None:
        return load_site_config(None, cli, env=ctx.env, site_file=ctx.cwd / request.site_config)
    dirs = default_site_dirs(ctx.env) if ctx.search_dirs is None else ctx.search_dirs
    site = request.site or user_default_site(ctx.env)
    if site is None and any((Path(d) / f"{DEFAULT_SITE}.toml").is_file() for d in dirs):
        site = DEFAULT_SITE  # else the built-in defaults, which are named generic too
    return load_site_config(site, cli, env=ctx.env, search_dirs=dirs)


def check_counts(request: SubmitRequest) -> None:
    """Reject ``--nodes`` and ``--cpus-per-node`` below 1 (one line, naming the flag)."""
    for flag, value in (("--nodes", request.nodes), ("--cpus-per-node", request.cpus_per_node)):
        if value is not None and value < 1:
            raise UsageError(f"{flag} must be at least 1, got {value}")


def parse_elastic(text: str | None, nodes: int) -> tuple[int, int] | None:
    """``"MIN:MAX"`` as two ints with 1 <= MIN <= nodes <= MAX; None when not given."""
    if text is None:
        return None
    match = _ELASTIC_RE.fullmatch(text.strip())
    if not match:
        raise UsageError(f"bad --elastic {text!r}: use MIN:MAX, e.g. --elastic 1:8")
    low, high = int(match.group(1)), int(match.group(2))
    if not 1 <= low <= nodes <= high:
        raise UsageError(
            f"bad --elastic {text}: need 1 <= MIN <= --nodes ({nodes}) <= MAX"
        )
    return low, high


def job_name_for(requested: str | None, app: str) -> str:
    """``--job-name`` (checked: it names the run directory) or ``hpcflow-<app stem>``."""
    if requested is None:
        stem = re.sub(r"[^A-Za-z0-9._+-]", "_", Path(app).stem) or "app"
        return f"{JOB_NAME_PREFIX}-{stem}"[:128]
    if not _JOB_NAME_RE.fullmatch(requested):
        raise UsageError(
            f"bad --job-name {requested!r}: use up to 128 letters, digits, '.', '_', '+' or '-'"
        )
    return requested


def run_dir_for(job_name: str, now: datetime, cwd: Path, output: str | None,
                attempt: int = 0) -> Path:
    """``<cwd>/hpcflow-runs/<job-name>-<timestamp>`` (or under ``output``); ``-N`` on retries."""
    base = cwd / output if output is not None else cwd / RUNS_DIR
    suffix = f"-{attempt + 1}" if attempt else ""
    path = Path(os.path.normpath(base / f"{job_name}-{now:%Y%m%d-%H%M%S}{suffix}"))
    if "%" in str(path):
        raise UsageError(f"run directory {str(path)!r} contains '%', which sbatch would expand; "
                         "choose another place with --output DIR")
    return path


def launch_argv(site: SiteConfig, nodes: int, run_dir: Path, app: str,
                args: Sequence[str], flags: Sequence[str] = ()) -> list[str]:
    """The srun step: ``<python> -m hpcflow run FLAGS|--run-dir D APP -- ARGS`` per node."""
    rerun = ["-m", "hpcflow", "run", *(flags or ["--run-dir", str(run_dir)]), app, "--", *args]
    return agents_step_argv(nodes, site.srun_mpi, site.python, rerun)


def batch_spec(site: SiteConfig, *, nodes: int, job_name: str, run_dir: Path, cwd: Path,
               walltime: str, launch: Sequence[str], elastic: tuple[int, int] | None,
               idle_timeout: float | None = None, lead: int | None = None) -> SbatchSpec:
    """The :class:`SbatchSpec` of a job: the site's settings plus our files and variables.
    An elastic job survives the loss of a node (``--no-kill``) and is never requeued."""
    elastic_env, elastic_options = elastic_io.elastic_job(elastic, idle_timeout)
    env = {**site.env, "HPCFLOW_RUN_DIR": str(run_dir),
           "HPCFLOW_SRUN_MPI": site.srun_mpi or "default", **elastic_env}
    extra = {**site.sbatch_extra, **elastic_options}
    if lead is not None:
        env[LEAD_ENV] = str(lead)
    return SbatchSpec(
        job_name=job_name, nodes=nodes, time=walltime, launch=launch,
        partition=site.partition, account=site.account, qos=site.qos,
        cpus_per_node=site.cores_per_node, mem_per_node=site.mem_per_node,
        gpus_per_node=site.gpus_per_node, output=str(run_dir / "slurm-%j.out"),
        error=str(run_dir / "slurm-%j.err"), chdir=str(cwd), extra=extra,
        modules=site.modules, env=env, signal_lead=lead,
    )  # fmt: skip


def build_plan(request: SubmitRequest, site: SiteConfig, app: str, *, cwd: Path,
               now: datetime, attempt: int = 0) -> SubmitPlan:
    """Decide the job (pure): ``app`` is the checked absolute path of the app."""
    check_counts(request)
    elastic = parse_elastic(request.elastic, request.nodes)
    walltime = site.walltime(request.time)
    job_name = job_name_for(request.job_name, app)
    run_dir = run_dir_for(job_name, now, cwd, request.output, attempt)
    launch = launch_argv(site, request.nodes, run_dir, app, request.args,
                         job_run_flags(request, run_dir, site))
    spec = batch_spec(site, nodes=request.nodes, job_name=job_name, run_dir=run_dir, cwd=cwd,
                      walltime=walltime, launch=launch, elastic=elastic,
                      idle_timeout=request.idle_timeout,
                      lead=walltime_lead(walltime, request.walltime_lead or site.walltime_lead))
    return SubmitPlan(site, app, tuple(request.args), request.nodes, job_name, run_dir, cwd,
                      walltime, elastic, render_sbatch(spec))


def job_record(plan: SubmitPlan, job_id: str, submitted: datetime) -> dict[str, Any]:
    """The contents of ``job.json``."""
    return {
        "job_id": job_id, "job_name": plan.job_name, "app": plan.app, "args": list(plan.args),
        "nodes": plan.nodes, "elastic": list(plan.elastic) if plan.elastic else None,
        "time": plan.time, "site": plan.site.name, "partition": plan.site.partition,
        "submitted": submitted.isoformat(timespec="seconds"), "run_dir": str(plan.run_dir),
        "cwd": str(plan.cwd),
    }  # fmt: skip


# --------------------------------------------------------------------------- submit


def submit_app(request: SubmitRequest, ctx: Context | None = None) -> int:
    """``hpcflow submit``: check, submit (or print with ``dry_run``), maybe wait; exit status."""
    ctx = ctx or Context.from_process()
    if request.resume is not None or request.nodes is None or not request.app:
        return resubmit_run(request, ctx)  # or says APP and --nodes are required
    check_counts(request)
    site = resolve_config(request, ctx)
    app = check_app(str(ctx.cwd / request.app))
    now = ctx.now()
    plan = build_plan(request, site, app, cwd=ctx.cwd, now=now)
    if request.dry_run:
        ctx.out.write(plan.script)
        return 0
    check_partition(ctx.client, site.partition, request.nodes)
    fresh_parent = not plan.run_dir.parent.exists()
    plan = _create_run_dir(request, plan, ctx.cwd, now)
    if plan.elastic is not None:  # what extension jobs copy; read when the job starts
        elastic_io.write_settings(plan.run_dir, plan.site, plan.job_name)
    job_id = _sbatch(ctx.client, plan, fresh_parent)
    chain.write_job(plan.run_dir, job_record(plan, job_id, now))
    where = ctx.err if request.wait else ctx.out
    where.write(f"submitted job {job_id}\nrun directory {plan.run_dir}\n")
    where.flush()
    return wait_for_job(ctx, job_id, plan.run_dir) if request.wait else 0


def check_partition(client: SlurmClient, partition: str | None, nodes: int) -> None:
    """Refuse more nodes than the partition (or the default one) has; asks sinfo."""
    name = partition or client.default_partition()
    if name is None:
        raise UsageError("Slurm has no default partition: give --partition or set it in the site")
    have = client.partition_nodes(name)
    if have == 0:
        raise UsageError(f"partition {name!r} has no nodes (does it exist? see sinfo)")
    if nodes > have:
        raise UsageError(f"--nodes {nodes} but partition {name!r} has only {have} nodes")


def _create_run_dir(request: SubmitRequest, plan: SubmitPlan, cwd: Path,
                    now: datetime) -> SubmitPlan:
    """Create the run directory (0700), with a ``-N`` suffix if the name is taken."""
    for attempt in range(_MAX_ATTEMPTS):
        if attempt:
            plan = build_plan(request, plan.site, plan.app, cwd=cwd, now=now, attempt=attempt)
        plan.run_dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            plan.run_dir.mkdir(mode=0o700)
        except FileExistsError:
            continue
        plan.run_dir.chmod(0o700)
        return plan
    raise UsageError(f"cannot create a new run directory like {plan.run_dir}: all names taken")


def _sbatch(client: SlurmClient, plan: SubmitPlan, fresh_parent: bool) -> str:
    """Write ``job.sbatch`` and submit it; on failure remove the run directory (and the
    parent directory if this submission created it and it is empty)."""
    try:
        script = plan.run_dir / SCRIPT_FILE
        chain.write_private(script, plan.script)
        return client.submit(script)
    except BaseException:
        shutil.rmtree(plan.run_dir, ignore_errors=True)
        if fresh_parent and not any(plan.run_dir.parent.iterdir()):
            plan.run_dir.parent.rmdir()
        raise


# --------------------------------------------------------------------------- following


def log_paths(run_dir: Path, job_id: str) -> tuple[Path, Path]:
    """The job's stdout and stderr files in its run directory."""
    return run_dir / f"slurm-{job_id}.out", run_dir / f"slurm-{job_id}.err"


def follow_job(ctx: Context, job_id: str, run_dir: Path,
               progress: bool = False) -> JobInfo | None:
    """Stream the job's .out/.err to ctx.out/ctx.err until it is final; its last JobInfo.
    With ``progress``, a live line of task counts (from the event log) on ctx.err."""
    out_path, err_path = log_paths(run_dir, job_id)
    tails: Sequence[Any] = (FileTail(out_path, ctx.out), FileTail(err_path, ctx.err))
    if progress:
        tails = (ProgressTails(run_dir / EVENTS_FILE, ctx.err, tails),)
    return follow(ctx.client, job_id, tails, poll=ctx.poll, sleep=ctx.sleep)


def read_status(run_dir: Path) -> dict[str, Any] | None:
    """``status.json`` written by the runtime, if present and holding an int exit_status."""
    doc = chain.read_json(run_dir / STATUS_FILE)
    status = doc.get("exit_status") if doc else None
    if isinstance(status, bool) or not isinstance(status, int):
        return None
    return doc


def wait_for_job(ctx: Context, job_id: str, run_dir: Path) -> int:
    """Follow the job (and its continuations) to the end; the app's exit status
    (status.json, else Slurm's)."""
    try:
        info = follow_job(ctx, job_id, run_dir, progress=ctx.err.isatty())
        while (after := chain.next_job(run_dir, job_id)) is not None:
            ctx.err.write(f"hpcflow: job {job_id} continues in job {after}\n")
            job_id, info = after, follow_job(ctx, after, run_dir, progress=ctx.err.isatty())
    except KeyboardInterrupt:
        ctx.err.write(f"hpcflow: stopped waiting; job {job_id} goes on "
                      f"(hpcflow cancel {job_id} stops it)\n")
        return 130
    if info is None:
        info = ctx.client.accounting_info(job_id)
    status, message = final_status(job_id, info, read_status(run_dir))
    if message:
        ctx.err.write(f"hpcflow: {message}; run directory {run_dir}\n")
    return status


def final_status(job_id: str, info: JobInfo | None,
                 status_doc: Mapping[str, Any] | None) -> tuple[int, str]:
    """Exit status of a finished job and a one-line message (empty when all went well).

    The app's status from ``status.json`` wins; without it, Slurm's exit code.  A job
    that ended in any other state than COMPLETED/FAILED (cancelled, timed out, ...)
    is an error naming the state.
    """
    app_status = None if status_doc is None else int(status_doc["exit_status"])
    if info is None and app_status is None:
        return 1, f"error: job {job_id} is no longer known to Slurm and left no status"
    if info is None or info.state in _ENDED:
        status = app_status if app_status is not None else _slurm_status(info)
        state = info.state.value if info else "ended"
        return status, f"job {job_id} {state}, exit status {status}" if status else ""
    reason = f" ({info.reason})" if info.reason and info.reason != "None" else ""
    return app_status or 1, f"error: job {job_id} ended {info.state.value}{reason}"


def _slurm_status(info: JobInfo | None) -> int:
    if info is None:
        return 1
    code, signal = info.exit_code or 0, info.exit_signal or 0
    if code:
        return code
    if signal:
        return 128 + signal
    return 0 if info.state is JobState.COMPLETED else 1


# --------------------------------------------------------------------------- status/cancel/logs


def show_status(job_id: str | None, ctx: Context | None = None) -> int:
    """``hpcflow status [JOBID]``: the user's hpcflow jobs, or one job in detail."""
    ctx = ctx or Context.from_process()
    if job_id is None:
        return _list_jobs(ctx)
    if (ctx.cwd / job_id).is_dir():  # a run directory, e.g. of a local run
        lines = run_status_lines(ctx.cwd / job_id)
        ctx.out.write("".join(f"{line}\n" for line in lines) or f"no events in {job_id}\n")
        return 0
    job_id = check_job_id(job_id)
    info = ctx.client.job_info(job_id) or ctx.client.accounting_info(job_id)
    run_dir = find_run_dir(ctx, job_id, info)
    if info is None and run_dir is None:
        raise UsageError(f"job {job_id} is unknown to Slurm and has no run directory here")
    doc = read_status(run_dir) if run_dir else None
    live = run_status_lines(run_dir) if run_dir else []
    for line in status_lines(job_id, info, run_dir, doc) + chain.chain_lines(run_dir) + live:
        ctx.out.write(line + "\n")
    return 0


def status_lines(job_id: str, info: JobInfo | None, run_dir: Path | None,
                 status_doc: Mapping[str, Any] | None) -> list[str]:
    """The lines ``hpcflow status JOBID`` prints."""
    state = info.state.value if info else "UNKNOWN (no longer known to Slurm)"
    nodes = ",".join(info.nodes) if info and info.nodes else "-"
    count = info.num_nodes if info and info.num_nodes is not None else "-"
    code = "-" if info is None or not info.is_final else str(_slurm_status(info))
    code = str(status_doc["exit_status"]) if status_doc is not None else code
    return [f"job        {job_id}" + (f" ({info.name})" if info and info.name else ""),
            f"state      {state}", f"nodes      {count} ({nodes})",
            f"run dir    {run_dir or '-'}", f"exit code  {code}"]


def _list_jobs(ctx: Context) -> int:
    local = {j for d in _run_dirs(ctx.cwd) for j in chain.job_chain(chain.read_job(d))}
    jobs = [job for job in ctx.client.queue(user=ctx.user)
            if job.name.startswith(JOB_NAME_PREFIX) or job.job_id in local]
    if not jobs:
        ctx.out.write("no hpcflow jobs in the queue\n")
    for job in jobs:
        count = job.num_nodes if job.num_nodes is not None else len(job.nodes)
        where = ",".join(job.nodes) or (job.reason or "-")
        ctx.out.write(f"{job.job_id}  {job.name}  {job.state.value}  {count} ({where})\n")
    return 0


def cancel_job(job_id: str, ctx: Context | None = None) -> int:
    """``hpcflow cancel JOBID``: scancel the job and say what happened."""
    ctx = ctx or Context.from_process()
    job_id = check_job_id(job_id)
    info = ctx.client.job_info(job_id)
    if info is None:
        raise UsageError(f"job {job_id} is unknown to Slurm: nothing to cancel")
    if info.is_final or not ctx.client.cancel(job_id):
        state = f" ({info.state.value})" if info.is_final else ""
        ctx.out.write(f"job {job_id} had already ended{state}: nothing to cancel\n")
        return 0
    ctx.out.write(f"cancelled job {job_id} (was {info.state.value})\n")
    for extension in elastic_io.cancel_extensions(ctx.client, find_run_dir(ctx, job_id, info)):
        ctx.out.write(f"cancelled its extension job {extension}\n")
    return 0


def show_logs(job_id: str, follow: bool = False, ctx: Context | None = None) -> int:
    """``hpcflow logs JOBID [-f]``: print the job's .out/.err; ``follow`` until it ends."""
    ctx = ctx or Context.from_process()
    job_id = check_job_id(job_id)
    info = ctx.client.job_info(job_id)
    run_dir = find_run_dir(ctx, job_id, info)
    if run_dir is None:
        raise UsageError(
            f"cannot find the run directory of job {job_id}: no {JOB_FILE} for it under "
            f"{ctx.cwd / RUNS_DIR}" + ("" if info else ", and Slurm no longer knows the job")
        )
    if follow:
        follow_job(ctx, job_id, run_dir)
        return 0
    for path, stream in zip(log_paths(run_dir, job_id), (ctx.out, ctx.err), strict=True):
        FileTail(path, stream).pump(final=True)
    return 0


def find_run_dir(ctx: Context, job_id: str, info: JobInfo | None) -> Path | None:
    """The run directory of ``job_id``: a ``job.json`` naming it under ./hpcflow-runs, or
    next to the job's StdOut file, or under its WorkDir's hpcflow-runs."""
    candidates = _run_dirs(ctx.cwd)
    if info is not None and info.stdout:
        candidates.append(Path(info.stdout).parent)
    if info is not None and info.workdir:
        candidates += _run_dirs(Path(info.workdir))
    return next((c for c in candidates if job_id in chain.job_chain(chain.read_job(c))), None)


def _run_dirs(root: Path) -> list[Path]:
    """Directories holding a job.json under ``root/hpcflow-runs``."""
    return [path.parent for path in sorted((root / RUNS_DIR).glob(f"*/{JOB_FILE}"))]
