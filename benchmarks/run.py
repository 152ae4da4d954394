"""Run the benchmark suite and write the Markdown report.

    python -m benchmarks.run [--quick] [--systems hpcflow,processpool,dask,parsl,
        mpi4py-futures,raw-mpi] [--reps N] [--out docs/performance.md] [--workloads w1,...]
        [--sbatch [--sbatch-option=--partition=P ...]]

Every measurement runs in its own subprocess with a time-out: hpcflow as an app under
``hpcflow run --quiet --workers 2`` (one app per workload and rep), each peer as a script
that builds its executor, warms it up and times itself (Dask and Parsl run W1-W4 of one
rep in one process, their start-up being seconds). W5 is timed from outside: launch to
the first task's own timestamp, and launch to exit. W6 runs hpcflow's scheduler layers
alone (benchmarks/scheduler_scale.py). A system that is missing, fails or times out is
reported as such; the suite itself does not fail. With ``--sbatch`` the same suite runs
as one Slurm batch job on one whole node (benchmarks/in_slurm.py).
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks import in_slurm, report
from benchmarks import workloads as wl
from benchmarks.results import Results, extract
from benchmarks.systems import REPO, SYSTEMS, System

TIMED = ("w1", "w2", "w4", "w3")  # the order within a grouped process: the heaviest last
ALL_WORKLOADS = ("w1", "w2", "w3", "w4", "w5", "w6")
TIMEOUTS_FULL = {"w1": 240.0, "w2": 120.0, "w3": 420.0, "w4": 120.0, "w5": 120.0}
TIMEOUTS_QUICK = {"w1": 60.0, "w2": 60.0, "w3": 60.0, "w4": 60.0, "w5": 60.0}
STARTUP_ALLOWANCE = 90.0  # per process, on top of the workloads' own time-outs
LIMIT_ALLOWANCE = 20.0  # start-up and warm-up allowed on top of a System.limits entry


@dataclass(frozen=True)
class Outcome:
    returncode: int | None  # None: timed out
    stdout: str
    stderr: str
    started: float  # time.time() just before the process was created
    ended: float  # time.time() once it had exited

    def problem(self, timeout: float) -> str:
        if self.returncode is None:
            return f"timeout (> {timeout:.0f} s)"
        if self.returncode == 0:
            return ""
        lines = [ln.strip() for ln in self.stderr.splitlines() if ln.strip()]
        last = lines[-1][:140] if lines else "no output"
        return f"failed (exit {self.returncode}: {last})"


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # peers come with .pyc files; so does hpcflow
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def busy_percent(seconds: float = 0.1) -> float:
    """How busy every CPU of the machine is over ``seconds`` (from /proc/stat; -1 if not
    readable). Sampled while the suite runs nothing, it is other people's load."""
    def sample() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = [int(x) for x in fh.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields[:8]), idle

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return -1.0
    total = total1 - total0
    return 100.0 * (total - (idle1 - idle0)) / total if total > 0 else 0.0


BACKGROUND: list[float] = []


WORKDIR: list[str] = []  # the scratch directory children run in (run dirs land there)


def launch(argv: list[str], timeout: float) -> Outcome:
    """Run ``argv`` in its own session; on time-out kill the whole process group. The
    machine's background load is sampled first (see ``busy_percent``)."""
    BACKGROUND.append(busy_percent())
    env = child_env()
    cwd = WORKDIR[-1] if WORKDIR else str(REPO)
    started = time.time()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        code = None
    return Outcome(code, out, err, started, time.time())


