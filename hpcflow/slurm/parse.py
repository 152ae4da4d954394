"""Pure parsers for what Slurm commands print (formats of Slurm 22.05).

Nothing here runs a command: every function takes the text a command printed
(or an environment value) and returns plain data.  Malformed input raises
:class:`SlurmParseError`, a one-line :class:`~hpcflow.errors.HpcflowError`.
"""

from __future__ import annotations

import enum
import itertools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hpcflow.errors import HpcflowError

#: ``squeue -h -o`` format understood by :func:`parse_squeue`; the job name goes
#: last so that a ``|`` inside a name cannot shift the other columns.
SQUEUE_FORMAT = "%i|%T|%D|%P|%N|%r|%j"

#: ``sacct -X -n -P -o`` fields understood by :func:`parse_sacct` (name last, as above).
SACCT_FIELDS = "JobID,State,ExitCode,NNodes,Partition,NodeList,Reason,WorkDir,JobName"

_MAX_HOSTS = 1_000_000


class SlurmParseError(HpcflowError):
    """Output of a Slurm command, or a Slurm environment value, could not be parsed."""


class JobState(enum.Enum):
    """Base state of a Slurm job, reduced to the states hpcflow reasons about."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMEOUT = "TIMEOUT"
    NODE_FAIL = "NODE_FAIL"
    PREEMPTED = "PREEMPTED"
    OUT_OF_MEMORY = "OUT_OF_MEMORY"
    COMPLETING = "COMPLETING"
    SUSPENDED = "SUSPENDED"
    REQUEUED = "REQUEUED"
    RESIZING = "RESIZING"
    BOOT_FAIL = "BOOT_FAIL"
    DEADLINE = "DEADLINE"
    UNKNOWN = "UNKNOWN"

    @property
    def is_final(self) -> bool:
        """True when the job will not run (again) by itself."""
        return self in FINAL_STATES


#: States after which the job's processes are gone and will not come back.
FINAL_STATES: frozenset[JobState] = frozenset(
    {
        JobState.COMPLETED,
        JobState.FAILED,
        JobState.CANCELLED,
        JobState.TIMEOUT,
        JobState.NODE_FAIL,
        JobState.PREEMPTED,
        JobState.OUT_OF_MEMORY,
        JobState.BOOT_FAIL,
        JobState.DEADLINE,
    }
)

_S = JobState
#: The one table from Slurm's state names and compact codes (squeue %t) to JobState.
STATE_TABLE: Mapping[str, JobState] = {
    "PENDING": _S.PENDING, "PD": _S.PENDING,
    "CONFIGURING": _S.PENDING, "CF": _S.PENDING,  # nodes booting, no user code yet
    "RESV_DEL_HOLD": _S.PENDING, "RD": _S.PENDING,
    "POWER_UP_NODE": _S.PENDING,
    "RUNNING": _S.RUNNING, "R": _S.RUNNING,
    "SIGNALING": _S.RUNNING, "SI": _S.RUNNING,
    "COMPLETING": _S.COMPLETING, "CG": _S.COMPLETING,
    "STAGE_OUT": _S.COMPLETING, "SO": _S.COMPLETING,
    "COMPLETED": _S.COMPLETED, "CD": _S.COMPLETED,
    "FAILED": _S.FAILED, "F": _S.FAILED,
    "SPECIAL_EXIT": _S.FAILED, "SE": _S.FAILED,
    "CANCELLED": _S.CANCELLED, "CA": _S.CANCELLED,
    "REVOKED": _S.CANCELLED, "RV": _S.CANCELLED,
    "TIMEOUT": _S.TIMEOUT, "TO": _S.TIMEOUT,
    "NODE_FAIL": _S.NODE_FAIL, "NF": _S.NODE_FAIL,
    "PREEMPTED": _S.PREEMPTED, "PR": _S.PREEMPTED,
    "OUT_OF_MEMORY": _S.OUT_OF_MEMORY, "OOM": _S.OUT_OF_MEMORY,
    "SUSPENDED": _S.SUSPENDED, "S": _S.SUSPENDED,
    "STOPPED": _S.SUSPENDED, "ST": _S.SUSPENDED,
    "REQUEUED": _S.REQUEUED, "RQ": _S.REQUEUED,
    "REQUEUE_HOLD": _S.REQUEUED, "RH": _S.REQUEUED,
    "REQUEUE_FED": _S.REQUEUED, "RF": _S.REQUEUED,
    "RESIZING": _S.RESIZING, "RS": _S.RESIZING,
    "BOOT_FAIL": _S.BOOT_FAIL, "BF": _S.BOOT_FAIL,
    "DEADLINE": _S.DEADLINE, "DL": _S.DEADLINE,
}  # fmt: skip
del _S


@dataclass(frozen=True)
class JobInfo:
    """What one query told about one job; absent facts are None (or empty)."""

    job_id: str
    state: JobState
    state_raw: str = ""
    name: str = ""
    nodes: tuple[str, ...] = ()
    num_nodes: int | None = None
    partition: str | None = None
    reason: str | None = None
    exit_code: int | None = None
    exit_signal: int | None = None
    workdir: str | None = None
    stdout: str | None = None
    stderr: str | None = None

    @property
    def is_final(self) -> bool:
        """True when the job reached a state it will not leave by itself."""
        return self.state.is_final


def parse_state(text: str) -> JobState:
    """Map a Slurm state string to :class:`JobState`.

    Accepts long names and compact codes, any case, with sacct's decorations
    (``"CANCELLED by 1000"``, ``"CANCELLED+"``).  Unknown strings give UNKNOWN.
    """
    words = text.strip().split()
    if not words:
        return JobState.UNKNOWN
    return STATE_TABLE.get(words[0].rstrip("+").upper(), JobState.UNKNOWN)


def parse_sbatch_parsable(out: str) -> str:
    """Return the job id printed by ``sbatch --parsable`` (``"123"`` or ``"123;cluster"``)."""
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    job_id = lines[-1].split(";", 1)[0].strip() if lines else ""
    if not re.fullmatch(r"[0-9]+", job_id):
        raise SlurmParseError(f"no job id in sbatch --parsable output: {_clip(out)!r}")
    return job_id


def parse_end_time(out: str) -> float | None:
    """Epoch seconds of squeue's ``%e`` (local ``YYYY-MM-DDTHH:MM:SS``); None when the
    job has no end time (``Unknown``, ``N/A``, no line)."""
    text = out.strip().splitlines()[0].strip() if out.strip() else ""
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def parse_exit_code(text: str | None) -> tuple[int | None, int | None]:
    """Split Slurm's ``"EXIT:SIGNAL"`` (e.g. ``"1:0"``, ``"0:15"``) into two ints."""
    if not text:
        return None, None
    code, _, signal = text.strip().partition(":")
    return _int_or_none(code), _int_or_none(signal)


