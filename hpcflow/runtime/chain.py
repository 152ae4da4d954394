"""A run's chain of Slurm jobs: the first submission, resubmissions and continuations.

``job.json`` in the run directory names the first job (``job_id``); ``chain`` lists every
job of the run in order and ``continuations`` counts those submitted by the run itself
near its walltime. The file is replaced atomically, never edited in place.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hpcflow.errors import UsageError
from hpcflow.slurm.client import SlurmClient

JOB_FILE = "job.json"
SCRIPT_FILE = "job.sbatch"


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from ``path``; None if it is missing, unreadable or not an object."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def write_private(path: Path, text: str) -> None:
    """Write ``text`` (newline-terminated) to ``path``, readable by the owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text if text.endswith("\n") else text + "\n")


def read_job(run_dir: Path) -> dict[str, Any]:
    """The run's ``job.json`` (empty when missing or unreadable)."""
    return read_json(run_dir / JOB_FILE) or {}


def job_chain(doc: dict[str, Any]) -> list[str]:
    """Every job of the run, first to last."""
    chain = doc.get("chain")
    if isinstance(chain, list) and all(isinstance(j, str) for j in chain) and chain:
        return list(chain)
    job_id = doc.get("job_id")
    return [job_id] if isinstance(job_id, str) else []


def next_job(run_dir: Path, job_id: str) -> str | None:
    """The job that took over from ``job_id`` in its run, if any."""
    chain = job_chain(read_job(run_dir))
    if job_id in chain and chain.index(job_id) + 1 < len(chain):
        return chain[chain.index(job_id) + 1]
    return None


def chain_lines(run_dir: Path | None) -> list[str]:
    """``hpcflow status``: the jobs of a run that went on in other jobs."""
    doc = read_job(run_dir) if run_dir is not None else {}
    chain = job_chain(doc)
    if len(chain) < 2:
        return []
    return [f"jobs       {' -> '.join(chain)} ({int(doc.get('continuations') or 0)} "
            f"continuation(s); the last one carries on)"]


def add_job(run_dir: Path, job_id: str, continuation: bool) -> None:
    """Append ``job_id`` to the run's chain (atomically)."""
    doc = read_job(run_dir)
    doc["chain"] = [*job_chain(doc), job_id]
    if continuation:
        doc["continuations"] = int(doc.get("continuations") or 0) + 1
    write_job(run_dir, doc)


def drop_job(run_dir: Path, job_id: str) -> None:
    """Take a cancelled continuation out of the chain again."""
    doc = read_job(run_dir)
    doc["chain"] = [j for j in job_chain(doc) if j != job_id]
    doc["continuations"] = max(0, int(doc.get("continuations") or 0) - 1)
    write_job(run_dir, doc)


def write_job(run_dir: Path, doc: dict[str, Any]) -> None:
    """Replace the run's ``job.json`` with ``doc`` in one step (owner-only)."""
    temp = run_dir / f".{JOB_FILE}.{os.getpid()}.part"
    write_private(temp, json.dumps(doc, indent=1))
    os.replace(temp, run_dir / JOB_FILE)


def resubmit(client: SlurmClient, run_dir: Path, after: str | None = None) -> str:
    """Submit the run's own ``job.sbatch`` again (after job ``after`` ends, if given)."""
    script = run_dir / SCRIPT_FILE
    if not script.is_file():
        raise UsageError(f"{run_dir} has no {SCRIPT_FILE}: it was not made by hpcflow submit")
    job_id = client.submit(script, dependency=f"afterany:{after}" if after else None)
    add_job(run_dir, job_id, continuation=after is not None)
    return job_id


def continuation(client: SlurmClient, run_dir: Path, job_id: str, limit: int) -> str | None:
    """Submit the continuation of job ``job_id`` unless the run used its ``limit``."""
    used = int(read_job(run_dir).get("continuations") or 0)
    if used >= limit:
        return None
    return resubmit(client, run_dir, after=job_id)
