"""The run's records in its run directory: one JSON line per task, and the app's status."""

from __future__ import annotations

import json
import os
from typing import Any

from hpcflow.runtime.master import Master
from hpcflow.runtime.retire import task_row


def task_records(master: Master) -> list[dict[str, Any]]:
    """One dict per task, by task id: what ran, where, when, how it ended (the tasks the
    master retired come from its spool)."""
    rows = [task_row(record, master.graph.tasks[record.id].state)
            for record in master.records.values()]
    spool = master.finished.spool
    if spool is not None and spool.count:
        rows += spool.rows()
        rows.sort(key=lambda row: row["id"])
    return rows


def write_records(run_dir: str, master: Master, status: int, message: str) -> None:
    """Write ``records.jsonl`` and ``status.json`` atomically into ``run_dir``."""
    os.makedirs(run_dir, exist_ok=True)
    lines = "".join(json.dumps(row) + "\n" for row in task_records(master))
    _atomic_write(os.path.join(run_dir, "records.jsonl"), lines)
    if master.finished.spool is not None:
        master.finished.spool.remove()
    nodes = [n.name for n in master.nodes()]
    status_doc = {"exit_status": status, "message": message, "nodes": nodes,
                  "tasks": len(master.graph.tasks)}
    _atomic_write(os.path.join(run_dir, "status.json"), json.dumps(status_doc, indent=1) + "\n")


def _atomic_write(path: str, text: str) -> None:
    temp = f"{path}.part"
    with open(temp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(temp, path)