def parse_hostnames(out: str) -> list[str]:
    """Parse ``scontrol show hostnames`` output: one host per line."""
    return [line.strip() for line in out.splitlines() if line.strip()]


def parse_sinfo_nodes(out: str) -> list[str]:
    """Distinct node names from ``sinfo -h -N -p PART -o %N`` (lines may be hostlists).

    ``len()`` of the result is the number of nodes the partition has.
    """
    seen: dict[str, None] = {}
    for line in out.splitlines():
        for host in expand_nodelist(line):
            seen.setdefault(host, None)
    return list(seen)


def parse_default_partition(out: str) -> str | None:
    """The default partition from ``sinfo -h -o %P`` (marked ``*``); None if none is."""
    for line in out.splitlines():
        name = line.strip()
        if name.endswith("*") and len(name) > 1:
            return name[:-1]
    return None


def parse_cpus_per_node(text: str) -> list[int]:
    """Expand SLURM_JOB_CPUS_PER_NODE (``"4(x2),2"``) into one count per node: [4, 4, 2]."""
    counts: list[int] = []
    for item in text.strip().split(","):
        m = re.fullmatch(r"\s*([0-9]+)\s*(?:\(x([0-9]+)\))?\s*", item)
        if not m:
            raise SlurmParseError(f"bad CPUs-per-node value {text!r} (expected like '4(x2),2')")
        counts.extend([int(m.group(1))] * int(m.group(2) or 1))
    return counts


