"""Pure helpers for the nested steps that launched tasks run inside an allocation.

The agents' own step leaves its options in the environment (``SLURM_NTASKS_PER_NODE``,
``SLURM_CPU_BIND``, ``PMI_FD`` ...); ``srun`` reads many of them as defaults, so a nested
step started from there must not inherit them (``srun: Warning: can't honor
--ntasks-per-node ...``). These functions build the environments and the argv to find a
step by its name; nothing here runs a command.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from hpcflow.errors import UsageError

# srun input variables describing the agents' step, not a task's (srun(1), 22.05).
_STEP_INPUTS = frozenset({
    "SLURM_NTASKS", "SLURM_NPROCS", "SLURM_NTASKS_PER_NODE", "SLURM_NTASKS_PER_CORE",
    "SLURM_NTASKS_PER_SOCKET", "SLURM_NTASKS_PER_GPU", "SLURM_CPUS_PER_TASK",
    "SLURM_DISTRIBUTION", "SLURM_DIST_PLANESIZE", "SLURM_CPU_BIND", "SLURM_MEM_BIND",
    "SLURM_MEM_PER_CPU", "SLURM_MEM_PER_NODE", "SLURM_NO_KILL", "SLURM_KILL_BAD_EXIT",
    "SLURM_WAIT", "SLURM_STDOUTMODE", "SLURM_STDERRMODE", "SLURM_STDINMODE",
    "SLURM_LABELIO", "SLURM_UNBUFFEREDIO", "SLURM_EXCLUSIVE", "SLURM_OVERCOMMIT",
    "SLURM_EXACT", "SLURM_OVERLAP", "SLURM_MPI_TYPE", "SLURM_JOB_NAME", "SLURM_HINT",
    "SLURM_NNODES", "SLURM_JOB_NUM_NODES", "SLURM_NODELIST", "SLURM_TASKS_PER_NODE",
})
# Prefixes of what a launcher left for its own ranks (PMI-1/2, PMIx, Hydra).
_RANK_PREFIXES = ("PMI_", "PMIX_", "PMI2_", "MPI_LOCAL", "HYDI_", "HYDRA_", "SLURM_STEP_",
                  "SLURM_CPU_BIND_", "SLURM_MEM_BIND_")
_RANK_VARS = frozenset({"SLURM_PROCID", "SLURM_LOCALID", "SLURM_NODEID", "SLURM_GTIDS",
                        "SLURM_TASK_PID", "SLURM_STEPID", "SLURM_SRUN_COMM_PORT",
                        "SLURM_SRUN_COMM_HOST", "SLURM_LAUNCH_NODE_IPADDR"})

#: ``squeue`` format of one step per line: ``ID|NAME``.
STEP_FORMAT = "%i|%j"


def launcher_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` without what the agents' step or an MPI launcher left for its ranks.

    Start a nested ``srun``, an ``mpiexec`` or a plain process from this: none of them
    then mistakes itself for a rank of the agents' step.
    """
    return {k: v for k, v in env.items()
            if k not in _STEP_INPUTS and k not in _RANK_VARS
            and not k.startswith(_RANK_PREFIXES)}


def hosts_env(nodes: Sequence[str], per_node: int, cpus_per_task: int = 1,
              in_slurm: bool = True) -> dict[str, str]:
    """The Slurm-like view of its own hosts given to a ``@multinode`` task.

    ``HPCFLOW_NODES`` always; under Slurm also ``SLURM_JOB_NODELIST``/``SLURM_NODELIST``,
    ``SLURM_NNODES``/``SLURM_JOB_NUM_NODES``, ``SLURM_TASKS_PER_NODE`` and ``SLURM_NTASKS``
    for those hosts, plus ``SLURM_OVERLAP=1`` and ``SLURM_EXACT=1`` so that an
    ``srun --nodelist=$HPCFLOW_NODES`` inside the task can share them with the agents.
    """
    names = ",".join(nodes)
    env = {"HPCFLOW_NODES": names, "HPCFLOW_NNODES": str(len(nodes)),
           "HPCFLOW_PROCESSES_PER_NODE": str(per_node)}
    if in_slurm:
        env.update({
            "SLURM_JOB_NODELIST": names, "SLURM_NODELIST": names,
            "SLURM_NNODES": str(len(nodes)), "SLURM_JOB_NUM_NODES": str(len(nodes)),
            "SLURM_TASKS_PER_NODE": f"{per_node}(x{len(nodes)})",
            "SLURM_NTASKS": str(per_node * len(nodes)),
            "SLURM_CPUS_PER_TASK": str(cpus_per_task),
            "SLURM_OVERLAP": "1", "SLURM_EXACT": "1",
        })
    return env


def squeue_steps_argv(job_id: str) -> list[str]:
    """``squeue -h -s -j JOB -o '%i|%j'``: the job's running steps, ``ID|NAME`` a line."""
    if not re.fullmatch(r"[0-9]+(?:[_+][0-9]+)?", str(job_id)):
        raise UsageError(f"bad Slurm job id {job_id!r}")
    return ["squeue", "-h", "-s", "-j", str(job_id), "-o", STEP_FORMAT]


def parse_squeue_steps(out: str) -> list[tuple[str, str]]:
    """``(step id, name)`` pairs from :func:`squeue_steps_argv` output."""
    steps = []
    for line in out.splitlines():
        if "|" in line:
            step, name = line.strip().split("|", 1)
            steps.append((step, name))
    return steps


def steps_named(out: str, name: str) -> list[str]:
    """Ids of the steps called ``name`` in :func:`squeue_steps_argv` output."""
    return [step for step, step_name in parse_squeue_steps(out) if step_name == name]
