"""``python -m benchmarks.run --sbatch``: the same suite inside a Slurm allocation.

The suite is submitted as one batch job on one whole node (``--exclusive``, like the
machine a local run gets) and waited for; inside it every system runs exactly as it does
on a workstation, and the report says which job and node it ran on.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

OWN_FLAGS = ("--sbatch", "--sbatch-option")


def inner_argv(argv: Sequence[str], out: Path) -> list[str]:
    """The suite's own arguments without the ``--sbatch*`` ones, and ``--out`` absolute
    (the job runs in the repository, not where it was submitted from)."""
    inner: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--sbatch-option":
            skip = True
        elif arg == "--sbatch" or arg.startswith("--sbatch-option="):
            continue
        elif arg == "--out" or arg.startswith("--out="):
            skip = arg == "--out"
        else:
            inner.append(arg)
    return [*inner, "--out", str(out.resolve())]


def sbatch_argv(python: str, repo: Path, inner: Sequence[str], out: Path,
                options: Sequence[str] = ()) -> list[str]:
    """The ``sbatch --wait`` command that runs the suite on one exclusive node; the
    job's log goes next to the report."""
    command = shlex.join([python, "-m", "benchmarks.run", *inner])
    log = out.resolve().parent / f"{out.stem}.slurm-%j.log"
    return ["sbatch", "--wait", "--parsable", "--job-name=hpcflow-bench", "--nodes=1",
            "--ntasks=1", "--exclusive", f"--chdir={repo}", f"--output={log}", *options,
            "--wrap", command]


def allocation(env: Mapping[str, str]) -> str:
    """'job N on NODE (C CPUs)' inside an allocation, else ''."""
    job = env.get("SLURM_JOB_ID")
    if not job:
        return ""
    node = env.get("SLURMD_NODENAME") or env.get("SLURM_NODELIST") or "?"
    cpus = env.get("SLURM_CPUS_ON_NODE")
    return f"job {job} on {node}" + (f" ({cpus} CPUs)" if cpus else "")