# --------------------------------------------------------------------------- hostlists


def expand_nodelist(nodelist: str) -> list[str]:
    """Expand a Slurm hostlist (``"node[1-3,5],gpu[01-02]"``) into host names, in order.

    Pure reimplementation of ``scontrol show hostnames`` for when scontrol is not
    available: zero padding follows the lower bound (``[08-10]`` → 08, 09, 10), and
    several bracket groups in one name expand as a product (``r[1-2]n[1-2]``).
    """
    text = nodelist.strip()
    if not text or text == "(null)":
        return []
    hosts: list[str] = []
    for part in _split_top_level(text):
        hosts.extend(_expand_host(part, text))
        if len(hosts) > _MAX_HOSTS:
            raise SlurmParseError(f"hostlist {_clip(text)!r} expands to too many hosts")
    return hosts


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    depth, start = 0, 0
    for i, char in enumerate(text):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        if depth not in (0, 1):
            raise SlurmParseError(f"bad hostlist {_clip(text)!r}: unbalanced brackets")
    if depth:
        raise SlurmParseError(f"bad hostlist {_clip(text)!r}: unbalanced brackets")
    parts.append(text[start:])
    return parts


def _expand_host(part: str, whole: str) -> list[str]:
    pieces = re.split(r"(\[[^\]]*\])", part.strip())
    if not part.strip() or any(c in p for p in pieces[::2] for c in "[] "):
        raise SlurmParseError(f"bad hostlist {_clip(whole)!r}: bad host {part!r}")
    choices: list[list[str]] = []
    for index, piece in enumerate(pieces):
        choices.append(_expand_ranges(piece[1:-1], whole) if index % 2 else [piece])
    return ["".join(combo) for combo in itertools.product(*choices)]


def _expand_ranges(inner: str, whole: str) -> list[str]:
    values: list[str] = []
    for item in inner.split(","):
        m = re.fullmatch(r"([0-9]+)(?:-([0-9]+))?", item.strip())
        if not m:
            raise SlurmParseError(f"bad hostlist {_clip(whole)!r}: bad range {item!r}")
        low, high = m.group(1), m.group(2) or m.group(1)
        if int(high) < int(low) or int(high) - int(low) > _MAX_HOSTS:
            raise SlurmParseError(f"bad hostlist {_clip(whole)!r}: bad range {item!r}")
        values.extend(str(n).zfill(len(low)) for n in range(int(low), int(high) + 1))
    return values


# --------------------------------------------------------------------------- scontrol

#: Keys whose values are free text (names, paths, commands) and may contain spaces.
_FREE_TEXT_KEYS = frozenset(
    {"JobName", "Command", "WorkDir", "Comment", "AdminComment", "SystemComment",
     "StdIn", "StdOut", "StdErr", "Container", "Reservation"}
)  # fmt: skip

#: Keys printed by ``scontrol show job`` in 22.05: after a free-text value only
#: these start a new field, so ``Command=run.sh A=1`` keeps ``A=1`` in the command.
_KNOWN_KEYS = frozenset(
    """JobId ArrayJobId ArrayTaskId ArrayTaskThrottle HetJobId HetJobOffset HetJobIdSet
    JobName UserId GroupId MCS_label Priority Nice Account QOS WCKey JobState Reason
    Dependency Requeue Restarts BatchFlag Reboot ExitCode DerivedExitCode RunTime TimeLimit
    TimeMin SubmitTime EligibleTime AccrueTime StartTime EndTime Deadline PreemptEligibleTime
    PreemptTime SuspendTime SecsPreSuspend LastSchedEval Scheduler ResizeTime Partition
    AllocNode:Sid ReqNodeList ExcNodeList NodeList BatchHost SchedNodeList NumNodes NumCPUs
    NumTasks CPUs/Task ReqB:S:C:T ReqTRES AllocTRES TRES Socks/Node NtasksPerN:B:S:C
    CoreSpec MinCPUsNode MinMemoryNode MinMemoryCPU MinTmpDiskNode Features ActiveFeatures
    ClusterFeatures DelayBoot OverSubscribe Contiguous Licenses Network Command WorkDir
    AdminComment SystemComment Comment StdErr StdIn StdOut Power TresPerNode TresPerJob
    TresPerSocket TresPerTask CpusPerTres MemPerTres TresBind TresFreq MailUser MailType
    NtasksPerTRES Nodes CPU_IDs Mem GRES Container ContainerID Switches Wait-for-Switch
    BurstBuffer BurstBufferState CpuFreqMin CpuFreqMax CpuFreqGov Reservation
    KillOInInvalidDependent Prolog Epilog Array""".split()
)

