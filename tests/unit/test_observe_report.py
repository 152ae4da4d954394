"""The HTML report (parsed: one bar per attempt, the critical path marked, statistics,
utilisation) and the RO-Crate document of a run."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from observe_events import T0, chain_run, node, ran, submitted

from hpcflow.observe.crate import (
    METADATA_FILE,
    FileFacts,
    Software,
    build_crate,
    file_id,
    iso_time,
    run_files,
)
from hpcflow.observe.model import build_model
from hpcflow.observe.report import nice_step, render_report


class Elements(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data):
        self.text.append(data)

    def having(self, tag: str, css: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag and css in a.get("class", "").split()]


def parse(page: str) -> Elements:
    parser = Elements()
    parser.feed(page)
    return parser


def test_report_has_a_bar_per_attempt_and_marks_the_critical_path():
    page = parse(render_report(build_model(chain_run())))
    bars = page.having("rect", "bar")
    assert sorted(int(b["data-task"]) for b in bars) == [1, 2, 3, 4, 5]
    assert sorted(int(b["data-task"]) for b in page.having("rect", "critical")) == [1, 2, 3]
    widths = {int(b["data-task"]): float(b["width"]) for b in bars}
    assert widths[4] == pytest.approx(2 * widths[1], rel=0.01)  # 2 s against 1 s
    text = "".join(page.text)
    assert "hpcflow run: chain.py" in text and "exit status 0" in text
    assert "3.00 s" in text  # the critical path's length, against the wall time
    assert {a.get("id") for _, a in page.tags} >= {"timeline", "utilisation", "functions",
                                                   "critical-path"}


def test_report_is_self_contained():
    page = render_report(build_model(chain_run()))
    tags = parse(page).tags
    assert not [t for t, _ in tags if t in ("script", "link", "img", "iframe")]
    assert not [a for _, a in tags if "src" in a or "href" in a]


def test_report_of_retries_failures_and_elastic_nodes():
    events = [node("n1"), node("n2", 0.5),
              {"t": T0 + 2.5, "event": "node_left", "node": "n2", "reason": "lost"},
              submitted(1, "f<script>"), submitted(2, "g", (1,))]
    events += ran(1, 0, 1, outcome="retrying") + ran(1, 1, 2, "n2", attempt=2)
    events += ran(2, 2, 3)
    page = render_report(build_model(events))
    parsed = parse(page)
    bars = parsed.having("rect", "bar")
    assert [b["data-outcome"] for b in bars] == ["retrying", "finished", "finished"]
    assert "f&lt;script&gt;" in page and "<script>" not in page
    assert {a.get("id") for _, a in parsed.tags} >= {"nodes"}  # nodes over time


@pytest.mark.parametrize("span, step", [(0.57, 0.1), (3.1, 0.5), (100, 20), (0, 1.0)])
def test_axis_steps_are_round(span, step):
    assert nice_step(span) == pytest.approx(step)


def crate_events() -> list[dict]:
    events = [node("n1"), {"t": T0, "event": "run_started", "app": "/apps/wc.py",
                           "args": ["in", "--out", "res.json"], "pid": 9,
                           "software": {"python": "3.11.7", "hpcflow": "0.1.0",
                                        "platform": "Linux"}}]
    events += [submitted(1, "count", reads=("file:/data/a.txt",)),
               submitted(2, "count", reads=("file:/data/b.txt",)),
               submitted(3, "merge", (1, 2), writes=("file:/out/total.txt",)),
               submitted(4, "touch", reads=("file:/out/total.txt",), deps=(3,),
                         writes=("file:/out/total.txt",))]
    events += ran(1, 0, 1) + ran(2, 0, 1) + ran(3, 1, 2) + ran(4, 2, 3)
    events.append({"t": T0 + 3.5, "event": "run_finished", "status": 0, "message": ""})
    return events


def test_run_files_are_what_tasks_read_but_never_wrote_and_what_they_wrote():
    assert run_files(build_model(crate_events())) == (["/data/a.txt", "/data/b.txt"],
                                                      ["/out/total.txt"])


def test_crate_lists_app_arguments_files_tasks_and_software():
    files = {"/data/a.txt": FileFacts("/data/a.txt", 5, "aa" * 32),
             "/data/b.txt": FileFacts("/data/b.txt", 7, "bb" * 32),
             "/out/total.txt": FileFacts("/out/total.txt", 3, "cc" * 32),
             "/apps/wc.py": FileFacts("/apps/wc.py", 100, "dd" * 32)}
    crate = build_crate(build_model(crate_events()), files,
                        [Software("python", "3.11.7"), Software("numpy", "2.0")],
                        root="/runs/r1", parts=[FileFacts("/runs/r1/events.jsonl", 10, "ee")])
    crate = json.loads(json.dumps(crate))
    graph = {e["@id"]: e for e in crate["@graph"]}
    assert len(graph) == len(crate["@graph"])  # ids are unique
    assert graph[METADATA_FILE]["about"] == {"@id": "./"}
    root = graph["./"]
    assert {"@id": "https://w3id.org/ro/wfrun/workflow/0.5"} in root["conformsTo"]
    app = graph[root["mainEntity"]["@id"]]
    assert app["@id"] == "file:///apps/wc.py" and "ComputationalWorkflow" in app["@type"]
    assert app["sha256"] == "dd" * 32 and app["runtimePlatform"] == "Linux"
    assert {graph[s["@id"]]["name"] for s in app["softwareRequirements"]} == {"python", "numpy"}
    run = graph["#run"]
    assert run["instrument"]["@id"] == app["@id"]
    assert run["actionStatus"]["@id"] == "http://schema.org/CompletedActionStatus"
    inputs = [graph[o["@id"]] for o in run["object"]]
    assert [(i.get("sha256"), i.get("contentSize")) for i in inputs if i["@type"] == "File"] \
        == [("aa" * 32, "5"), ("bb" * 32, "7")]
    assert [i["value"] for i in inputs if i["@type"] == "PropertyValue"] == [
        "in", "--out", "res.json"]
    assert [graph[r["@id"]]["sha256"] for r in run["result"]] == ["cc" * 32]
    task = graph["#task-3"]
    assert task["instrument"] == {"@id": "#function-merge"}
    assert task["object"] == [{"@id": "#data-fut-1"}, {"@id": "#data-fut-2"}]
    assert task["result"] == [{"@id": "file:///out/total.txt"}]
    assert task["location"] == "n1" and task["startTime"] == iso_time(T0 + 1)
    assert graph["events.jsonl"]["about"] == {"@id": "#run"}
    assert {"@id": "events.jsonl"} in root["hasPart"]


def test_file_ids_are_relative_inside_the_crate():
    assert file_id("/runs/r1/events.jsonl", "/runs/r1") == "events.jsonl"
    assert file_id("/data/x y.txt", "/runs/r1") == "file:///data/x%20y.txt"
    assert iso_time(0.0) == "1970-01-01T00:00:00.000+00:00"


def test_a_failed_run_and_a_missing_file():
    events = [*crate_events()[:-1], {"t": T0 + 4, "event": "run_finished", "status": 1,
                                     "message": "task merge #3 failed"}]
    crate = build_crate(build_model(events), {}, [], root="/runs/r1")
    graph = {e["@id"]: e for e in crate["@graph"]}
    assert graph["#run"]["error"] == "task merge #3 failed"
    assert graph["file:///data/a.txt"]["description"] == "missing when the crate was written"
