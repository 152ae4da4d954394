"""What the elastic controller reads: the master's demand, and the run's elastic settings."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hpcflow.config.site import SiteConfig
from hpcflow.errors import UsageError
from hpcflow.graph.states import TaskState
from hpcflow.runtime.chain import write_private
from hpcflow.runtime.master import Master
from hpcflow.scheduler.placement import feasible
from hpcflow.scheduler.resources import NodeResources
from hpcflow.scheduler.scaling import NodeShape, PartitionOffer, ScalingPolicy
from hpcflow.slurm.client import SlurmClient
from hpcflow.slurm.extension import ExtensionSettings

ENV_ELASTIC = "HPCFLOW_ELASTIC"
ENV_IDLE_TIMEOUT = "HPCFLOW_IDLE_TIMEOUT"
ENV_PENDING_TIMEOUT = "HPCFLOW_ELASTIC_PENDING_TIMEOUT"
SETTINGS_FILE = "elastic.json"
EXTENSIONS_FILE = "jobs"  # under <run dir>/elastic: one extension job id a line
MAX_SCAN = 5000  # ready tasks examined per sample


@dataclass
class Block:
    """One extension job: how many nodes it asked for, which joined, whether it ended."""

    job_id: str
    nodes: int
    submitted: float
    names: set[str] = field(default_factory=set)
    gone: set[str] = field(default_factory=set)  # joined nodes since released or lost
    ended: bool = False
    merged: bool = False  # its nodes were merged into the main job (job expansion)
    held: set[str] = field(default_factory=set)  # gone, not yet reported given back

    @property
    def waiting(self) -> int:
        return 0 if self.ended else max(0, self.nodes - len(self.names))


@dataclass(frozen=True)
class ElasticConfig:
    """An elastic run's settings, read once from the job's environment and run dir."""

    minimum: int
    maximum: int
    job_id: str
    run_dir: str
    master_node: str
    main_nodes: tuple[str, ...]
    settings: ExtensionSettings
    policy: ScalingPolicy = field(default_factory=ScalingPolicy)
    pending_timeout: float = 60.0
    expansion: Any = None  # an Expansion when growing by job expansion (opt-in)


@dataclass(frozen=True)
class Demand:
    """Work waiting in the master, weighted by measured durations."""

    ready_core_s: float = 0.0
    pending_core_s: float = 0.0
    ready_tasks: int = 0
    free_cores: int = 0
    unplaceable: tuple[NodeShape, ...] = ()


def sample(master: Master, unknown_s: float) -> Demand:
    """The master's demand now; call with ``master._cond`` held. Each task function is
    weighed and checked against the live nodes once per sample."""
    nodes = master.nodes()
    ready = list(master._ready_hi) + list(master._ready)
    core_s, shapes, weights = 0.0, [], []
    seen: dict[int, tuple[float, NodeShape | None]] = {}
    for task_id in ready[:MAX_SCAN]:
        definition = master.records[task_id].definition
        known = seen.get(id(definition))
        if known is None:
            known = seen[id(definition)] = _weigh(master, definition, nodes, unknown_s)
        core_s += known[0]
        weights.append(known[0])
        if known[1] is not None:
            shapes.append(known[1])
    if len(ready) > MAX_SCAN and weights:
        core_s *= len(ready) / MAX_SCAN
    pending = master.graph.counts()[TaskState.PENDING]
    mean = core_s / len(ready) if ready else unknown_s
    free = sum(lg.free_cores for lg in master._ledgers.values() if lg.usable)
    return Demand(core_s, pending * mean, len(ready), free, tuple(shapes))


def _weigh(master: Master, definition: Any, nodes: list[NodeResources], unknown_s: float
            ) -> tuple[float, NodeShape | None]:
    """Core-seconds of one call of ``definition``, and the node shape it needs when no
    live node can run it."""
    spec = definition.spec
    stats = master.stats.get(spec.name)
    seconds = stats.mean if stats is not None and stats.count else unknown_s
    versions = [v.spec.constraints for v in definition.versions()]
    shape = need_of(versions) if nodes and not feasible(versions, nodes) else None
    return spec.constraints.computing_units * seconds, shape


def need_of(versions: list[Any]) -> NodeShape:
    """The node a task with these versions' constraints needs (the largest of each)."""
    return NodeShape(max(c.computing_units for c in versions),
                     gpus=max(c.gpus for c in versions),
                     memory_gb=max(c.memory_size for c in versions),
                     software=frozenset().union(*(c.app_software for c in versions)))


def partition_offers(settings: ExtensionSettings) -> tuple[PartitionOffer, ...]:
    """What the main partition's nodes offer, then each declared partition's."""
    tags = settings.env.get("HPCFLOW_SOFTWARE", "")
    main = PartitionOffer(settings.partition, settings.cpus_per_node or 0,
                          memory_gb(settings.mem_per_node), settings.gpus_per_node,
                          software=frozenset(t for t in tags.split(",") if t))
    return (main, *(PartitionOffer(
        p["name"], p.get("cores_per_node") or 0, memory_gb(p.get("mem_per_node")),
        int(p.get("gpus_per_node") or 0), tuple(p.get("features") or ()),
        frozenset(p.get("software") or ())) for p in settings.partitions))


