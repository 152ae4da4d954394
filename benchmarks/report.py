"""The Markdown report: results table, ratios, targets, environment and method."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

from benchmarks import in_slurm
from benchmarks import workloads as wl
from benchmarks.results import embed
from benchmarks.systems import REPO, SYSTEMS, System


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    higher_is_better: bool
    workload: str  # where its failures are recorded


METRICS = (
    Metric("w1", "W1 throughput, {w1_tasks:,} no-op tasks", "tasks/s", True, "w1"),
    Metric("w2", "W2 chain of {w2_hops:,} dependent tasks", "µs per hop", False, "w2"),
    Metric("w3", "W3 {w3_leaves:,} x 1 MiB leaves, pairwise sum", "s", False, "w3"),
    Metric("w4", "W4 {w4_tasks} x sleep({w4_sleep}) on 2 workers", "% of ideal", True, "w4"),
    Metric("w5_first", "W5 launch → first task starts", "ms", False, "w5"),
    Metric("w5_exit", "W5 launch → process exits (1 task)", "ms", False, "w5"),
    Metric("w6", "W6 scheduler alone, {w6_tasks:,} tasks on {w6_nodes:,} nodes", "decisions/s",
           True, "w6"),
    Metric("w6_mem", "W6 scheduler alone: peak memory", "KiB per task", False, "w6"),
)
EXTRA_METRICS = (
    Metric("w6_build", "W6 graph build (add_task)", "tasks/s", True, "w6"),
    Metric("w6_loop", "W6 whole event loop (placements + completions)", "tasks/s", True, "w6"),
    Metric("w1_rss", "W1 master RSS growth", "bytes per task", False, "w1"),
    Metric("w3_rss", "W3 master RSS growth", "MiB", False, "w3"),
)
PEER_VERSIONS = ("dask", "distributed", "parsl", "mpi4py", "mpich", "numpy", "cloudpickle")


@dataclass(frozen=True)
class Meta:
    command: str
    started: float
    wall: float
    reps: int
    quick: bool
    sizes: wl.Sizes
    systems: list[System]
    workloads: list[str]
    env: dict[str, str] = field(default_factory=dict)  # environment() when the run began

    def to_dict(self) -> dict[str, Any]:
        return {"command": self.command, "started": self.started, "wall": self.wall,
                "reps": self.reps, "quick": self.quick, "sizes": asdict(self.sizes),
                "systems": [s.name for s in self.systems], "workloads": self.workloads,
                "env": self.env}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Meta:
        return cls(data["command"], data["started"], data["wall"], data["reps"],
                   data["quick"], wl.Sizes(**data["sizes"]),
                   [SYSTEMS[name] for name in data["systems"]], data["workloads"],
                   data["env"])


# -- formatting -----------------------------------------------------------------------------
def num(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def cell(values: list[float], reps: int, failure: str | None) -> str:
    if not values:
        return failure or "—"
    text = num(statistics.median(values))
    if len(values) > 1:
        text += f" ({num(min(values))}-{num(max(values))})"
    if len(values) < reps:
        text += f" n={len(values)}"
    if failure:
        text += f" ⚠ {failure}"
    return text


def median(results: Any, system: str, metric: str) -> float | None:
    values = results.values.get((system, metric))
    return statistics.median(values) if values else None


def advantage(metric: Metric, ours: float, theirs: float) -> float:
    """How many times better hpcflow is (> 1: hpcflow better)."""
    if metric.higher_is_better:
        return ours / theirs if theirs else float("inf")
    return theirs / ours if ours else float("inf")


def ratio_text(r: float) -> str:
    return f"{r:.2f}x" if r < 10 else f"{r:.0f}x"


# -- environment ----------------------------------------------------------------------------
def git_sha() -> str:
    try:
        sha = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"],
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--",
                                "hpcflow"], capture_output=True, text=True).stdout.strip()
        return sha + (" (hpcflow/ has uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


def cpu_model() -> str:
    from hpcflow.agents.local import processor_type

    return processor_type()


def memory_gib() -> float:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


def version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def environment() -> dict[str, str]:
    """Machine and versions, taken when the run begins."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    versions = [f"Python {platform.python_version()}", f"hpcflow {git_sha()}"]
    versions += [f"{p} {version(p)}" for p in PEER_VERSIONS]
    env = {"machine": f"{cpu_model()}, {os.cpu_count()} cores ({affinity} usable), "
                      f"{memory_gib():.0f} GiB RAM, {platform.system()} {platform.release()}",
           "versions": ", ".join(versions), "python": sys.executable}
    slurm = in_slurm.allocation(os.environ)
    if slurm:
        env["slurm"] = slurm
    return env