_KEY_RE = re.compile(r"([A-Za-z][A-Za-z0-9_:/.\-]*)=(.*)", re.S)


def parse_scontrol_show_job(text: str) -> dict[str, str]:
    """Parse one job record of ``scontrol -o show job ID`` into ``{key: value}``.

    Values of free-text keys (JobName, Command, WorkDir, Comment, StdOut, ...) may
    contain spaces and ``=``; they run until the next key Slurm itself prints.  The
    multi-line (non ``-o``) layout is accepted too.
    """
    line = " ".join(part.strip() for part in text.splitlines() if part.strip())
    fields: dict[str, str] = {}
    key: str | None = None
    for token in line.split(" "):
        m = _KEY_RE.fullmatch(token)
        if m and (key not in _FREE_TEXT_KEYS or m.group(1) in _KNOWN_KEYS):
            key = m.group(1)
            fields[key] = m.group(2)
        elif key is not None:
            fields[key] += " " + token
        elif token:
            raise SlurmParseError(f"bad scontrol output: {_clip(text)!r}")
    return {k: (v.rstrip() if k in _FREE_TEXT_KEYS else v.strip()) for k, v in fields.items()}


def job_info_from_scontrol(fields: Mapping[str, str]) -> JobInfo:
    """Build a :class:`JobInfo` from :func:`parse_scontrol_show_job` output."""
    if "JobId" not in fields:
        raise SlurmParseError("scontrol output has no JobId field")
    code, signal = parse_exit_code(fields.get("ExitCode"))
    raw_state = fields.get("JobState", "")
    return JobInfo(
        job_id=fields["JobId"],
        state=parse_state(raw_state),
        state_raw=raw_state,
        name=fields.get("JobName", ""),
        nodes=tuple(expand_nodelist(fields.get("NodeList", ""))),
        num_nodes=_int_or_none(fields.get("NumNodes", "").split("-")[0]),
        partition=_null(fields.get("Partition")),
        reason=_null(fields.get("Reason")),
        exit_code=code,
        exit_signal=signal,
        workdir=_null(fields.get("WorkDir")),
        stdout=_null(fields.get("StdOut")),
        stderr=_null(fields.get("StdErr")),
    )


def parse_scontrol_jobs(out: str) -> list[JobInfo]:
    """Parse ``scontrol -o show job`` output: one job per non-empty line."""
    return [
        job_info_from_scontrol(parse_scontrol_show_job(line))
        for line in out.splitlines()
        if line.strip()
    ]


# --------------------------------------------------------------------------- squeue / sacct


def _rows(out: str, width: int, command: str, layout: str) -> list[list[str]]:
    """The ``|``-separated rows of ``out`` (blank lines skipped), each of ``width`` columns;
    the last column may itself contain ``|`` (job names)."""
    rows = []
    for line in out.splitlines():
        if not line.strip():
            continue
        cols = line.split("|", width - 1)
        if len(cols) != width:
            raise SlurmParseError(f"bad {command} line ({layout}): {_clip(line)!r}")
        rows.append(cols)
    return rows


