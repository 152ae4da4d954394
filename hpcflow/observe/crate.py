"""Provenance as a Workflow Run RO-Crate: the ``ro-crate-metadata.json`` document of a run.

The app is the crate's ``ComputationalWorkflow``; its run is a ``CreateAction`` whose
``object`` are the input files (read but never written by a task) and the app's arguments,
and whose ``result`` are the files tasks wrote. Every task is a ``CreateAction`` of its
function, with its inputs, outputs, times and host. File facts (size, sha256) and software
versions come in as arguments: nothing here touches the file system.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

from hpcflow.observe.model import RunModel, TaskRun

METADATA_FILE = "ro-crate-metadata.json"
CONTEXT = ["https://w3id.org/ro/crate/1.1/context",
           "https://w3id.org/ro/terms/workflow-run/context"]
PROFILES = {"https://w3id.org/ro/wfrun/process/0.5": ("Process Run Crate", "0.5"),
            "https://w3id.org/ro/wfrun/workflow/0.5": ("Workflow Run Crate", "0.5"),
            "https://w3id.org/workflowhub/workflow-ro-crate/1.0": ("Workflow RO-Crate", "1.0")}
_STATUS = {"done": "CompletedActionStatus", "failed": "FailedActionStatus",
           "cancelled": "FailedActionStatus", "running": "ActiveActionStatus",
           "pending": "PotentialActionStatus"}
FILE_PREFIX = "file:"


@dataclass(frozen=True)
class FileFacts:
    """What is known of a path when the crate is written (size/sha256 None: missing)."""

    path: str
    size: int | None = None
    sha256: str | None = None
    directory: bool = False


@dataclass(frozen=True)
class Software:
    """A piece of software the run used, with its version."""

    name: str
    version: str
    url: str | None = None


def run_files(model: RunModel) -> tuple[list[str], list[str]]:
    """``(inputs, outputs)``: absolute paths tasks read but no task wrote, and wrote."""
    written = {label for t in model.tasks.values() for label in t.writes}
    read = {label for t in model.tasks.values() for label in t.reads}
    inputs = sorted(_path(label) for label in read - written if _is_file(label))
    outputs = sorted(_path(label) for label in written if _is_file(label))
    return inputs, outputs


def _is_file(label: str) -> bool:
    return label.startswith(FILE_PREFIX)


def _path(label: str) -> str:
    return label[len(FILE_PREFIX):]


def file_id(path: str, root: str) -> str:
    """A data entity's ``@id``: relative inside the crate's ``root``, else a file URI."""
    relative = os.path.relpath(path, root)
    if not relative.startswith(".."):
        return PurePosixPath(relative).as_posix()
    return PurePosixPath(path).as_uri()


def iso_time(t: float | None) -> str | None:
    """An epoch time as ISO 8601 in UTC (milliseconds)."""
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")


def build_crate(model: RunModel, files: Mapping[str, FileFacts], software: Sequence[Software],
                root: str, parts: Sequence[FileFacts] = (), created: float | None = None
                ) -> dict[str, Any]:
    """The crate's JSON-LD document. ``files`` describes the run's paths (and the app),
    ``parts`` other files of the run directory put in the crate (event log, records)."""
    app = model.run.app or "app"
    ids = _Ids(root)
    inputs, outputs = run_files(model)
    graph = [_descriptor(), *_profiles()]
    graph.append(_root(model, ids, app, [*inputs, *outputs], parts, created))
    graph.append(_workflow(model, ids, app, files.get(app), software))
    graph.append({"@id": "#python", "@type": "ComputerLanguage", "name": "Python",
                  "url": {"@id": "https://www.python.org/"}})
    graph += [_software(s) for s in software]
    graph.append(_run_action(model, ids, app, inputs, outputs))
    graph += _arguments(model)
    graph += [_data_entity(ids, files.get(p, FileFacts(p))) for p in [*inputs, *outputs]]
    graph += [{**_data_entity(ids, part), "about": {"@id": "#run"}} for part in parts]
    graph += _functions(model, app)
    graph += [_task_action(task, ids) for task in (model.tasks[t] for t in sorted(model.tasks))]
    graph += _intermediates(model)
    unique = {entity["@id"]: entity for entity in reversed(graph)}  # the first one wins
    return {"@context": CONTEXT, "@graph": list(reversed(unique.values()))}


class _Ids:
    def __init__(self, root: str) -> None:
        self.root = root

    def of(self, label_or_path: str) -> str:
        if _is_file(label_or_path):
            return file_id(_path(label_or_path), self.root)
        if label_or_path.startswith("/"):
            return file_id(label_or_path, self.root)
        return "#data-" + label_or_path.replace(":", "-")


def _descriptor() -> dict[str, Any]:
    return {"@id": METADATA_FILE, "@type": "CreativeWork", "about": {"@id": "./"},
            "conformsTo": [{"@id": "https://w3id.org/ro/crate/1.1"},
                           {"@id": "https://w3id.org/workflowhub/workflow-ro-crate/1.0"}]}


def _profiles() -> list[dict[str, Any]]:
    return [{"@id": url, "@type": "CreativeWork", "name": name, "version": version}
            for url, (name, version) in PROFILES.items()]


def _root(model: RunModel, ids: _Ids, app: str, paths: Sequence[str],
          parts: Sequence[FileFacts], created: float | None) -> dict[str, Any]:
    name = os.path.basename(app)
    return {"@id": "./", "@type": "Dataset", "name": f"hpcflow run of {name}",
            "description": f"Provenance of an hpcflow run of {name}: inputs, outputs and "
                           "every task execution.",
            "datePublished": iso_time(created if created is not None else model.end),
            "conformsTo": [{"@id": url} for url in PROFILES],
            "mainEntity": {"@id": ids.of(app)}, "mentions": [{"@id": "#run"}],
            "hasPart": [{"@id": ids.of(p)} for p in
                        dict.fromkeys([app, *paths, *(p.path for p in parts)])]}


def _workflow(model: RunModel, ids: _Ids, app: str, facts: FileFacts | None,
              software: Sequence[Software]) -> dict[str, Any]:
    entity = {**_data_entity(ids, facts or FileFacts(app)),
              "@type": ["File", "SoftwareSourceCode", "ComputationalWorkflow"],
              "programmingLanguage": {"@id": "#python"},
              "softwareRequirements": [{"@id": _software_id(s)} for s in software]}
    platform = model.run.software.get("platform")
    if platform:
        entity["runtimePlatform"] = platform
    return entity


def _software_id(software: Software) -> str:
    return f"#software-{software.name}"


def _software(software: Software) -> dict[str, Any]:
    entity: dict[str, Any] = {"@id": _software_id(software), "@type": "SoftwareApplication",
                              "name": software.name, "version": software.version}
    if software.url:
        entity["url"] = {"@id": software.url}
    return entity


def _run_action(model: RunModel, ids: _Ids, app: str, inputs: Sequence[str],
                outputs: Sequence[str]) -> dict[str, Any]:
    run = model.run
    status = {None: "ActiveActionStatus", 0: "CompletedActionStatus"}.get(
        run.status, "FailedActionStatus")
    action: dict[str, Any] = {
        "@id": "#run", "@type": "CreateAction",
        "name": f"hpcflow run {os.path.basename(app)} {' '.join(run.args)}".strip(),
        "instrument": {"@id": ids.of(app)},
        "startTime": iso_time(run.started or model.begin),
        "endTime": iso_time(run.finished),
        "actionStatus": {"@id": f"http://schema.org/{status}"},
        "object": [{"@id": ids.of(p)} for p in inputs] +
                  [{"@id": f"#argument-{i}"} for i in range(1, len(run.args) + 1)],
        "result": [{"@id": ids.of(p)} for p in outputs]}
    if run.status not in (None, 0):
        action["error"] = run.message or f"exit status {run.status}"
    return action


def _arguments(model: RunModel) -> list[dict[str, Any]]:
    return [{"@id": f"#argument-{i}", "@type": "PropertyValue", "name": f"argv[{i}]",
             "value": arg} for i, arg in enumerate(model.run.args, start=1)]


def _data_entity(ids: _Ids, facts: FileFacts) -> dict[str, Any]:
    entity: dict[str, Any] = {"@id": ids.of(facts.path),
                              "@type": "Dataset" if facts.directory else "File",
                              "name": os.path.basename(facts.path.rstrip("/")) or facts.path}
    if facts.size is not None:
        entity["contentSize"] = str(facts.size)
    if facts.sha256 is not None:
        entity["sha256"] = facts.sha256
    if facts.size is None and not facts.directory:
        entity["description"] = "missing when the crate was written"
    return entity


def _functions(model: RunModel, app: str) -> list[dict[str, Any]]:
    names = sorted({t.name for t in model.tasks.values()})
    return [{"@id": f"#function-{name}", "@type": "SoftwareApplication", "name": name,
             "description": f"@task function {name} of {os.path.basename(app)}"}
            for name in names]


def _task_action(task: TaskRun, ids: _Ids) -> dict[str, Any]:
    last = task.attempts[-1] if task.attempts else None
    action: dict[str, Any] = {
        "@id": f"#task-{task.id}", "@type": "CreateAction", "name": f"{task.name} #{task.id}",
        "instrument": {"@id": f"#function-{task.name}"},
        "actionStatus": {"@id": f"http://schema.org/{_STATUS[task.state]}"},
        "object": [{"@id": ids.of(label)} for label in task.reads],
        "result": [{"@id": ids.of(label)} for label in task.writes] if task.state == "done"
        else [],
        "description": _attempts_text(task)}
    if last is not None:
        action["startTime"] = iso_time(last.start)
        action["endTime"] = iso_time(last.end)
        action["location"] = last.host or last.node
    if task.reason:
        action["error"] = task.reason
    return action


def _attempts_text(task: TaskRun) -> str:
    if not task.attempts:
        return f"never ran ({task.state})"
    runs = "; ".join(f"attempt {a.number} on {a.node} (host {a.host or '?'}, pid "
                     f"{a.pid or '?'}): {a.outcome}" for a in task.attempts)
    return f"{task.state}: {runs}"


def _intermediates(model: RunModel) -> list[dict[str, Any]]:
    labels = {label for t in model.tasks.values() for label in (*t.reads, *t.writes)}
    writers = {label: t for t in model.tasks.values() for label in t.writes}
    entities = []
    for label in sorted(label for label in labels if not _is_file(label)):
        writer = writers.get(label)
        made = f"written by {writer.name} #{writer.id}" if writer else "from the app"
        entities.append({"@id": "#data-" + label.replace(":", "-"), "@type": "PropertyValue",
                         "name": label, "description": f"in-memory value {made}"})
    return entities
