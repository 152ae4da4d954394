"""Live counts of a run from its events, fed one at a time: tasks per state, per node."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from hpcflow.observe.model import STATE_AFTER, STATES, Event


class LiveCounts:
    """Folds events as they arrive (e.g. tailing ``events.jsonl`` of a running job)."""

    def __init__(self) -> None:
        self.state: dict[int, str] = {}
        self.node: dict[int, str] = {}
        self.nodes: dict[str, bool] = {}  # name -> still in the run
        self.finished: int | None = None  # the app's exit status once it ended
        self.scaling: list[str] = []  # elastic runs: the latest actions and their reasons
        self.quarantined: set[str] = set()

    def feed(self, events: Iterable[Event]) -> LiveCounts:
        """Take more events (in log order); returns self."""
        for event in events:
            kind, task = event.get("event"), event.get("task")
            if kind in STATE_AFTER and isinstance(task, int):
                self.state[task] = STATE_AFTER[kind]
                if kind == "started":
                    self.node[task] = str(event.get("node"))
            elif kind == "node_joined":
                self.nodes[str(event.get("node"))] = True
            elif kind == "node_left":
                self.nodes[str(event.get("node"))] = False
            elif kind == "run_finished":
                self.finished = event.get("status")
            elif kind == "elastic":
                self._scaled(event)
        return self

    def _scaled(self, event: Event) -> None:
        what = str(event.get("what"))
        if what == "quarantined":
            self.quarantined.add(str(event.get("node")))
        if what != "decision" or event.get("action") != "nothing":
            self.scaling = [*self.scaling[-2:], f"{what}: {event.get('reason')}"]

    def by_state(self) -> dict[str, int]:
        """Tasks per state, every state present (0 when none)."""
        counts = Counter(self.state.values())
        return {s: counts[s] for s in STATES}

    def by_node(self) -> dict[str, dict[str, int]]:
        """Per node that ran a task (or joined): tasks running, done, failed on it."""
        table = {name: {"running": 0, "done": 0, "failed": 0} for name in self.nodes}
        for task, node in self.node.items():
            state = self.state[task]
            if state in ("running", "done", "failed"):
                table.setdefault(node, {"running": 0, "done": 0, "failed": 0})[state] += 1
        return table


def progress_line(counts: LiveCounts) -> str:
    """One line: ``[hpcflow] done 3  running 2  pending 5  failed 0  (2 nodes)``."""
    states = counts.by_state()
    alive = sum(counts.nodes.values())
    return (f"[hpcflow] done {states['done']}  running {states['running']}  pending "
            f"{states['pending']}  failed {states['failed'] + states['cancelled']}  "
            f"({alive} node{'' if alive == 1 else 's'})")


def status_lines(counts: LiveCounts) -> list[str]:
    """The lines ``hpcflow status`` adds for a run with an event log."""
    states = counts.by_state()
    lines = ["tasks      " + "  ".join(f"{s} {states[s]}" for s in STATES)]
    for name, row in counts.by_node().items():
        gone = "" if counts.nodes.get(name, True) else "  (left)"
        lines.append(f"node       {name}: running {row['running']}  done {row['done']}  "
                     f"failed {row['failed']}{gone}")
    lines += [f"elastic    {line}" for line in counts.scaling]
    if counts.quarantined:
        lines.append(f"quarantine {', '.join(sorted(counts.quarantined))}")
    if counts.finished is not None:
        lines.append(f"app        finished, exit status {counts.finished}")
    return lines
