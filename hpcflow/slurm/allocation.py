"""The Slurm allocation the current process runs in, read from its environment (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from hpcflow.slurm.parse import SlurmParseError, expand_nodelist, parse_cpus_per_node


@dataclass(frozen=True)
class Allocation:
    """Nodes and CPUs of the job we are inside, plus our place in the current step.

    Job-level facts come from ``SLURM_JOB_*`` variables (stable inside steps);
    ``step_id``/``procid``/``node_id``/``localid`` are None outside an srun step.
    ``cpus_per_node[i]`` is the CPU count Slurm allocated on ``nodelist[i]``.
    """

    job_id: str
    nodelist: tuple[str, ...]
    nnodes: int
    cpus_per_node: tuple[int, ...] = ()
    step_id: int | None = None
    procid: int | None = None
    node_id: int | None = None
    localid: int | None = None
    partition: str | None = None
    submit_dir: str | None = None

    @property
    def in_step(self) -> bool:
        """True inside an srun step (SLURM_STEP_ID set), False in the batch script."""
        return self.step_id is not None

    @property
    def total_cpus(self) -> int:
        """CPUs allocated over all nodes (0 when Slurm did not say)."""
        return sum(self.cpus_per_node)

    def cpus_on(self, host: str) -> int:
        """CPUs allocated on ``host``; raises KeyError for a node outside the allocation."""
        if host not in self.nodelist:
            raise KeyError(host)
        if not self.cpus_per_node:
            raise KeyError(f"{host}: SLURM_JOB_CPUS_PER_NODE was not set")
        return self.cpus_per_node[self.nodelist.index(host)]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Allocation | None:
        """Read the allocation from ``env`` (e.g. ``os.environ``); None outside Slurm jobs."""
        job_id = _first(env, "SLURM_JOB_ID", "SLURM_JOBID")
        if job_id is None:
            return None
        nodelist = tuple(expand_nodelist(_first(env, "SLURM_JOB_NODELIST", "SLURM_NODELIST") or ""))
        nnodes = _int(env, "SLURM_JOB_NUM_NODES") or _int(env, "SLURM_NNODES") or len(nodelist)
        if nodelist and nnodes != len(nodelist):
            raise SlurmParseError(
                f"SLURM_JOB_NUM_NODES={nnodes} but SLURM_JOB_NODELIST names {len(nodelist)} nodes"
            )
        cpus_text = env.get("SLURM_JOB_CPUS_PER_NODE", "").strip()
        cpus = tuple(parse_cpus_per_node(cpus_text)) if cpus_text else ()
        if cpus and len(cpus) != nnodes:
            raise SlurmParseError(
                f"SLURM_JOB_CPUS_PER_NODE={cpus_text!r} gives {len(cpus)} nodes, expected {nnodes}"
            )
        return cls(
            job_id=job_id,
            nodelist=nodelist,
            nnodes=nnodes,
            cpus_per_node=cpus,
            step_id=_int(env, "SLURM_STEP_ID"),
            procid=_int(env, "SLURM_PROCID"),
            node_id=_int(env, "SLURM_NODEID"),
            localid=_int(env, "SLURM_LOCALID"),
            partition=_first(env, "SLURM_JOB_PARTITION"),
            submit_dir=_first(env, "SLURM_SUBMIT_DIR"),
        )


def _first(env: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return value
    return None


def _int(env: Mapping[str, str], name: str) -> int | None:
    """Integer value of ``name``; None when unset or not a plain number (e.g. "batch")."""
    value = env.get(name, "").strip()
    return int(value) if re.fullmatch(r"[0-9]+", value) else None
