"""``hpcflow graph``, ``trace``, ``report`` and ``provenance``: read a run's event log, hand
it to the pure :mod:`hpcflow.observe` functions and write what they return."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from hpcflow.errors import HpcflowError, SlurmCommandError, UsageError
from hpcflow.observe.crate import METADATA_FILE, FileFacts, Software, build_crate, run_files
from hpcflow.observe.model import RunModel, build_model
from hpcflow.observe.report import render_report
from hpcflow.observe.taskgraph import MAX_NODES, build_graph, to_dot
from hpcflow.observe.trace import chrome_trace
from hpcflow.runtime.events import read_events
from hpcflow.runtime.live import EVENTS_FILE
from hpcflow.runtime.rundir import module_distributions, software_versions
from hpcflow.runtime.submit import RUNS_DIR, Context, find_run_dir
from hpcflow.slurm.parse import JobInfo

#: Formats ``hpcflow graph`` asks Graphviz's ``dot`` for (``.dot`` is written directly).
GRAPHVIZ_FORMATS = ("svg", "png", "pdf")
#: Other files of a run directory that go into its RO-Crate.
RUN_FILES = (EVENTS_FILE, "records.jsonl", "status.json", "job.json")
DOT_TIMEOUT = 300.0
_CHUNK = 1 << 20


def resolve_run(run: str | None, ctx: Context | None = None) -> Path:
    """The run directory RUN names: a directory, a run under ./hpcflow-runs, a Slurm job
    id (its job.json under ./hpcflow-runs, else where Slurm says its logs are), or, if
    None, the newest run under ./hpcflow-runs."""
    ctx = ctx or Context.from_process()
    runs = ctx.cwd / RUNS_DIR
    if run is None:
        found = sorted(runs.glob(f"*/{EVENTS_FILE}"), key=lambda p: p.stat().st_mtime)
        if not found:
            raise UsageError(f"no runs under {runs}: give a run directory")
        return found[-1].parent
    for candidate in (ctx.cwd / run, runs / run):
        if candidate.is_dir():
            return candidate
    if not run.isdigit():
        raise UsageError(f"{run!r} is neither a run directory nor a job id")
    found_dir = find_run_dir(ctx, run, None) or find_run_dir(ctx, run, _job_info(ctx, run))
    if found_dir is None:
        raise UsageError(f"no run directory of job {run} under {runs} (nor where Slurm "
                         "says its logs are)")
    return found_dir


def _job_info(ctx: Context, job_id: str) -> JobInfo | None:
    """What Slurm knows of a job; None without Slurm or when it forgot the job."""
    try:
        return ctx.client.job_info(job_id) or ctx.client.accounting_info(job_id)
    except SlurmCommandError:
        return None


def load_run(run_dir: Path) -> RunModel:
    """The model of a run directory's event log."""
    path = run_dir / EVENTS_FILE
    if not path.is_file():
        raise UsageError(f"{run_dir} has no {EVENTS_FILE}: not a run directory of hpcflow")
    return build_model(read_events(str(path)))


def _output(run_dir: Path, output: str | None, default: str) -> Path:
    return Path(output) if output else run_dir / default


def write_graph(run: str | None, output: str | None = None, max_nodes: int = MAX_NODES,
                ctx: Context | None = None) -> Path:
    """Draw the task graph to ``output`` (.dot, .svg, .png or .pdf; default graph.svg)."""
    run_dir = resolve_run(run, ctx)
    path = _output(run_dir, output, "graph.svg")
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in ("dot", "gv", *GRAPHVIZ_FORMATS):
        raise UsageError(f"cannot draw {path.name}: use .dot, .svg, .png or .pdf")
    model = load_run(run_dir)
    dot = to_dot(build_graph(model, max_nodes), title=_title(model, run_dir))
    if fmt in ("dot", "gv"):
        path.write_text(dot, encoding="utf-8")
    else:
        path.write_bytes(graphviz(dot, fmt))
    return path


def _title(model: RunModel, run_dir: Path) -> str:
    return f"{os.path.basename(model.run.app or 'app')} — {run_dir.name}"


def graphviz(dot: str, fmt: str) -> bytes:
    """Render DOT text with Graphviz's ``dot -T<fmt>``."""
    if shutil.which("dot") is None:
        raise UsageError("Graphviz's dot is not installed (apt-get install graphviz); "
                         "write the graph with -o graph.dot instead")
    done = subprocess.run(["dot", f"-T{fmt}"], input=dot.encode(), capture_output=True,
                          timeout=DOT_TIMEOUT, check=False)
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()
        raise HpcflowError(f"dot -T{fmt} failed (exit {done.returncode}): "
                           f"{reason[-1] if reason else 'no output'}")
    return done.stdout


def write_trace(run: str | None, output: str | None = None, ctx: Context | None = None) -> Path:
    """Write the Chrome/Perfetto trace (default trace.json in the run directory)."""
    run_dir = resolve_run(run, ctx)
    path = _output(run_dir, output, "trace.json")
    path.write_text(json.dumps(chrome_trace(load_run(run_dir)), separators=(",", ":")),
                    encoding="utf-8")
    return path


def write_report(run: str | None, output: str | None = None, ctx: Context | None = None) -> Path:
    """Write the HTML report (default report.html in the run directory)."""
    run_dir = resolve_run(run, ctx)
    path = _output(run_dir, output, "report.html")
    model = load_run(run_dir)
    path.write_text(render_report(model, title=_title(model, run_dir)), encoding="utf-8")
    return path


def write_provenance(run: str | None, output: str | None = None,
                     ctx: Context | None = None) -> Path:
    """Write the run's RO-Crate metadata (default ro-crate-metadata.json in the run
    directory; ``output`` may be a directory), hashing its input and output files."""
    run_dir = resolve_run(run, ctx)
    path = _output(run_dir, output, METADATA_FILE)
    if path.is_dir():
        path = path / METADATA_FILE
    model = load_run(run_dir)
    inputs, outputs = run_files(model)
    paths = [*inputs, *outputs] + ([model.run.app] if model.run.app else [])
    parts = [describe(str(run_dir / name)) for name in RUN_FILES if (run_dir / name).exists()]
    crate = build_crate(model, {p: describe(p) for p in paths}, run_software(model),
                        root=str(path.parent.resolve()), parts=parts, created=time.time())
    path.write_text(json.dumps(crate, indent=1) + "\n", encoding="utf-8")
    return path


def describe(path: str) -> FileFacts:
    """Size and sha256 of a file as it is now (a directory: no hash; missing: nothing)."""
    if os.path.isdir(path):
        return FileFacts(os.path.abspath(path), directory=True)
    try:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
        return FileFacts(os.path.abspath(path), os.path.getsize(path), digest.hexdigest())
    except OSError:
        return FileFacts(os.path.abspath(path))


def run_software(model: RunModel) -> list[Software]:
    """Python and hpcflow as the run recorded them (else as installed here), then the
    installed versions of the packages the run had imported."""
    recorded = dict(model.run.software) or software_versions()
    found = [Software("python", recorded.get("python", "unknown"), "https://www.python.org/"),
             Software("hpcflow", recorded.get("hpcflow", "unknown"))]
    return found + _packages(m for m in model.run.modules if m != "hpcflow")


def _packages(modules: Iterable[str]) -> list[Software]:
    return [Software(name, version, f"https://pypi.org/project/{name}/")
            for name, version in module_distributions(modules).items() if name != "hpcflow"]
