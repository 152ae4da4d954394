"""The pure observe layer: the model of an event log, critical path, utilisation, slots,
the task graph, the Chrome trace and live counts."""

from __future__ import annotations

import json

import pytest
from observe_events import T0, chain_run, node, ran, submitted

from hpcflow.observe.analysis import (
    assign_slots,
    critical_path,
    function_stats,
    mean_utilisation,
    utilisation,
)
from hpcflow.observe.model import Attempt, build_model
from hpcflow.observe.status import LiveCounts, progress_line, status_lines
from hpcflow.observe.taskgraph import (
    PALETTE,
    STATE_STYLE,
    build_graph,
    data_label,
    function_colours,
    to_dot,
)
from hpcflow.observe.trace import chrome_trace


def test_model_of_a_run():
    model = build_model(chain_run())
    assert sorted(model.tasks) == [1, 2, 3, 4, 5]
    assert model.tasks[2].deps == (1,) and model.tasks[2].reads == ("fut:1",)
    assert {t.state for t in model.tasks.values()} == {"done"}
    attempt = model.tasks[4].attempts[0]
    assert (attempt.start, attempt.end, attempt.host, attempt.pid) == (T0, T0 + 2, "n1", 104)
    assert model.run.app == "/apps/chain.py" and model.run.status == 0
    assert model.run.software["python"] == "3.11.7" and model.run.modules == ("numpy",)
    assert model.nodes[0].cores == 2 and model.nodes[0].left is None
    assert model.wall == pytest.approx(3.101, abs=0.002)


def test_retries_failures_cancellations_and_a_killed_run():
    events = [node("n1"), submitted(1, "f"), submitted(2, "g", (1,)), submitted(3, "h")]
    events += ran(1, 0, 1, outcome="retrying") + ran(1, 1, 2, attempt=2, outcome="failed")
    events.append({"t": T0 + 2.1, "event": "cancelled", "task": 2, "reason": "f failed"})
    events.append({"t": T0 + 2.2, "event": "started", "task": 3, "node": "n1", "attempt": 1,
                   "version": "h", "cores": 1})  # still running when the log ends
    model = build_model(events)
    assert [a.outcome for a in model.tasks[1].attempts] == ["retrying", "failed"]
    assert model.tasks[1].state == "failed" and model.tasks[1].reason == "boom"
    assert model.tasks[2].state == "cancelled" and model.tasks[2].attempts == ()
    assert model.tasks[3].state == "running" and model.tasks[3].attempts[0].end is None


def test_unknown_events_and_foreign_tasks_are_ignored():
    events = [{"t": T0, "event": "something_new"}, {"event": "submitted"},
              {"t": T0, "event": "finished", "task": 99}, submitted(1, "f")]
    model = build_model(events)
    assert list(model.tasks) == [1]


def test_the_critical_path_of_a_known_chain_is_the_chain():
    path = critical_path(build_model(chain_run()))
    assert path.tasks == (1, 2, 3)
    assert path.length == pytest.approx(3.0)
    assert path.fraction == pytest.approx(3.0 / 3.101, abs=0.01)


def test_critical_path_of_no_tasks_is_empty():
    path = critical_path(build_model([node("n1")]))
    assert path.tasks == () and path.length == 0.0


def test_utilisation_counts_busy_and_allocated_cores():
    model = build_model(chain_run())
    points = utilisation(model)
    busy = {round(p.t - T0, 3): p.busy for p in points}
    assert busy[0.0] == 2 and busy[2.0] == 2 and busy[2.5] == 1 and busy[3.0] == 0
    assert {p.allocated for p in points} == {2} and {p.nodes for p in points} == {1}
    # 1 + 2 + 1 + 1 + 0.5 busy core-seconds over 2 cores x 3.101 s
    assert mean_utilisation(points, model.end) == pytest.approx(5.5 / (2 * 3.101), abs=0.01)


def test_utilisation_of_an_elastic_run_follows_the_nodes():
    events = [node("n1", 0), node("n2", 1, cores=4),
              {"t": T0 + 3, "event": "node_left", "node": "n2", "reason": "scaled in"}]
    points = utilisation(build_model(events))
    assert [(p.allocated, p.nodes) for p in points] == [(2, 1), (6, 2), (2, 1)]


def test_function_stats():
    stats = {s.name: s for s in function_stats(build_model(chain_run()))}
    assert stats["step"].tasks == 3 and stats["step"].done == 3
    assert stats["step"].total == pytest.approx(3.0) and stats["step"].mean == pytest.approx(1)
    assert stats["long"].longest == pytest.approx(2.0)


@pytest.mark.parametrize("intervals, slots", [
    ([(0, 1), (1, 2), (2, 3)], [0, 0, 0]),  # back to back: one slot
    ([(0, 2), (1, 3), (2, 4)], [0, 1, 0]),  # overlapping: the lowest free slot
    ([(0, 5), (1, 2), (1, 3), (2, 4)], [0, 1, 2, 1]),
])
def test_slots_never_overlap(intervals, slots):
    attempts = [Attempt(i + 1, 1, "n", float(s), float(e)) for i, (s, e) in enumerate(intervals)]
    got = assign_slots(attempts, until=10.0)
    assert [got[(i + 1, 1)] for i in range(len(intervals))] == slots


