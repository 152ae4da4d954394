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


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("app")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.option("--workers", type=click.IntRange(min=1), help="Task processes (default: cores).")
@click.option("--cpus", type=click.IntRange(min=1), help="Cores offered to tasks.")
@click.option("--memory", type=click.FloatRange(min=0.0), help="Memory offered, in GB.")
@click.option("--quiet", is_flag=True, help="No progress line and no summary.")
def run(app: str, args: tuple[str, ...], workers: int | None, cpus: int | None,
        memory: float | None, quiet: bool) -> None:
    """Run APP (a Python script) with its tasks in parallel: APP [-- ARGS]."""
    from hpcflow.runtime.launch import LocalOptions, run_local

    sys.exit(run_local(app, list(args), LocalOptions(workers, cpus, memory, quiet)))
