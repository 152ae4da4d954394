"""The task graph of a run, as a model and as Graphviz DOT text.

Nodes are filled by function and outlined by state; an edge per dependency, labelled with
the data it carries. Above ``max_nodes`` tasks the graph collapses to one node per function.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from hpcflow.observe.model import STATES, RunModel, TaskRun

#: Above this many tasks, ``build_graph`` draws one node per function.
MAX_NODES = 150
#: Fill colours given to functions in name order (colour-blind friendly, light).
PALETTE = ("#a6cee3", "#b2df8a", "#fdbf6f", "#cab2d6", "#fb9a99", "#ffff99", "#8dd3c7",
           "#bebada", "#80b1d3", "#fccde5", "#d9d9d9", "#ccebc5")
#: Outline colour and style per task state.
STATE_STYLE = {"done": ("#1b5e20", "solid"), "running": ("#0d47a1", "bold"),
               "pending": ("#757575", "dashed"), "failed": ("#b71c1c", "bold"),
               "cancelled": ("#9e9e9e", "dotted")}
#: When collapsing, a function shows the first of these states any of its tasks is in.
_STATE_PRIORITY = ("failed", "cancelled", "running", "pending", "done")
_MAX_LABEL = 40


@dataclass(frozen=True)
class GraphNode:
    """A task (or, collapsed, every task of one function)."""

    id: str
    label: str
    function: str
    state: str
    fill: str
    color: str
    style: str
    count: int = 1
    tooltip: str = ""


@dataclass(frozen=True)
class GraphEdge:
    """A dependency (or, collapsed, ``count`` of them) and the data it carries."""

    src: str
    dst: str
    label: str
    count: int = 1


@dataclass(frozen=True)
class GraphModel:
    """What ``hpcflow graph`` draws."""

    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]
    collapsed: bool
    colours: Mapping[str, str]


def function_colours(names: Iterable[str]) -> dict[str, str]:
    """A fill colour per function name, stable for a given set of names."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(sorted(set(names)))}


def data_label(label: str) -> str:
    """A short name for a data label: a file's base name, ``result``, ``object``."""
    kind, _, ident = label.partition(":")
    if kind == "file":
        return os.path.basename(ident.rstrip("/")) or ident
    return {"fut": "result", "obj": "object"}.get(kind, label)


def build_graph(model: RunModel, max_nodes: int = MAX_NODES) -> GraphModel:
    """The task graph; collapsed by function when there are more than ``max_nodes`` tasks."""
    tasks = [model.tasks[t] for t in sorted(model.tasks)]
    colours = function_colours(t.name for t in tasks)
    if len(tasks) > max_nodes:
        return _collapsed(model, tasks, colours)
    nodes = tuple(_task_node(t, colours) for t in tasks)
    edges = tuple(GraphEdge(f"t{d}", f"t{t.id}", _edge_label(model.tasks[d], t))
                  for t in tasks for d in t.deps if d in model.tasks)
    return GraphModel(nodes, edges, False, colours)


def _task_node(task: TaskRun, colours: Mapping[str, str]) -> GraphNode:
    color, style = STATE_STYLE.get(task.state, STATE_STYLE["pending"])
    tries = f", {len(task.attempts)} attempts" if len(task.attempts) > 1 else ""
    return GraphNode(f"t{task.id}", f"{task.name} #{task.id}", task.name, task.state,
                     colours[task.name], color, style,
                     tooltip=f"{task.name} #{task.id}: {task.state}{tries}")


def _edge_label(src: TaskRun, dst: TaskRun) -> str:
    carried = [data_label(label) for label in dst.reads if label in src.writes]
    return _shorten(", ".join(dict.fromkeys(carried)))


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_LABEL else text[:_MAX_LABEL - 1] + "…"


def _collapsed(model: RunModel, tasks: Sequence[TaskRun],
               colours: Mapping[str, str]) -> GraphModel:
    by_name: dict[str, list[TaskRun]] = {}
    for task in tasks:
        by_name.setdefault(task.name, []).append(task)
    nodes = tuple(_function_node(name, group, colours) for name, group in by_name.items())
    links: Counter[tuple[str, str]] = Counter()
    carried: dict[tuple[str, str], dict[str, None]] = {}
    for task in tasks:
        for dep in (model.tasks[d] for d in task.deps if d in model.tasks):
            key = (dep.name, task.name)
            links[key] += 1
            kinds = carried.setdefault(key, {})
            kinds.update(dict.fromkeys(_kind(label) for label in task.reads
                                       if label in dep.writes))
    edges = tuple(GraphEdge(f"f_{_ident(a)}", f"f_{_ident(b)}",
                            _shorten(f"{n} x " + ", ".join(carried[(a, b)])), n)
                  for (a, b), n in links.items())
    return GraphModel(nodes, edges, True, colours)


def _function_node(name: str, group: Sequence[TaskRun],
                   colours: Mapping[str, str]) -> GraphNode:
    counts = Counter(t.state for t in group)
    state = next((s for s in _STATE_PRIORITY if counts[s]), "done")
    color, style = STATE_STYLE[state]
    summary = ", ".join(f"{counts[s]} {s}" for s in STATES if counts[s])
    return GraphNode(f"f_{_ident(name)}", f"{name} x{len(group)}\n{summary}", name, state,
                     colours[name], color, style, count=len(group),
                     tooltip=f"{name}: {summary}")


def _kind(label: str) -> str:
    kind = label.partition(":")[0]
    return {"fut": "results", "obj": "objects", "file": "files"}.get(kind, kind)


def _ident(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


def to_dot(graph: GraphModel, title: str = "") -> str:
    """Graphviz DOT text of ``graph`` (left to right, with a legend of the states)."""
    lines = ["digraph hpcflow {", "  rankdir=LR;",
             f"  graph [fontname=\"Helvetica\", label={_quote(title)}, labelloc=t];",
             "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];",
             "  edge [fontname=\"Helvetica\", fontsize=9, color=\"#555555\"];"]
    for node in graph.nodes:
        style = "rounded,filled" + ("" if node.style == "solid" else f",{node.style}")
        lines.append(f"  {_quote(node.id)} [label={_quote(node.label)}, "
                     f"fillcolor={_quote(node.fill)}, color={_quote(node.color)}, "
                     f"style={_quote(style)}, tooltip={_quote(node.tooltip)}];")
    for edge in graph.edges:
        width = f", penwidth={min(1 + edge.count / 10, 5):.1f}" if edge.count > 1 else ""
        lines.append(f"  {_quote(edge.src)} -> {_quote(edge.dst)} "
                     f"[label={_quote(edge.label)}{width}];")
    lines += _legend({node.state for node in graph.nodes})
    lines.append("}")
    return "\n".join(lines) + "\n"


def _legend(states: set[str]) -> list[str]:
    shown = [s for s in STATES if s in states]
    if not shown:
        return []
    lines = ["  subgraph cluster_legend {", "    label=\"state\"; fontsize=10; color=\"#cccccc\";"]
    for state in shown:
        color, style = STATE_STYLE[state]
        lines.append(f"    {_quote('legend_' + state)} [label={_quote(state)}, "
                     f"fillcolor=\"white\", color={_quote(color)}, "
                     f"style={_quote('rounded,filled,' + style)}, fontsize=10];")
    return [*lines, "  }"]


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")
    return f"\"{escaped}\""