def test_graph_colours_by_function_and_state():
    events = [*chain_run()[:-1], submitted(6, "never", (5,))]
    graph = build_graph(build_model(events))
    nodes = {n.id: n for n in graph.nodes}
    colours = function_colours(["step", "long", "tail", "never"])
    assert nodes["t1"].fill == colours["step"] == nodes["t3"].fill
    assert nodes["t4"].fill == colours["long"] != colours["step"]
    assert set(colours.values()) <= set(PALETTE)
    assert nodes["t1"].color == STATE_STYLE["done"][0]
    assert (nodes["t6"].color, nodes["t6"].style) == STATE_STYLE["pending"]
    assert {(e.src, e.dst, e.label) for e in graph.edges} == {
        ("t1", "t2", "result"), ("t2", "t3", "result"), ("t4", "t5", "result"),
        ("t5", "t6", "result")}
    assert not graph.collapsed


def test_large_graphs_collapse_by_function():
    graph = build_graph(build_model(chain_run()), max_nodes=3)
    assert graph.collapsed
    nodes = {n.function: n for n in graph.nodes}
    assert nodes["step"].count == 3 and "3 done" in nodes["step"].label
    edges = {(e.src, e.dst): e for e in graph.edges}
    assert edges[("f_step", "f_step")].count == 2
    assert edges[("f_long", "f_tail")].count == 1


@pytest.mark.parametrize("label, short", [
    ("file:/data/in/part-1.txt", "part-1.txt"), ("fut:12", "result"), ("obj:1234", "object"),
    ("coll:9", "coll:9")])
def test_data_labels(label, short):
    assert data_label(label) == short


def test_dot_text_quotes_everything():
    events = [node("n1"), submitted(1, 'we"ird\\name', writes=("file:/a/b \"c\".txt",)),
              submitted(2, "g", (1,), reads=("file:/a/b \"c\".txt",))]
    dot = to_dot(build_graph(build_model(events)), title="t")
    assert 'label="we\\"ird\\\\name #1"' in dot
    assert '"t1" -> "t2" [label="b \\"c\\".txt"]' in dot
    assert dot.startswith("digraph hpcflow {") and dot.rstrip().endswith("}")


def test_trace_has_a_slice_per_attempt_and_an_arrow_per_dependency():
    model = build_model(chain_run())
    trace = json.loads(json.dumps(chrome_trace(model)))  # plain JSON
    slices = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert sorted(e["args"]["task"] for e in slices) == [1, 2, 3, 4, 5]
    assert {e["cat"] for e in slices} == {"finished"}
    first = next(e for e in slices if e["args"]["task"] == 1)
    assert first["ts"] == pytest.approx((T0 - model.begin) * 1e6)  # µs from the first event
    assert (first["dur"], first["name"]) == (1e6, "step")
    starts = [e for e in trace["traceEvents"] if e["ph"] == "s"]
    ends = [e for e in trace["traceEvents"] if e["ph"] == "f"]
    assert len(starts) == len(ends) == 3  # 1->2, 2->3, 4->5
    assert sorted(e["id"] for e in starts) == sorted(e["id"] for e in ends)
    assert all(e["bp"] == "e" for e in ends)
    by_task = {e["args"]["task"]: e for e in slices}
    for start, end in zip(starts, ends, strict=True):  # each arrow leaves inside its slice
        src = next(s for s in slices if (s["pid"], s["tid"]) == (start["pid"], start["tid"])
                   and s["ts"] <= start["ts"] <= s["ts"] + s["dur"])
        dst = next(s for s in slices if (s["pid"], s["tid"]) == (end["pid"], end["tid"])
                   and s["ts"] <= end["ts"] <= s["ts"] + s["dur"])
        assert dst["args"]["task"] in {2, 3, 5}
        assert src["args"]["task"] in model.tasks[dst["args"]["task"]].deps
    assert by_task[1]["tid"] != by_task[4]["tid"]  # they overlapped: two worker tracks
    names = {e["args"].get("name") for e in trace["traceEvents"] if e["ph"] == "M"}
    assert {"node n1", "worker 0", "worker 1"} <= names


def test_trace_has_one_process_per_node():
    events = [node("a"), node("b"), submitted(1, "f"), submitted(2, "f", (1,))]
    events += ran(1, 0, 1, node_name="a") + ran(2, 1, 2, node_name="b")
    trace = chrome_trace(build_model(events))
    slices = {e["args"]["task"]: e for e in trace["traceEvents"] if e["ph"] == "X"}
    assert slices[1]["pid"] != slices[2]["pid"]
    flow = [e for e in trace["traceEvents"] if e["ph"] in "sf"]
    assert [(e["ph"], e["pid"]) for e in flow] == [("s", slices[1]["pid"]),
                                                   ("f", slices[2]["pid"])]


def test_live_counts_per_state_and_node():
    counts = LiveCounts()
    events = chain_run()
    counts.feed(events[:8])
    counts.feed(events[8:11])
    by_state = counts.by_state()
    assert sum(by_state.values()) == 5 and by_state["running"] >= 1
    counts.feed(events[11:])
    assert counts.by_state() == {"pending": 0, "running": 0, "done": 5, "failed": 0,
                                 "cancelled": 0}
    assert counts.by_node() == {"n1": {"running": 0, "done": 5, "failed": 0}}
    assert progress_line(counts) == ("[hpcflow] done 5  running 0  pending 0  failed 0  "
                                     "(1 node)")
    assert status_lines(counts) == [
        "tasks      pending 0  running 0  done 5  failed 0  cancelled 0",
        "node       n1: running 0  done 5  failed 0", "app        finished, exit status 0"]