def precompile() -> None:
    """Write the bytecode of hpcflow and the benchmarks, as pip did for the peers, so no
    measurement pays for compiling sources (PYTHONDONTWRITEBYTECODE may be set)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "hpcflow"),
                    str(REPO / "benchmarks")], env=child_env(), check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def log(message: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


class Suite:
    def __init__(self, systems: list[System], workloads: list[str], reps: int, quick: bool):
        self.systems = systems
        self.workloads = workloads
        self.reps = reps
        self.quick = quick
        self.sizes = wl.QUICK if quick else wl.FULL
        self.timeouts = TIMEOUTS_QUICK if quick else TIMEOUTS_FULL
        self.results = Results()
        BACKGROUND.clear()

    def reps_for(self, system: System, workload: str) -> int:
        cap = self.reps if self.quick else system.max_reps.get(workload, self.reps)
        return min(self.reps, cap)

    def run(self) -> Results:
        """Measure everything, in a scratch directory that is removed afterwards (hpcflow
        and the peers leave run directories and logs in their working directory)."""
        with tempfile.TemporaryDirectory(prefix="hpcflow-bench-") as scratch:
            WORKDIR.append(scratch)
            try:
                return self._run()
            finally:
                WORKDIR.pop()

    def _run(self) -> Results:
        precompile()
        active = []
        for system in self.systems:
            reason = system.missing()
            if reason:
                self.results.unavailable[system.name] = reason
                log(f"{system.name}: {reason}")
            else:
                active.append(system)
        timed = [w for w in TIMED if w in self.workloads]
        for rep in range(self.reps):
            for system in active:
                todo = [w for w in timed if rep < self.reps_for(system, w)
                        and not self.results.failed(system.name, w)]
                batches = [todo] if system.grouped else [[w] for w in todo]
                if system.grouped:  # a workload with a limit runs on its own
                    batches = [[w for w in todo if w not in system.limits]] + \
                        [[w] for w in todo if w in system.limits]
                for batch in batches:
                    if batch:
                        self.timed_batch(system, batch, rep)
        if "w5" in self.workloads:
            for rep in range(self.reps):
                for system in active:
                    if not self.results.failed(system.name, "w5"):
                        self.startup(system, rep)
        if "w6" in self.workloads and any(s.name == "hpcflow" for s in active):
            for rep in range(self.reps):
                if not self.results.failed("hpcflow", "w6"):
                    self.scheduler(rep)
        self.results.background = [b for b in BACKGROUND if b >= 0]
        return self.results

    def timed_batch(self, system: System, batch: list[str], rep: int) -> None:
        limit = system.limits.get(batch[0]) if len(batch) == 1 and not self.quick else None
        if limit is not None:  # a known-slow cell: stop it, report a lower bound
            timeout = limit + LIMIT_ALLOWANCE
        else:
            timeout = sum(self.timeouts[w] for w in batch) + STARTUP_ALLOWANCE
        outcome = launch(system.argv(batch, self.sizes.to_json()), timeout)
        if limit is not None and outcome.returncode is None:
            self.results.stopped[(system.name, batch[0])] = limit
            self.results.failures[(system.name, batch[0])] = f"stopped at {limit:.0f} s"
            log(f"{system.name} {batch[0]} rep {rep + 1}: stopped after > {limit:.0f} s")
            return
        seen = set()
        for result in wl.parse_results(outcome.stdout):
            workload = result["workload"]
            seen.add(workload)
            if "hpcflow_from" in result:
                self.results.hpcflow_from.add(result["hpcflow_from"])
            self.results.add(system.name, workload, result["value"])
            if workload == "w1" and "master_rss_per_task_b" in result:
                self.results.add(system.name, "w1_rss", result["master_rss_per_task_b"])
            if workload == "w3" and "master_rss_growth_mb" in result:
                self.results.add(system.name, "w3_rss", result["master_rss_growth_mb"])
            log(f"{system.name} {workload} rep {rep + 1}: {result['value']:.4g}")
        problem = outcome.problem(timeout)
        for workload in batch:
            if workload not in seen:
                self.results.failures[(system.name, workload)] = \
                    (problem or "failed (no result printed)") + f" in rep {rep + 1}"
                log(f"{system.name} {workload} rep {rep + 1}: {problem or 'no result'}")
                if outcome.stderr.strip():
                    log("  stderr tail: " + outcome.stderr.strip()[-600:])

    def startup(self, system: System, rep: int) -> None:
        with tempfile.TemporaryDirectory(prefix="bench-w5-") as tmp:
            stamp = Path(tmp) / "first-task"
            argv = system.argv(["w5"], self.sizes.to_json(), str(stamp))
            outcome = launch(argv, self.timeouts["w5"])
            launched, exited = outcome.started, outcome.ended
            problem = outcome.problem(self.timeouts["w5"])
            if not problem and not stamp.exists():
                problem = "failed (the task wrote no timestamp)"
            if problem:
                self.results.failures[(system.name, "w5")] = problem + f" in rep {rep + 1}"
                log(f"{system.name} w5 rep {rep + 1}: {problem}")
                return
            first = float(stamp.read_text()) - launched
        self.results.add(system.name, "w5_first", first * 1000)
        self.results.add(system.name, "w5_exit", (exited - launched) * 1000)
        log(f"{system.name} w5 rep {rep + 1}: first task {first * 1000:.0f} ms, "
            f"exit {(exited - launched) * 1000:.0f} ms")

    def scheduler(self, rep: int) -> None:
        timeout = self.sizes.w6_budget + (120.0 if self.quick else 300.0)
        argv = [sys.executable, "-m", "benchmarks.scheduler_scale", self.sizes.to_json()]
        outcome = launch(argv, timeout)
        results = wl.parse_results(outcome.stdout)
        if not results:
            problem = outcome.problem(timeout) or "failed (no result printed)"
            self.results.failures[("hpcflow", "w6")] = problem + f" in rep {rep + 1}"
            log(f"hpcflow w6 rep {rep + 1}: {problem}")
            return
        result = results[0]
        self.results.add("hpcflow", "w6", result["value"])
        self.results.add("hpcflow", "w6_mem", result["peak_bytes_per_task"] / 1024)
        self.results.add("hpcflow", "w6_build", result["build_rate"])
        self.results.add("hpcflow", "w6_loop", result["loop_rate"])
        self.results.w6_info.append(result)
        log(f"hpcflow w6 rep {rep + 1}: {result['value']:.0f} decisions/s, "
            f"{result['placed']} placed, {result['done']} done in {result['loop_s']:.1f} s, "
            f"{result['peak_bytes_per_task']:.0f} B/task")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="small sizes (a smoke run, not for comparison)")
    parser.add_argument("--systems", default=",".join(SYSTEMS),
                        help="comma-separated, from: " + ", ".join(SYSTEMS))
    parser.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument("--out", default=str(REPO / "docs" / "performance.md"),
                        help="the Markdown report to write")
    parser.add_argument("--workloads", default=",".join(ALL_WORKLOADS),
                        help="comma-separated subset of " + ",".join(ALL_WORKLOADS))
    parser.add_argument("--from-report", metavar="MD",
                        help="measure nothing: re-render the raw results kept in report MD "
                             "(after a change of the report's layout) into --out")
    parser.add_argument("--sbatch", action="store_true",
                        help="run the suite inside a Slurm allocation: one batch job on one "
                             "whole node, waited for (benchmarks/in_slurm.py)")
    parser.add_argument("--sbatch-option", action="append", default=[], metavar="OPT",
                        help="an extra sbatch option for --sbatch, e.g. "
                             "--sbatch-option=--partition=debug (repeatable)")
    parser.add_argument("--before", metavar="MD",
                        help="an earlier report: add a table of hpcflow's figures then and now")
    args = parser.parse_args(argv)
    args.systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [s for s in args.systems if s not in SYSTEMS]
    if unknown:
        parser.error(f"unknown system(s) {', '.join(unknown)}; valid: {', '.join(SYSTEMS)}")
    args.workloads = [w.strip().lower() for w in args.workloads.split(",") if w.strip()]
    bad = [w for w in args.workloads if w not in ALL_WORKLOADS]
    if bad:
        parser.error(f"unknown workload(s) {', '.join(bad)}")
    if args.reps < 1:
        parser.error("--reps must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    if args.sbatch:
        return submit(argv, Path(args.out), args.sbatch_option)
    before = None
    if args.before:
        old = extract(Path(args.before).read_text(encoding="utf-8"))
        before = Results.from_dict(old["results"]), report.Meta.from_dict(old["meta"])
    if args.from_report:
        raw = extract(Path(args.from_report).read_text(encoding="utf-8"))
        results, meta = Results.from_dict(raw["results"]), report.Meta.from_dict(raw["meta"])
        if before is None and "before" in raw:
            old = raw["before"]
            before = Results.from_dict(old["results"]), report.Meta.from_dict(old["meta"])
    else:
        command = " ".join(["python -m benchmarks.run", *map(shlex.quote, argv)])
        systems = [SYSTEMS[name] for name in args.systems]
        env = report.environment()
        started = time.time()
        suite = Suite(systems, args.workloads, args.reps, args.quick)
        results = suite.run()
        meta = report.Meta(command=command, started=started, wall=time.time() - started,
                           reps=args.reps, quick=args.quick, sizes=suite.sizes,
                           systems=systems, workloads=args.workloads, env=env)
    text = report.render(results, meta, before)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    log(f"wrote {out} ({meta.wall:.0f} s)")
    return 0


def submit(argv: list[str], out: Path, options: list[str]) -> int:
    """Run the suite as one Slurm batch job and wait for it; its exit status."""
    command = in_slurm.sbatch_argv(sys.executable, REPO, in_slurm.inner_argv(argv, out), out,
                                   options)
    out.resolve().parent.mkdir(parents=True, exist_ok=True)  # the job's log goes there
    log("submitting: " + shlex.join(command))
    try:
        done = subprocess.run(command, check=False, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        log("sbatch is not on PATH: is this a Slurm login node?")
        return 2
    if done.returncode == 0:
        log(f"wrote {out}")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
