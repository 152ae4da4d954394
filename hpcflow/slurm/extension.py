"""Pure builders for elastic growth and shrinking: extension jobs, resizes, time left.

Growth is an *extension job*: an ordinary batch job (same account/partition/qos as the
main job, walltime capped at the main job's remaining time) whose one step starts an
agent per node; each agent reads the master's address and the run's key from the run
directory (0700, files 0600) and joins over the HMAC-authenticated TCP channel. That
works with any MPI, or none: MPI connect/accept between separately launched jobs works
only with MPICH's ofi netmod (not Open MPI under srun), and Slurm's job expansion is off
at most sites. Shrinking gives back nodes of a job with ``scontrol update JobId=J
NodeList=<kept>`` (steps still on a removed node are SIGKILLed: drain first) or cancels a
whole extension job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from hpcflow.errors import UsageError
from hpcflow.slurm.script import OptionValue, SbatchSpec, render_sbatch
from hpcflow.slurm.srun import agents_step_argv, check_job_id, python_argv

#: Module the extension job's step runs on every node (one agent each).
JOIN_MODULE = "hpcflow.agents.join"
#: Name of the agents step of an extension job.
EXTENSION_STEP = "hpcflow-ext-agents"
#: Name of the step of agents on nodes merged into the main job.
MERGED_STEP = "hpcflow-merged-agents"
#: Shortest walltime an extension job asks for.
MIN_EXTENSION_S = 60

_NODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]*")
_LEFT_RE = re.compile(r"(?:([0-9]+)-)?(?:([0-9]+):)?([0-9]+):([0-9]+)")


@dataclass(frozen=True)
class ExtensionSettings:
    """What an extension job copies from the main job (written to the run directory)."""

    job_name: str
    python: str = "python3"
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    cpus_per_node: int | None = None
    mem_per_node: str | None = None
    gpus_per_node: int = 0
    srun_mpi: str | None = None
    modules: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict, hash=False)
    extra: Mapping[str, OptionValue] = field(default_factory=dict, hash=False)
    # the site's other partitions: name, cores_per_node, mem_per_node, gpus_per_node,
    # features, software (hpcflow.config.partitions)
    partitions: tuple[Mapping[str, Any], ...] = field(default=(), hash=False)

    def in_partition(self, name: str | None) -> ExtensionSettings:
        """These settings for an extension job in the declared partition ``name`` (its
        cores, memory, GPUs and software; no ``nodelist`` of the main job's nodes);
        unchanged for any other name."""
        entry = next((p for p in self.partitions if p.get("name") == name), None)
        if entry is None or name == self.partition:
            return self
        env = {k: v for k, v in self.env.items() if k != "HPCFLOW_SOFTWARE"}
        if entry.get("software"):
            env["HPCFLOW_SOFTWARE"] = ",".join(entry["software"])
        extra = {k: v for k, v in self.extra.items() if k != "nodelist"}  # the main's nodes
        return replace(self, partition=name, cpus_per_node=entry.get("cores_per_node"),
                       mem_per_node=entry.get("mem_per_node"),
                       gpus_per_node=int(entry.get("gpus_per_node") or 0), env=env, extra=extra)

    def at_least(self, cores: int, gpus: int) -> ExtensionSettings:
        """These settings with at least ``cores`` CPUs and ``gpus`` GPUs per node."""
        have = self.cpus_per_node or 0
        if cores <= have and gpus <= self.gpus_per_node:
            return self
        return replace(self, cpus_per_node=max(cores, have),
                       gpus_per_node=max(gpus, self.gpus_per_node))

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "modules": list(self.modules), "env": dict(self.env),
                "extra": dict(self.extra), "partitions": [dict(p) for p in self.partitions]}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ExtensionSettings:
        known = {k: v for k, v in doc.items() if k in cls.__dataclass_fields__}
        return cls(**{**known, "modules": tuple(known.get("modules") or ()),
                      "partitions": tuple(known.get("partitions") or ())})


def extension_script(settings: ExtensionSettings, *, nodes: int, seconds: float,
                     run_dir: str, exclude: Sequence[str] = (), constraint: str | None = None,
                     partition: str | None = None) -> str:
    """The batch script of one extension job of ``nodes`` nodes for ``seconds`` at most."""
    extra: dict[str, OptionValue] = {**settings.extra, "no-requeue": True, "no-kill": True}
    if exclude:
        extra["exclude"] = ",".join(_checked_nodes(exclude))
    if constraint:
        extra["constraint"] = constraint
    env = {**settings.env, "HPCFLOW_RUN_DIR": run_dir,
           "HPCFLOW_SRUN_MPI": settings.srun_mpi or "default"}
    spec = SbatchSpec(
        job_name=f"{settings.job_name}-ext"[:128], nodes=nodes, time=extension_time(seconds),
        launch=extension_launch(settings, nodes, run_dir),
        partition=partition or settings.partition, account=settings.account, qos=settings.qos,
        cpus_per_node=settings.cpus_per_node, mem_per_node=settings.mem_per_node,
        gpus_per_node=settings.gpus_per_node, output=f"{run_dir}/slurm-%j.out",
        error=f"{run_dir}/slurm-%j.err", extra=extra, modules=settings.modules, env=env,
    )  # fmt: skip
    return render_sbatch(spec)


def extension_launch(settings: ExtensionSettings, nodes: int, run_dir: str) -> list[str]:
    """The extension job's step: one joining agent per node (no MPI needed)."""
    python_argv(settings.python)  # validated here, split by agents_step_argv
    return agents_step_argv(nodes, None, settings.python, ["-m", JOIN_MODULE, run_dir],
                            job_name=EXTENSION_STEP)


def expand_argv(settings: ExtensionSettings, *, nodes: int, main_job: str,
                exclude: Sequence[str] = (), immediate: int = 10) -> list[str]:
    """``salloc --no-shell --dependency=expand:MAIN``: nodes to merge into the main job
    (needs ``SchedulerParameters=permit_job_expansion``); gives up after ``immediate`` s."""
    argv = ["salloc", "--no-shell", f"--nodes={nodes}", "--ntasks-per-node=1",
            f"--dependency=expand:{check_job_id(main_job)}", f"--immediate={immediate}",
            f"--job-name={settings.job_name}-expand"]
    for option, value in (("partition", settings.partition), ("account", settings.account),
                          ("qos", settings.qos), ("mem", settings.mem_per_node)):
        if value:
            argv.append(f"--{option}={value}")
    if settings.cpus_per_node:
        argv.append(f"--cpus-per-task={settings.cpus_per_node}")
    if settings.gpus_per_node:
        argv.append(f"--gpus-per-node={settings.gpus_per_node}")
    if exclude:
        argv.append("--exclude=" + ",".join(_checked_nodes(exclude)))
    return argv


def merge_argvs(main_job: str, extra_job: str) -> list[list[str]]:
    """Hand ``extra_job``'s nodes to ``main_job``: the three commands, in order."""
    main, extra = check_job_id(main_job), check_job_id(extra_job)
    return [["scontrol", "update", f"JobId={extra}", "NumNodes=0"], ["scancel", extra],
            ["scontrol", "update", f"JobId={main}", "NumNodes=ALL"]]


def parse_granted(text: str) -> str:
    """The job id in salloc's ``Granted job allocation N``."""
    match = re.search(r"Granted job allocation ([0-9]+)", text)
    if not match:
        raise UsageError(f"salloc did not say which allocation it granted: {text[:200]!r}")
    return match.group(1)


def merged_agents_argv(settings: ExtensionSettings, main_job: str, nodes: Sequence[str],
                       run_dir: str) -> list[str]:
    """The step that starts one joining agent on each node merged into the main job."""
    argv = agents_step_argv(len(nodes), None, settings.python, ["-m", JOIN_MODULE, run_dir],
                            nodelist=_checked_nodes(nodes), job_name=MERGED_STEP)
    return [argv[0], f"--jobid={check_job_id(main_job)}", "--overlap", *argv[1:]]


def extension_time(seconds: float) -> str:
    """``HH:MM:SS`` for sbatch: whole minutes below ``seconds``, at least one minute."""
    total = max(MIN_EXTENSION_S, int(seconds) // 60 * 60)
    hours, rest = divmod(total, 3600)
    return f"{hours:02d}:{rest // 60:02d}:00"


def resize_argv(job_id: str, kept: Sequence[str]) -> list[str]:
    """``scontrol update JobId=J NodeList=a,b``: keep only ``kept`` in the allocation."""
    if not kept:
        raise UsageError("resize_argv: keep at least one node (cancel the job instead)")
    return ["scontrol", "update", f"JobId={check_job_id(job_id)}",
            "NodeList=" + ",".join(_checked_nodes(kept))]


def time_left_argv(job_id: str) -> list[str]:
    """``squeue -h -j J -o %L``: the job's remaining time."""
    return ["squeue", "-h", "-j", check_job_id(job_id), "-o", "%L"]


def parse_time_left(text: str) -> float | None:
    """Seconds from squeue's ``%L`` (``M:SS``, ``H:MM:SS``, ``D-HH:MM:SS``); None when
    unlimited or not known."""
    value = text.strip()
    match = _LEFT_RE.fullmatch(value)
    if not match:
        return None
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return float(days * 86400 + hours * 3600 + minutes * 60 + seconds)


def node_states_argv(nodes: Sequence[str]) -> list[str]:
    """``sinfo -h -N -n a,b -o %N|%T``: the state of each of ``nodes``."""
    return ["sinfo", "-h", "-N", "-n", ",".join(_checked_nodes(nodes)), "-o", "%N|%T"]


def parse_node_states(out: str) -> dict[str, str]:
    """``{node: state}`` from :func:`node_states_argv` output, states lower-case without
    sinfo's flag suffixes (``down*`` -> ``down``)."""
    states: dict[str, str] = {}
    for line in out.splitlines():
        name, sep, state = line.strip().partition("|")
        if sep:
            states[name] = state.strip().lower().rstrip("*~#!%$@^-")
    return states


def _checked_nodes(nodes: Sequence[str]) -> list[str]:
    bad = [n for n in nodes if not isinstance(n, str) or not _NODE_RE.fullmatch(n)]
    if bad:
        raise UsageError(f"bad node name {bad[0]!r}")
    return list(nodes)