# -- targets ----------------------------------------------------------------------------------
def targets(results: Any) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) for each target of the issue. A verdict that the
    min-max ranges could flip is marked as not settled."""
    def m(system: str, metric: str) -> float | None:
        return median(results, system, metric)

    def ends(system: str, metric: str) -> tuple[float, float]:
        values = results.values[(system, metric)]
        return min(values), max(values)

    rows: list[tuple[str, str, str]] = []

    def check(target: str, ok: bool | None, measured: str, settled: bool = True) -> None:
        verdict = "not measured" if ok is None else ("**meets**" if ok else "**misses**")
        if ok is not None and not settled:
            verdict += " (not settled: the min-max ranges straddle the target)"
        rows.append((target, measured, verdict))

    def vs(metric: str, peer: str, label: str, ok: Any, target: str, unit: str) -> None:
        ours, theirs = m("hpcflow", metric), m(peer, metric)
        if ours is None or theirs is None:
            check(target, None, f"hpcflow {_maybe(ours)}, {label} {_maybe(theirs)}")
            return
        outcomes = {ok(o, t) for o in ends("hpcflow", metric) for t in ends(peer, metric)}
        check(target, ok(ours, theirs),
              f"hpcflow {num(ours)} vs {label} {num(theirs)} {unit} "
              f"(hpcflow needs {ok.need(theirs)})", len(outcomes) == 1)

    vs("w1", "dask", "Dask", _Rule(lambda o, t: o >= 10 * t, lambda t: f"≥ {num(10 * t)}"),
       "W1 ≥ 10x Dask tasks/s", "tasks/s")
    vs("w1", "parsl", "Parsl", _Rule(lambda o, t: o >= 10 * t, lambda t: f"≥ {num(10 * t)}"),
       "W1 ≥ 10x Parsl tasks/s", "tasks/s")
    vs("w1", "processpool", "ProcessPool", _Rule(lambda o, t: o >= t, lambda t: f"≥ {num(t)}"),
       "W1 ≥ ProcessPoolExecutor's tasks/s", "tasks/s")
    vs("w2", "dask", "Dask", _Rule(lambda o, t: o <= t / 10, lambda t: f"≤ {num(t / 10)}"),
       "W2 hop ≤ 1/10 of Dask's", "µs")
    vs("w2", "processpool", "ProcessPool",
       _Rule(lambda o, t: o <= 2 * t, lambda t: f"≤ {num(2 * t)}"),
       "W2 hop ≤ 2x ProcessPoolExecutor's", "µs")
    ours = m("hpcflow", "w3")
    peers = {p: m(p, "w3") for p in ("processpool", "dask", "parsl", "mpi4py-futures",
                                     "raw-mpi")}
    peers = {p: v for p, v in peers.items() if v is not None}
    if ours is None or not peers:
        check("W3 no worse than the best peer", None, f"hpcflow {_maybe(ours)}")
    else:
        best = min(peers, key=peers.__getitem__)
        outcomes = {o <= t for o in ends("hpcflow", "w3") for t in ends(best, "w3")}
        check("W3 no worse than the best peer", ours <= peers[best],
              f"hpcflow {num(ours)} s vs best peer ({best}) {num(peers[best])} s",
              len(outcomes) == 1)
    for target, metric, ok, unit in (
            ("W4 efficiency ≥ 97%", "w4", lambda v: v >= 97.0, "%"),
            ("W5 first task < 0.5 s after launch", "w5_first", lambda v: v < 500.0, "ms"),
            ("W6 ≥ 100,000 decisions/s", "w6", lambda v: v >= 100_000, "decisions/s"),
            ("W6 ≤ 2 KB master memory per task", "w6_mem", lambda v: v <= 2.0, "KiB/task")):
        value = m("hpcflow", metric)
        note = ""
        if metric == "w6" and m("hpcflow", "w6_loop") is not None:
            note = (" in `place()`; the whole loop with completions placed "
                    f"{num(m('hpcflow', 'w6_loop'))} tasks/s")
        if metric == "w6_mem" and m("hpcflow", "w1_rss") is not None:
            note = (" (graph and ledgers only; the whole master grew "
                    f"{num(m('hpcflow', 'w1_rss') / 1024)} KiB per task in W1)")
        if value is None:
            check(target, None, "hpcflow not measured")
        else:
            lo, hi = ends("hpcflow", metric)
            check(target, ok(value), f"hpcflow {num(value)} {unit}{note}", ok(lo) == ok(hi))
    return rows


@dataclass(frozen=True)
class _Rule:
    test: Any
    need: Any

    def __call__(self, ours: float, theirs: float) -> bool:
        return bool(self.test(ours, theirs))


def _maybe(value: float | None) -> str:
    return "not measured" if value is None else num(value)


# -- the document -----------------------------------------------------------------------------
def render(results: Any, meta: Meta, before: tuple[Any, Meta] | None = None) -> str:
    names = [s.name for s in meta.systems]
    labels = {s.name: s.label for s in meta.systems}
    when = datetime.datetime.fromtimestamp(meta.started, datetime.UTC)
    lines: list[str] = []
    add = lines.append
    add("# Performance: hpcflow against its peers")
    add("")
    add("Generated by `python -m benchmarks.run` (benchmarks/); rerun it rather than editing "
        "this file. Every number below comes from one run of the suite on one machine.")
    if meta.quick:
        add("")
        add("> **--quick run**: reduced sizes, a smoke test of the suite. Do not compare these "
            "numbers with the targets.")
    add("")
    add("## Results")
    add("")
    add(f"- **Date**: {when:%Y-%m-%d %H:%M} UTC; the suite took {meta.wall / 60:.1f} min.")
    add(f"- **Command**: `{meta.command}`")
    env = meta.env or environment()
    add(f"- **Machine**: {env['machine']}.")
    if env.get("slurm"):
        add(f"- **Inside Slurm**: {env['slurm']} (`--sbatch`).")
    if results.background:
        bg = results.background
        busy = sum(1 for b in bg if b > 10.0)
        add(f"- **Background load** (CPU busy in 0.1 s sampled before each of {len(bg)} "
            f"launches, while the suite ran nothing): median {statistics.median(bg):.0f}%, "
            f"max {max(bg):.0f}%; {busy} sample(s) above 10%"
            + (" - other processes shared the machine, expect noise." if busy else "."))
    add(f"- **Versions**: {env['versions']}.")
    if results.hpcflow_from:
        add("- **hpcflow measured**: the package in " + ", ".join(
            f"`{p}`" for p in sorted(results.hpcflow_from)) + " (as imported by the apps).")
    add(f"- **Sizes**: `{meta.sizes.to_json()}`; 2 workers for every system.")
    add(f"- **Reps**: {meta.reps} per cell unless the cell says `n=`; a cell is "
        "`median (min-max)`.")
    add("")
    header = "| workload | unit | better | " + " | ".join(labels[n] for n in names) + " |"
    add(header)
    add("|" + "---|" * (3 + len(names)))
    for metric in METRICS:
        if metric.workload not in meta.workloads:
            continue
        row = [metric.label.format(**asdict(meta.sizes)), metric.unit,
               "higher" if metric.higher_is_better else "lower"]
        for name in names:
            if name in results.unavailable:
                row.append(results.unavailable[name].split(" (")[0])
            elif metric.workload == "w6" and name != "hpcflow":
                row.append("n/a")
            elif (name, metric.key) in results.stopped:
                limit = results.stopped[(name, metric.key)]
                row.append(f"> {num(limit)} (stopped at the limit, n=1)")
            else:
                row.append(cell(results.values.get((name, metric.key), []), meta.reps,
                                results.failures.get((name, metric.workload))))
        add("| " + " | ".join(row) + " |")
    add("")
    for name, reason in results.unavailable.items():
        add(f"- {labels[name]}: {reason}.")
    capped = [f"{s.label} {w.upper()}: {n} rep(s)" for s in meta.systems
              for w, n in s.max_reps.items() if not meta.quick and n < meta.reps
              and s.name not in results.unavailable and w in meta.workloads]
    if capped:
        add("- Fewer reps for slow peers (to keep the suite near 15 min): "
            + "; ".join(capped) + ".")
    for (name, workload), limit in results.stopped.items():
        add(f"- {labels.get(name, name)} {workload.upper()} was stopped after {limit:.0f} s "
            "in its first rep and not repeated (a known-slow cell, kept short to bound the "
            "suite): its figure is a lower bound.")
    add("")
    raw: dict[str, Any] = {"meta": meta.to_dict(), "results": results.to_dict()}
    if before is not None:
        from benchmarks.compare import before_after  # it imports this module

        before_after(lines, results, meta, *before)
        raw["before"] = {"meta": before[1].to_dict(), "results": before[0].to_dict()}
    _ratios(lines, results, meta, names, labels)
    _extras(lines, results, meta)
    _targets(lines, results, meta)
    _reproduce(lines, meta)
    _method(lines, meta)
    add(embed(raw))
    return "\n".join(lines).rstrip() + "\n"


def _ratios(lines: list[str], results: Any, meta: Meta, names: list[str],
            labels: dict[str, str]) -> None:
    peers = [n for n in names if n != "hpcflow" and n not in results.unavailable]
    if "hpcflow" not in names or not peers:
        return
    add = lines.append
    add("### hpcflow against each peer")
    add("")
    add("How many times better hpcflow is (medians; > 1 means hpcflow is better, < 1 that "
        "the peer is; for W1 and W4 the ratio of the figures, for the times their inverse).")
    add("")
    add("| workload | " + " | ".join(labels[p] for p in peers) + " |")
    add("|" + "---|" * (1 + len(peers)))
    for metric in METRICS:
        if metric.workload == "w6" or metric.workload not in meta.workloads:
            continue
        ours = median(results, "hpcflow", metric.key)
        row = [metric.label.format(**asdict(meta.sizes))]
        for peer in peers:
            theirs = median(results, peer, metric.key)
            bound = results.stopped.get((peer, metric.key))
            if ours is not None and theirs is None and bound is not None:
                row.append("> " + ratio_text(advantage(metric, ours, bound)))
            else:
                row.append("—" if ours is None or theirs is None
                           else ratio_text(advantage(metric, ours, theirs)))
        add("| " + " | ".join(row) + " |")
    add("")


def _extras(lines: list[str], results: Any, meta: Meta) -> None:
    add = lines.append
    rows = [(m, results.values.get(("hpcflow", m.key), [])) for m in EXTRA_METRICS]
    rows = [(m, v) for m, v in rows if v]
    if not rows and not results.w6_info:
        return
    add("### hpcflow only: memory and the scheduler at scale")
    add("")
    add("| figure | unit | hpcflow |")
    add("|---|---|---|")
    for metric, values in rows:
        add(f"| {metric.label} | {metric.unit} | {cell(values, meta.reps, None)} |")
    add("")
    for info in results.w6_info[:1]:
        state = ("all of them completed" if info["complete"] else
                 f"the {info['loop_s']:.0f} s budget ran out after {info['placed']:,} "
                 f"placements and {info['done']:,} completions")
        add(f"W6 (first rep): {info['tasks']:,} tasks on {info['nodes']:,} nodes of 128 "
            f"cores; {state}. Decisions/s = placements per second spent in `place()` "
            "(building the candidates included); the whole loop, completions included, "
            f"placed {info.get('loop_rate', info['value']):,.0f} tasks/s. The "
            "memory figure is the peak RSS growth of the process over the whole graph.")
        add("")


def _targets(lines: list[str], results: Any, meta: Meta) -> None:
    add = lines.append
    rows = targets(results)
    add("## What the numbers say")
    add("")
    if meta.quick:
        add("(A --quick run: the verdicts below are for the reduced sizes only.)")
        add("")
    met = [t for t, _, v in rows if v.startswith("**meets**")]
    missed = [t for t, _, v in rows if v.startswith("**misses**")]
    unsettled = [t for t, _, v in rows if "not settled" in v]
    unmeasured = [t for t, _, v in rows if v == "not measured"]
    add(f"Against the targets of the performance issue, hpcflow today **meets {len(met)}** "
        f"and **misses {len(missed)}** of {len(rows)}"
        + (f" ({len(unmeasured)} not measured in this run)" if unmeasured else "") + ".")
    add("")
    add("| target | measured (medians) | verdict |")
    add("|---|---|---|")
    for target, measured, verdict in rows:
        add(f"| {target} | {measured} | {verdict} |")
    add("")
    if unsettled:
        add(f"{len(unsettled)} verdict(s) could go either way within the spread of the reps "
            "(" + "; ".join(unsettled) + "): rerun on a quiet machine, or with more reps, "
            "before relying on them.")
        add("")
    if missed:
        add("Missed: " + "; ".join(missed) + ".")
        add("")
    if met:
        add("Met: " + "; ".join(met) + ".")
        add("")
    notes = observations(results, meta)
    if notes:
        add("Also measured:")
        add("")
        lines.extend(f"- {note}" for note in notes)
        add("")


def observations(results: Any, meta: Meta) -> list[str]:
    """Facts the targets do not cover, stated only when the numbers show them."""
    notes = []
    grew = median(results, "hpcflow", "w3_rss")
    if grew is not None:
        produced = 2 * meta.sizes.w3_leaves - 1
        notes.append(f"W3: the hpcflow master's resident memory grew by {num(grew)} MiB for "
                     f"{produced:,} task results of 1 MiB each ({grew / produced:.2f} MiB per "
                     "result)" + ("; results stay in the master after their last reader has "
                                  "finished." if grew > 0.5 * produced else
                                  "; this counts values still waiting for the checkpoint "
                                  "writer and up to 128 MiB of freed heap each process keeps "
                                  "for reuse (hpcflow/agents/malloc.py)."))
    per_task = median(results, "hpcflow", "w1_rss")
    if per_task is not None:
        notes.append(f"W1: the hpcflow master grew by {num(per_task)} bytes per finished "
                     "no-op task.")
    for info in results.w6_info[:1]:
        if not info["complete"]:
            notes.append(f"W6 did not finish within its {info['loop_s']:.0f} s budget on "
                         f"{info['nodes']:,} nodes: {info['placed']:,} of {info['tasks']:,} "
                         "tasks placed, so its rate is that of the start of the run.")
    walls = [(s.label, median(results, s.name, "w5_first")) for s in meta.systems]
    walls = [(label, v) for label, v in walls if v is not None]
    if len(walls) > 1:
        fastest = min(walls, key=lambda item: item[1])
        notes.append(f"W5: the fastest start to a first task is {fastest[0]}'s "
                     f"({num(fastest[1])} ms).")
    return notes


def _reproduce(lines: list[str], meta: Meta) -> None:
    add = lines.append
    add("## How to reproduce")
    add("")
    add("```bash")
    add("pip install -e '.[bench]'        # dask[distributed], parsl, numpy, mpi4py, mpich")
    add("python -m benchmarks.run         # full suite, 3 reps, ~15 min on 2 cores, "
        "writes docs/performance.md")
    add("python -m benchmarks.run --quick --systems hpcflow,processpool --reps 1 "
        "--out /tmp/perf.md   # smoke run")
    add("python -m benchmarks.run --systems hpcflow,dask --workloads w1,w2 --reps 5")
    add("python -m benchmarks.run --sbatch --sbatch-option=--partition=P   # the same suite "
        "as one batch job on one whole node of a Slurm cluster, waited for")
    add("```")
    add("")
    add("`tests/behaviour/test_benchmarks.py` runs the smoke run and checks the report. "
        "Single measurements can be run by hand (from the repository root, with "
        "`PYTHONPATH=.`), e.g. "
        "`hpcflow run --quiet --workers 2 benchmarks/hpcflow_app.py -- w1 "
        "\"$(python -c 'from benchmarks.workloads import FULL; print(FULL.to_json())')\"`.")
    add("")


def _method(lines: list[str], meta: Meta) -> None:
    add = lines.append
    add("## Method")
    add("")
    add("Same task bodies for every system (`benchmarks/workloads.py`), 2 workers each, one "
        "submit call per task (no map or batching API), one subprocess per measurement "
        "with a time-out; a system that is not installed, fails or times out is reported "
        "in its cell. Bytecode caches are written beforehand for hpcflow and the suite, as "
        "pip wrote them for the peers. Every system runs with its defaults (hpcflow writes "
        "its run directory with events and records), in a scratch working directory.")
    add("")
    sz = meta.sizes
    ideal = sz.w4_tasks * sz.w4_sleep / wl.WORKERS
    add(f"- **W1 throughput**: submit {sz.w1_tasks:,} `noop(i)` then gather all; tasks/s.")
    add(f"- **W2 chain**: {sz.w2_hops:,} `inc` tasks, each taking the previous result; µs "
        "per hop. Systems with data flow (hpcflow, Dask, Parsl) get the whole chain of "
        "futures at once; the pools and raw MPI wait for each hop in the caller.")
    add(f"- **W3 data**: {sz.w3_leaves:,} `leaf(i)` tasks each returning a 1 MiB float64 "
        "array, summed pairwise by `add(a, b)` tasks down to one array (checked); wall "
        "seconds. Data-flow systems build the balanced tree of futures; the pools and raw "
        "MPI pair results as they arrive (every array goes through the caller).")
    add(f"- **W4 efficiency**: {sz.w4_tasks} x `time.sleep({sz.w4_sleep})` on 2 workers; "
        f"ideal {ideal:g} s / measured.")
    add("- W1-W4 are timed by the app itself after a warm-up of 4 x `sleep(0.1)` tasks, so "
        "start-up and teardown stay outside. Dask and Parsl run W1, W2, W4, W3 of one rep "
        "in one process (their start-up is seconds); every other system gets a fresh "
        "process per workload and rep.")
    add("- **W5 start-up**: the driver notes `time.time()`, launches the 1-task script "
        "(`hpcflow run` of a 1-task app; for peers a script that builds the executor or "
        "cluster, runs one task and shuts down); the task writes `time.time()` to a file. "
        "First task = that stamp - launch; exit = process end - launch (imports included).")
    add("- **W6 scheduler alone** (hpcflow only, `benchmarks/scheduler_scale.py`): the pure "
        "`TaskGraph` and `place()` layers, no processes. A layered graph (each task reads "
        "two outputs of the previous layer; a layer is 1% of the tasks) is built with "
        "`add_task`, then driven as the master does, one event at a time: place all ready "
        "tasks on the `NodeLedger`s (with the master's locality map), complete the oldest "
        "running task (`release`, `finish`, `commit`), repeat. The loop stops after the "
        f"budget ({meta.sizes.w6_budget:.0f} s) if it has not finished. Decisions/s = "
        "tasks placed per second spent in `place()` (building the candidates with their "
        "locality included); the whole-loop rate (placements and completions) is reported "
        "beside it. Memory: peak RSS growth (`getrusage`) per task of the graph.")
    add("")
    add("| system | configuration | launched as |")
    add("|---|---|---|")
    for system in meta.systems:
        add(f"| {system.label} | {system.description} | `{system.launch}` |")
    add("")
    add("Versions of everything in the interpreter: `pip list`; this report lists those "
        "that matter. The interpreter was `" + (meta.env or environment())["python"] + "`.")
    add("")
