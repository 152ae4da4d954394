"""``report.html``: one self-contained page (inline SVG and CSS, no scripts or fetches)
with the timeline, utilisation, per-function statistics and the critical path."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from html import escape

from hpcflow.observe.analysis import (
    CriticalPath,
    FunctionSummary,
    UsagePoint,
    critical_path,
    function_stats,
    mean_utilisation,
    node_order,
    node_slots,
    utilisation,
)
from hpcflow.observe.model import STATES, Attempt, RunModel
from hpcflow.observe.taskgraph import function_colours

WIDTH = 1200
_LEFT = 150  # px for lane labels
_RIGHT = 20
_AXIS = 24
_CHART_HEIGHT = 160
_MAX_LISTED = 60  # critical path tasks listed by name
_CSS = """
body{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px}
.meta{color:#555;margin:2px 0} table{border-collapse:collapse;font-size:13px}
th,td{border-bottom:1px solid #ddd;padding:4px 10px;text-align:right}
th:first-child,td:first-child{text-align:left} svg{display:block;background:#fafafa}
svg text{font-size:11px;fill:#333} .lane{fill:#f0f0f0} .bar{stroke:#333;stroke-width:.3}
.bar.critical{stroke:#000;stroke-width:2} .bar.failed,.bar.retrying,.bar.cancelled{
stroke:#b71c1c;stroke-width:1.5;opacity:.7} .grid{stroke:#ddd}
.legend span{display:inline-block;margin-right:14px;font-size:13px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;border:1px solid #555}
ol{font-size:13px;columns:3}
"""


def render_report(model: RunModel, title: str = "") -> str:
    """The report page of a run, as HTML text."""
    path = critical_path(model)
    points = utilisation(model)
    colours = function_colours(t.name for t in model.tasks.values())
    name = title or os.path.basename(model.run.app or "") or "run"
    body = [_header(model, name), "<h2>Timeline</h2>", _legend(colours),
            timeline_svg(model, colours, set(path.tasks)), "<h2>Utilisation</h2>",
            _utilisation_section(model, points), "<h2>Per-function statistics</h2>",
            stats_table(function_stats(model)), "<h2>Critical path</h2>",
            _critical_section(model, path)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>hpcflow report: {escape(name)}</title><style>{_CSS}</style></head>\n"
            "<body>\n" + "\n".join(body) + "\n</body></html>\n")


def _header(model: RunModel, name: str) -> str:
    run = model.run
    states = [t.state for t in model.tasks.values()]
    counts = ", ".join(f"{states.count(s)} {s}" for s in STATES if states.count(s))
    status = "running or killed" if run.status is None else f"exit status {run.status}"
    cores = sum(n.cores for n in model.nodes)
    lines = [f"<h1>hpcflow run: {escape(name)}</h1>",
             f"<p class=\"meta\">{escape(' '.join([run.app or '?', *run.args]))}</p>",
             f"<p class=\"meta\">{status}; wall {_seconds(model.wall)}; "
             f"{len(model.tasks)} tasks ({counts or 'none'}); "
             f"{_plural(len(node_order(model)), 'node')}, {_plural(cores, 'core')}</p>"]
    if run.message:
        lines.append(f"<p class=\"meta\">{escape(run.message)}</p>")
    return "\n".join(lines)


def _legend(colours: Mapping[str, str]) -> str:
    items = "".join(f"<span><i style=\"background:{c}\"></i>{escape(n)}</span>"
                    for n, c in colours.items())
    return f"<p class=\"legend\">{items}</p>"


def timeline_svg(model: RunModel, colours: Mapping[str, str], critical: set[int]) -> str:
    """One lane per node and worker slot, one ``rect.bar`` per attempt."""
    where = node_slots(model)
    lanes = sorted(set(where.values()), key=lambda ns: (node_order(model).index(ns[0]), ns[1]))
    row = max(4, min(18, 1600 // max(1, len(lanes))))
    height = _AXIS + row * len(lanes) + 4
    parts = [f"<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" "
             f"height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\">", _axis(model, height)]
    lane_y = {lane: _AXIS + i * row for i, lane in enumerate(lanes)}
    for (node, slot), y in lane_y.items():
        parts.append(f"<rect class=\"lane\" x=\"{_LEFT}\" y=\"{y}\" "
                     f"width=\"{WIDTH - _LEFT - _RIGHT}\" height=\"{row - 1}\"/>")
        if row >= 10:
            parts.append(f"<text x=\"4\" y=\"{y + row - 5}\">{escape(node)} · {slot}</text>")
    for attempt in model.attempts():
        y = lane_y[where[(attempt.task, attempt.number)]]
        parts.append(_bar(model, attempt, y, row, colours, attempt.task in critical))
    parts.append("</svg>")
    return "\n".join(parts)


def _x(model: RunModel, t: float) -> float:
    span = model.wall or 1.0
    return _LEFT + (t - model.begin) / span * (WIDTH - _LEFT - _RIGHT)


def _bar(model: RunModel, attempt: Attempt, y: int, row: int, colours: Mapping[str, str],
         critical: bool) -> str:
    task = model.tasks[attempt.task]
    x0 = _x(model, attempt.start)
    end = attempt.end if attempt.end is not None else model.end
    width = max(1.0, _x(model, end) - x0)
    classes = " ".join(["bar", attempt.outcome, *(["critical"] if critical else [])])
    tip = (f"{task.name} #{task.id} attempt {attempt.number} on {attempt.node}"
           f" ({attempt.host or '?'} pid {attempt.pid or '?'}): {attempt.outcome}, "
           f"{_seconds(attempt.duration(model.end))}")
    return (f"<rect class=\"{classes}\" data-task=\"{task.id}\" "
            f"data-attempt=\"{attempt.number}\" data-outcome=\"{attempt.outcome}\" "
            f"x=\"{x0:.2f}\" y=\"{y}\" width=\"{width:.2f}\" height=\"{row - 1}\" "
            f"fill=\"{colours[task.name]}\"><title>{escape(tip)}</title></rect>")


def _axis(model: RunModel, height: int) -> str:
    step = nice_step(model.wall)
    parts = []
    for i in range(int(model.wall / step) + 1):
        x = _x(model, model.begin + i * step)
        parts.append(f"<line class=\"grid\" x1=\"{x:.2f}\" y1=\"{_AXIS - 6}\" x2=\"{x:.2f}\" "
                     f"y2=\"{height}\"/><text x=\"{x + 2:.2f}\" y=\"{_AXIS - 9}\">"
                     f"{_seconds(i * step)}</text>")
    return "\n".join(parts)


def nice_step(span: float, ticks: int = 8) -> float:
    """A round tick spacing (1, 2 or 5 times a power of ten) giving about ``ticks`` ticks."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _utilisation_section(model: RunModel, points: Sequence[UsagePoint]) -> str:
    mean = mean_utilisation(points, model.end)
    counts = {p.nodes for p in points}
    parts = [f"<p class=\"meta\">busy cores / allocated cores: <b>{mean:.0%}</b> "
             "on average</p>",
             step_chart(model, points, {"allocated cores": "allocated", "busy cores": "busy"},
                        "utilisation")]
    if len(counts - {0}) > 1:
        parts += ["<p class=\"meta\">nodes over time</p>",
                  step_chart(model, points, {"nodes": "nodes"}, "nodes")]
    return "\n".join(parts)


_SERIES_STYLE = {"busy": "fill:#80b1d3;fill-opacity:.6;stroke:#1f78b4",
                 "allocated": "fill:none;stroke:#333;stroke-dasharray:4 3",
                 "nodes": "fill:none;stroke:#e31a1c"}
_SERIES_TEXT = {"busy": "#1f78b4", "allocated": "#333", "nodes": "#e31a1c"}


def step_chart(model: RunModel, points: Sequence[UsagePoint], series: Mapping[str, str],
               ident: str) -> str:
    """A step chart of ``UsagePoint`` fields (``series``: legend text -> field name)."""
    top = max([1, *(getattr(p, f) for p in points for f in series.values())])
    base = _AXIS + _CHART_HEIGHT
    parts = [f"<svg id=\"{ident}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" "
             f"height=\"{base + 6}\" viewBox=\"0 0 {WIDTH} {base + 6}\">",
             _axis(model, base),
             f"<text x=\"4\" y=\"{_AXIS + 10}\">{top}</text>"
             f"<text x=\"4\" y=\"{base}\">0</text>"]
    for i, (text, name) in enumerate(series.items()):
        ys = [base - getattr(p, name) / top * _CHART_HEIGHT for p in points]
        coords = _steps([_x(model, p.t) for p in points], ys, _x(model, model.end), base)
        parts.append(f"<polyline class=\"series {name}\" points=\"{coords}\" "
                     f"style=\"{_SERIES_STYLE[name]}\"><title>{escape(text)}</title>"
                     "</polyline>")
        parts.append(f"<text x=\"{_LEFT + 10 + 130 * i}\" y=\"{_AXIS + 12}\" "
                     f"style=\"fill:{_SERIES_TEXT[name]}\">{escape(text)}</text>")
    parts.append("</svg>")
    return "\n".join(parts)


def _steps(xs: Sequence[float], ys: Sequence[float], x_end: float, base: float) -> str:
    if not xs:
        return ""
    coords = [(xs[0], base)]
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        if i:
            coords.append((x, ys[i - 1]))
        coords.append((x, y))
    coords += [(x_end, ys[-1]), (x_end, base)]
    return " ".join(f"{x:.2f},{y:.2f}" for x, y in coords)


def stats_table(stats: Sequence[FunctionSummary]) -> str:
    """The per-function table."""
    head = ("<tr><th>function</th><th>tasks</th><th>done</th><th>failed</th>"
            "<th>cancelled</th><th>attempts</th><th>total</th><th>mean</th><th>max</th></tr>")
    rows = [f"<tr><td>{escape(s.name)}</td><td>{s.tasks}</td><td>{s.done}</td>"
            f"<td>{s.failed}</td><td>{s.cancelled}</td><td>{s.attempts}</td>"
            f"<td>{_seconds(s.total)}</td><td>{_seconds(s.mean)}</td>"
            f"<td>{_seconds(s.longest)}</td></tr>" for s in stats]
    return f"<table id=\"functions\">{head}{''.join(rows)}</table>"


def _critical_section(model: RunModel, path: CriticalPath) -> str:
    items = [f"<li>{escape(model.tasks[t].name)} #{t}</li>" for t in path.tasks[:_MAX_LISTED]]
    more = len(path.tasks) - _MAX_LISTED
    if more > 0:
        items.append(f"<li>… and {more} more</li>")
    return (f"<p class=\"meta\" id=\"critical-path\">{len(path.tasks)} tasks, "
            f"<b>{_seconds(path.length)}</b> of run time, against "
            f"{_seconds(path.wall)} wall ({path.fraction:.0%}); "
            "outlined in black in the timeline</p>\n<ol>" + "".join(items) + "</ol>")


def _seconds(value: float) -> str:
    """Seconds for people: 850 µs, 12.3 ms, 4.56 s, 2 min 5 s, 1 h 02 min."""
    if value == 0:
        return "0"
    if value < 1e-3:
        return f"{value * 1e6:.0f} µs"
    if value < 1:
        return f"{value * 1e3:.1f} ms"
    if value < 120:
        return f"{value:.2f} s"
    if value < 7200:
        return f"{int(value // 60)} min {int(value % 60)} s"
    return f"{int(value // 3600)} h {int(value % 3600 // 60):02d} min"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")
