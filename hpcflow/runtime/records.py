"""The run's records in its run directory: one JSON line per task, and the app's status."""

from __future__ import annotations

import json
import os
from typing import Any

from hpcflow.runtime.master import Master
from hpcflow.runtime.tasks import TaskRecord


def task_records(master: Master) -> list[dict[str, Any]]:
    """One dict per task: what ran, where, when, how it ended."""
    rows = []
    for record in master.records.values():
        result = record.result
        rows.append({
            "id": record.id, "name": record.definition.spec.name,
            "state": master.graph.tasks[record.id].state.value,
            "node": record.node, "host": result.host if result else None,
            "pid": result.pid if result else None, "attempts": record.attempt,
            "version": record.version, "submitted": record.submitted,
            "started": result.started if result else None,
            "ended": result.ended if result else None,
            "error": record.failure.reason if record.failure else None,
            "nodes": list(record.nodes),
            "launch": _launch_info(record),
        })
    return rows


def _launch_info(record: TaskRecord) -> dict[str, str] | None:
    """A launched task's outcome (logs, nodes, exit code); outputs named by their final path."""
    extra = record.result.extra if record.result else None
    if not extra:
        return None
    final = {out.temp: out.path for out in record.plan.files}
    return {key: final.get(value, value) for key, value in extra.items()}


def write_records(run_dir: str, master: Master, status: int, message: str) -> None:
    """Write ``records.jsonl`` and ``status.json`` atomically into ``run_dir``."""
    os.makedirs(run_dir, exist_ok=True)
    lines = "".join(json.dumps(row) + "\n" for row in task_records(master))
    _atomic_write(os.path.join(run_dir, "records.jsonl"), lines)
    nodes = [n.name for n in master.nodes()]
    status_doc = {"exit_status": status, "message": message, "nodes": nodes,
                  "tasks": len(master.records)}
    _atomic_write(os.path.join(run_dir, "status.json"), json.dumps(status_doc, indent=1) + "\n")


def _atomic_write(path: str, text: str) -> None:
    temp = f"{path}.part"
    with open(temp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(temp, path)