def parse_squeue(out: str) -> list[JobInfo]:
    """Parse ``squeue -h -o`` output in :data:`SQUEUE_FORMAT`."""
    jobs: list[JobInfo] = []
    for row in _rows(out, 7, "squeue", f"format {SQUEUE_FORMAT}"):
        job_id, state, nnodes, partition, nodes, reason, name = row
        jobs.append(
            JobInfo(
                job_id=job_id.strip(),
                state=parse_state(state),
                state_raw=state.strip(),
                name=name,
                nodes=tuple(expand_nodelist(nodes)),
                num_nodes=_int_or_none(nnodes),
                partition=_null(partition),
                reason=_null(reason),
            )
        )
    return jobs


def parse_sacct(out: str) -> list[JobInfo]:
    """Parse ``sacct -X -n -P -o`` output in :data:`SACCT_FIELDS` order."""
    jobs: list[JobInfo] = []
    for row in _rows(out, 9, "sacct", f"fields {SACCT_FIELDS}"):
        job_id, state, exit_code, nnodes, partition, nodes, reason, workdir, name = row
        code, signal = parse_exit_code(exit_code)
        jobs.append(
            JobInfo(
                job_id=job_id.strip(),
                state=parse_state(state),
                state_raw=state.strip(),
                name=name,
                nodes=tuple(expand_nodelist(nodes) if nodes != "None assigned" else ()),
                num_nodes=_int_or_none(nnodes),
                partition=_null(partition),
                reason=_null(reason),
                exit_code=code,
                exit_signal=signal,
                workdir=_null(workdir),
            )
        )
    return jobs


def parse_squeue_json(text: str, job_ids: Iterable[str] | None = None) -> list[JobInfo]:
    """Parse ``squeue --json`` (22.05 and later layouts), keeping only ``job_ids`` if given.

    Slurm 22.05 ignores ``-j``/``-t`` with ``--json``, so filtering happens here.
    Numbers may be plain or ``{"set": .., "number": ..}``; states a string or a list.
    """
    start = text.find("{")
    try:
        data = json.loads(text[start:]) if start >= 0 else None
    except json.JSONDecodeError as exc:
        raise SlurmParseError(f"squeue --json printed invalid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("jobs", []), list):
        raise SlurmParseError("squeue --json output has no 'jobs' list")
    wanted = None if job_ids is None else {str(j) for j in job_ids}
    jobs = [_job_from_json(job) for job in data.get("jobs", []) if isinstance(job, dict)]
    return [job for job in jobs if wanted is None or job.job_id in wanted]


def _job_from_json(job: Mapping[str, Any]) -> JobInfo:
    state = job.get("job_state", "")
    raw_state = " ".join(str(s) for s in state) if isinstance(state, list) else str(state)
    code = _json_number(job.get("exit_code"))
    return JobInfo(
        job_id=str(_json_number(job.get("job_id"))),
        state=parse_state(raw_state),
        state_raw=raw_state,
        name=str(job.get("name") or ""),
        nodes=tuple(expand_nodelist(str(job.get("nodes") or ""))),
        num_nodes=_json_number(job.get("node_count")),
        partition=_null(str(job.get("partition") or "")),
        reason=_null(str(job.get("state_reason") or "")),
        exit_code=code,
        workdir=_null(str(job.get("current_working_directory") or "")),
    )


def _json_number(value: Any) -> int | None:
    """Read 22.05 plain ints, and 23.x ``{"set", "number"}`` / ``{"return_code": ..}``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return _int_or_none(value)
    if isinstance(value, dict):
        if "return_code" in value:
            return _json_number(value["return_code"])
        if value.get("set", True) and "number" in value:
            return _json_number(value["number"])
    return None


# --------------------------------------------------------------------------- helpers


def _int_or_none(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if re.fullmatch(r"-?[0-9]+", text) else None


def _null(value: str | None) -> str | None:
    """Slurm prints missing values as '(null)', 'None' or ''; map those to None."""
    if value is None or value.strip() in ("", "(null)", "None", "N/A"):
        return None
    return value


def _clip(text: str, limit: int = 200) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "..."
