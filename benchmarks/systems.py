"""The systems under test: how to launch each one, what it needs, how many reps it gets."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MPI_RANKS = 3  # the master (rank 0) and two workers


def mpiexec() -> str | None:
    """The mpiexec of the mpich wheel next to this interpreter (else the one on PATH)."""
    local = BIN / "mpiexec"
    return str(local) if local.exists() else shutil.which("mpiexec")


def hpcflow_command() -> list[str]:
    """The ``hpcflow`` console script of this interpreter (not a pyenv shim)."""
    script = BIN / "hpcflow"
    return [str(script)] if script.exists() else [sys.executable, "-m", "hpcflow"]


@dataclass(frozen=True)
class System:
    """One system under test."""

    name: str
    label: str
    description: str
    launch: str  # the launch command as the report shows it
    modules: tuple[str, ...] = ()  # importable modules it needs
    packages: tuple[str, ...] = ()  # distributions whose versions the report lists
    mpi: bool = False
    grouped: bool = False  # W1-W4 of one rep share one process (expensive start-up)
    max_reps: dict[str, int] = field(default_factory=dict)  # workload -> cap (full run)
    limits: dict[str, float] = field(default_factory=dict)  # workload -> stop after (s)

    def missing(self) -> str:
        """Why this system cannot run here ('' when it can)."""
        for module in self.modules:
            if importlib.util.find_spec(module) is None:
                return f"not installed ({module} missing; pip install -e '.[bench]')"
        if self.mpi and mpiexec() is None:
            return "not installed (no mpiexec; pip install mpich)"
        return ""

    def argv(self, workloads: list[str], sizes_json: str, stamp: str = "") -> list[str]:
        """The command that runs ``workloads`` (comma-joined) in a fresh process."""
        args = [",".join(workloads), sizes_json] + ([stamp] if stamp else [])
        if self.name.startswith("hpcflow"):
            app = str(REPO / "benchmarks" / "hpcflow_app.py")
            flags = ["--checkpoint", "off"] if self.name == "hpcflow-nockpt" else []
            return [*hpcflow_command(), "run", "--quiet", "--workers", "2", *flags, app, "--",
                    *args]
        module = f"benchmarks.peer_{self.name.replace('-', '_')}"
        if self.name == "mpi4py-futures":
            return [mpiexec() or "mpiexec", "-n", str(MPI_RANKS), sys.executable, "-m",
                    "mpi4py.futures", "-m", module, *args]
        if self.mpi:
            return [mpiexec() or "mpiexec", "-n", str(MPI_RANKS), sys.executable, "-m",
                    module, *args]
        return [sys.executable, "-m", module, *args]

    def versions(self) -> dict[str, str]:
        result = {}
        for package in self.packages:
            try:
                result[package] = importlib.metadata.version(package)
            except importlib.metadata.PackageNotFoundError:
                result[package] = "not installed"
        return result


SYSTEMS: dict[str, System] = {s.name: s for s in (
    System("hpcflow", "hpcflow", "the local runtime, one app per workload and rep",
           "hpcflow run --quiet --workers 2 benchmarks/hpcflow_app.py -- W SIZES",
           ("hpcflow",), ("hpcflow", "cloudpickle")),
    System("hpcflow-nockpt", "hpcflow, no checkpoints",
           "the same with checkpoints off: what checkpointing (on by default) costs",
           "hpcflow run --quiet --workers 2 --checkpoint off benchmarks/hpcflow_app.py -- W SIZES",
           ("hpcflow",)),
    System("processpool", "ProcessPool", "`concurrent.futures.ProcessPoolExecutor(2)`",
           "python -m benchmarks.peer_processpool W SIZES"),
    System("dask", "Dask distributed",
           "`LocalCluster(n_workers=2, threads_per_worker=1, processes=True)` + `Client`",
           "python -m benchmarks.peer_dask W1,W2,W4,W3 SIZES",
           ("dask", "distributed"), ("dask", "distributed"), grouped=True),
    System("parsl", "Parsl HTEX",
           "`HighThroughputExecutor(max_workers_per_node=2)`, `LocalProvider` (1 block)",
           "python -m benchmarks.peer_parsl W1,W2,W4,W3 SIZES",
           ("parsl",), ("parsl",), grouped=True),
    System("mpi4py-futures", "mpi4py.futures", "`MPIPoolExecutor` on 2 worker ranks",
           "mpiexec -n 3 python -m mpi4py.futures -m benchmarks.peer_mpi4py_futures W SIZES",
           ("mpi4py",), ("mpi4py", "mpich"), mpi=True, limits={"w3": 90.0}),
    System("raw-mpi", "raw mpi4py", "master/worker send/recv loop, 2 tasks in flight per "
           "worker (the practical limit)",
           "mpiexec -n 3 python -m benchmarks.peer_raw_mpi W SIZES",
           ("mpi4py",), ("mpi4py", "mpich"), mpi=True),
)}