def memory_gb(size: str | None) -> float:
    """A Slurm size like ``4000M`` or ``256G`` in GB; 0.0 when unset."""
    if not size:
        return 0.0
    units = {"K": 2.0**-20, "M": 2.0**-10, "G": 1.0, "T": 2.0**10}
    unit = size[-1].upper()
    return float(size[:-1]) * units[unit] if unit in units else float(size) / 1024


def elastic_range(env: Mapping[str, str]) -> tuple[int, int] | None:
    """``HPCFLOW_ELASTIC=MIN:MAX`` as ints; None when the run is not elastic."""
    text = env.get(ENV_ELASTIC, "").strip()
    if not text:
        return None
    low, sep, high = text.partition(":")
    if not sep or not low.isdigit() or not high.isdigit() or not 1 <= int(low) <= int(high):
        raise UsageError(f"{ENV_ELASTIC}={text!r}: use MIN:MAX with 1 <= MIN <= MAX")
    return int(low), int(high)


def policy_from_env(env: Mapping[str, str]) -> ScalingPolicy:
    """The default policy with ``HPCFLOW_IDLE_TIMEOUT`` (seconds) applied."""
    policy = ScalingPolicy()
    text = env.get(ENV_IDLE_TIMEOUT, "").strip()
    if text:
        try:
            seconds = float(text)
        except ValueError:
            seconds = -1.0
        if seconds < 0:
            raise UsageError(f"{ENV_IDLE_TIMEOUT}={text!r}: give seconds >= 0")
        policy = ScalingPolicy(idle_timeout_s=seconds)
    return policy


def pending_timeout(env: Mapping[str, str], default: float = 60.0) -> float:
    text = env.get(ENV_PENDING_TIMEOUT, "").strip()
    try:
        return float(text) if text else default
    except ValueError:
        raise UsageError(f"{ENV_PENDING_TIMEOUT}={text!r}: give seconds") from None


def extension_settings(run_dir: str, env: Mapping[str, str],
                       python: str) -> ExtensionSettings:
    """``<run dir>/elastic.json`` written by ``hpcflow submit``; else the job's own
    partition from the environment."""
    path = Path(run_dir) / SETTINGS_FILE
    try:
        return ExtensionSettings.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        pass
    except (OSError, ValueError, TypeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    return ExtensionSettings(job_name=env.get("SLURM_JOB_NAME", "hpcflow") or "hpcflow",
                             python=python, partition=env.get("SLURM_JOB_PARTITION"),
                             cpus_per_node=_int(env.get("SLURM_CPUS_ON_NODE")))


def elastic_job(span: tuple[int, int] | None, idle_timeout: float | None
                ) -> tuple[dict[str, str], dict[str, bool]]:
    """Environment and sbatch options of an elastic main job: it survives the loss of a
    node (``--no-kill``) and is never requeued."""
    if idle_timeout is not None and (span is None or idle_timeout < 0):
        raise UsageError("--idle-timeout needs --elastic and seconds >= 0")
    if span is None:
        return {}, {}
    env = {ENV_ELASTIC: f"{span[0]}:{span[1]}"}
    if idle_timeout is not None:
        env[ENV_IDLE_TIMEOUT] = f"{idle_timeout:g}"
    return env, {"no-kill": True, "no-requeue": True}


def write_settings(run_dir: Path, site: SiteConfig, job_name: str) -> None:
    """Write ``<run dir>/elastic.json`` (0600) for a job submitted with ``site``."""
    write_private(run_dir / SETTINGS_FILE, settings_json(site, job_name))


def settings_json(site: SiteConfig, job_name: str) -> str:
    """``elastic.json`` for a job submitted with ``site``: what its extension jobs copy."""
    settings = ExtensionSettings(
        job_name=job_name, python=site.python, partition=site.partition, account=site.account,
        qos=site.qos, cpus_per_node=site.cores_per_node, mem_per_node=site.mem_per_node,
        gpus_per_node=site.gpus_per_node, srun_mpi=site.srun_mpi, modules=site.modules,
        env=dict(site.env), extra=dict(site.sbatch_extra),
        partitions=tuple(asdict(p) for p in site.partitions))
    return json.dumps(settings.to_json())


def record_extension(run_dir: str, job_id: str) -> None:
    """Note an extension job in ``<run dir>/elastic/jobs`` (for ``hpcflow cancel``)."""
    path = Path(run_dir) / "elastic" / EXTENSIONS_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(f"{job_id}\n")


def cancel_extensions(client: SlurmClient, run_dir: Path | None) -> list[str]:
    """Cancel the extension jobs of a run still known to Slurm; the ids cancelled."""
    path = None if run_dir is None else run_dir / "elastic" / EXTENSIONS_FILE
    if path is None or not path.is_file():
        return []
    jobs = [line.strip() for line in path.read_text(encoding="utf-8").split() if line.strip()]
    return [job for job in jobs if client.cancel(job)]


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None
