"""The ``hpcflow`` command line. Commands parse options and call the runtime; no logic."""

from __future__ import annotations

import sys

import click

from hpcflow.errors import HpcflowError


class _Group(click.Group):
    """Turns any HpcflowError into one line on stderr and exit status 2."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except HpcflowError as exc:
            click.echo(f"hpcflow: error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.version_option(package_name="hpcflow")
def main() -> None:
    """Run plain Python scripts with @task functions in parallel, locally or on Slurm."""


_POLICY_HELP = ("Persist finished tasks in the run directory: each at once, every "
                "--checkpoint-interval seconds, or not at all")
_POLICIES = click.Choice(["every", "periodic", "off"])
_CHECKPOINT = click.option("--checkpoint", type=_POLICIES, default="every", show_default=True,
                           help=_POLICY_HELP + ".")
_INTERVAL = click.option("--checkpoint-interval", type=click.FloatRange(min=0.0), default=60.0,
                         show_default=True, help="Seconds between writes with periodic.")
_CONTINUE = click.option("--continue", "continue_run", is_flag=True,
                         help="Near the walltime, submit a continuation job that resumes "
                         "the run (--dependency=afterany:<this job>).")
_MAX_CONT = click.option("--max-continuations", type=click.IntRange(min=0), default=10,
                         show_default=True, help="At most this many continuation jobs.")


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("app", required=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.option("--workers", type=click.IntRange(min=1), help="Task processes (default: cores).")
@click.option("--cpus", type=click.IntRange(min=1), help="Cores offered to tasks.")
@click.option("--memory", type=click.FloatRange(min=0.0), help="Memory offered, in GB.")
@click.option("--quiet", is_flag=True, help="No progress line and no summary.")
@click.option("--run-dir", type=click.Path(file_okay=False),
              help="Write the run's records (events.jsonl, records.jsonl, status.json) here "
              "(default: ./hpcflow-runs/<app>-<time>-<pid>).")
@click.option("--site", help="Site config (name or .toml path) for srun inside an allocation.")
@click.option("--compat", type=click.Choice(["pycompss"]),
              help="Run an unmodified app of another model (its imports map onto hpcflow).")
@click.option("--resume", metavar="RUN", help="Resume RUN (run directory, job id or name): "
              "tasks with a valid checkpoint are restored, not run (APP: the recorded one).")
@_CHECKPOINT
@_INTERVAL
@_CONTINUE
@_MAX_CONT
@click.option("--wall-clock-limit", type=click.FloatRange(min=0, min_open=True),
              metavar="SECONDS", help="Then cancel outstanding tasks, stop the app and "
              "exit with status 124 (outputs of finished tasks are kept).")
def run(app: str | None, args: tuple[str, ...], workers: int | None, cpus: int | None,
        memory: float | None, quiet: bool, run_dir: str | None, site: str | None,
        compat: str | None, resume: str | None, checkpoint: str, checkpoint_interval: float,
        continue_run: bool, max_continuations: int, wall_clock_limit: float | None) -> None:
    """Run APP (a Python script) with its tasks in parallel: APP [-- ARGS].

    Inside a multi-node Slurm allocation the tasks run across its nodes."""
    from hpcflow.agents.prestart import prestart_for_run

    prestart_for_run(app, workers, cpus, compat)  # up while the runtime and app import
    from hpcflow.runtime.launch import RunOptions
    from hpcflow.runtime.launch import run as run_app

    options = RunOptions(workers, cpus, memory, quiet, run_dir, site, compat, resume,
                         checkpoint, checkpoint_interval, continue_run, max_continuations,
                         wall_clock_limit)
    sys.exit(run_app(app, list(args), options))


@main.command()
@click.argument("app", required=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.option("--nodes", "-N", type=int, help="Nodes (one hpcflow agent each); required "
              "unless --resume.")
@click.option("--time", help="Time limit, HH:MM:SS or D-HH:MM:SS (default: the site's).")
@click.option("--partition", help="Slurm partition (default: the site's, else Slurm's).")
@click.option("--account", help="Slurm account to charge.")
@click.option("--qos", help="Slurm quality of service.")
@click.option("--cpus-per-node", type=int, help="CPUs per node (default: the site's).")
@click.option("--mem-per-node", help="Memory per node, e.g. 4000M or 250G.")
@click.option("--site", help="Site name (site-configs/NAME.toml); default: generic or yours.")
@click.option("--site-config", metavar="FILE", help="Site configuration file (TOML).")
@click.option("--job-name", help="Slurm job name (default: hpcflow-<app name>).")
@click.option("--output", metavar="DIR", help="Put the run directory under DIR "
              "(default: ./hpcflow-runs).")
@click.option("--dry-run", is_flag=True, help="Print the batch script; submit nothing.")
@click.option("--wait", is_flag=True, help="Follow the job and exit with the app's status.")
@click.option("--elastic", metavar="MIN:MAX",
              help="Grow and shrink the job between MIN and MAX nodes as work waits or idles.")
@click.option("--idle-timeout", type=float, metavar="SECONDS",
              help="With --elastic: release a node idle this long (default 30).")
@click.option("--resume", metavar="RUN", help="Submit RUN's job script again: the job resumes "
              "the run from its checkpoints.")
@click.option("--checkpoint", type=_POLICIES, help=_POLICY_HELP + " (default: the "
              "site's checkpoint, else every).")
@_CONTINUE
@_MAX_CONT
@click.option("--walltime-lead", type=click.IntRange(min=1), metavar="SECONDS",
              help="Slurm warns the job (SIGUSR1) this long before its time limit "
              "(default: 60, or a quarter of a shorter limit).")
@click.option("--compat", type=click.Choice(["pycompss"]),
              help="Run an unmodified app of another model (as for hpcflow run).")
@click.option("--wall-clock-limit", type=click.FloatRange(min=0, min_open=True),
              metavar="SECONDS", help="As for hpcflow run (the job's --time still applies).")
def submit(app: str, args: tuple[str, ...], **options: object) -> None:
    """Submit APP as a Slurm batch job: APP --nodes N [OPTIONS] [-- ARGS]."""
    from hpcflow.runtime.submit import SubmitRequest, submit_app

    sys.exit(submit_app(SubmitRequest(app=app, args=args, **options)))  # type: ignore[arg-type]


@main.command()
@click.argument("job_id", metavar="[JOBID|RUN_DIR]", required=False)
def status(job_id: str | None) -> None:
    """Your hpcflow jobs in the queue, or the state of job JOBID (tasks per state and per
    node while it runs), or of the run in RUN_DIR."""
    from hpcflow.runtime.submit import show_status

    sys.exit(show_status(job_id))


@main.command()
@click.argument("job_id", metavar="JOBID")
def cancel(job_id: str) -> None:
    """Cancel job JOBID (scancel)."""
    from hpcflow.runtime.submit import cancel_job

    sys.exit(cancel_job(job_id))


@main.command()
@click.argument("job_id", metavar="JOBID")
@click.option("--follow", "-f", is_flag=True, help="Keep printing until the job ends.")
def logs(job_id: str, follow: bool) -> None:
    """Print the output of job JOBID (its slurm-JOBID.out and .err)."""
    from hpcflow.runtime.submit import show_logs

    sys.exit(show_logs(job_id, follow))


_RUN = click.argument("run", metavar="[RUN]", required=False)
_RUN_HELP = ("RUN is a run directory, a Slurm job id or a run's name under ./hpcflow-runs "
             "(default: the newest run there).")


@main.command(epilog=_RUN_HELP)
@_RUN
@click.option("-o", "--output", metavar="FILE",
              help="graph.svg (default, in the run directory), .png, .pdf or .dot.")
@click.option("--max-nodes", type=click.IntRange(min=1), default=150, show_default=True,
              help="Above this many tasks, draw one node per function.")
def graph(run: str | None, output: str | None, max_nodes: int) -> None:
    """Draw the task graph of RUN with Graphviz: tasks coloured by function and state,
    edges labelled by the data they carry."""
    from hpcflow.runtime.artifacts import write_graph

    click.echo(write_graph(run, output, max_nodes))


@main.command(epilog=_RUN_HELP)
@_RUN
@click.option("-o", "--output", metavar="FILE", help="Default: trace.json in the run directory.")
def trace(run: str | None, output: str | None) -> None:
    """Write RUN as a Chrome/Perfetto trace (open it in ui.perfetto.dev): a track per node
    and worker, arrows for dependencies."""
    from hpcflow.runtime.artifacts import write_trace

    click.echo(write_trace(run, output))


@main.command(epilog=_RUN_HELP)
@_RUN
@click.option("-o", "--output", metavar="FILE", help="Default: report.html in the run directory.")
def report(run: str | None, output: str | None) -> None:
    """Write a self-contained HTML report of RUN: timeline, per-function statistics,
    utilisation over time and the critical path."""
    from hpcflow.runtime.artifacts import write_report

    click.echo(write_report(run, output))


@main.command(epilog=_RUN_HELP)
@_RUN
@click.option("-o", "--output", metavar="PATH",
              help="File or directory (default: ro-crate-metadata.json in the run directory).")
def provenance(run: str | None, output: str | None) -> None:
    """Write RUN's provenance as a Workflow Run RO-Crate (ro-crate-metadata.json): app,
    arguments, input and output files with sha256, every task, software versions."""
    from hpcflow.runtime.artifacts import write_provenance

    click.echo(write_provenance(run, output))
