"""``hpcflow graph``, ``trace``, ``report``, ``provenance`` and ``status`` on real runs of the
examples: the artifacts parse (Graphviz, JSON, HTML, a Chromium screenshot) and match the
run's event log; a killed run keeps its history; runs get a default run directory."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import stat
import struct
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from hpcflow.runtime.events import read_events

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TIMEOUT = 120

FILES_APP = '''
import sys
from hpcflow import FILE_IN, FILE_OUT, task, wait_on_file

@task(src=FILE_IN, dst=FILE_OUT)
def upper(src, dst):
    with open(src) as fh, open(dst, "w") as out:
        out.write(fh.read().upper())

@task(a=FILE_IN, b=FILE_IN, dst=FILE_OUT)
def join(a, b, dst):
    with open(a) as fa, open(b) as fb, open(dst, "w") as out:
        out.write(fa.read() + fb.read())

d = sys.argv[1]
upper(f"{d}/a.txt", f"{d}/A.txt")
upper(f"{d}/b.txt", f"{d}/B.txt")
join(f"{d}/A.txt", f"{d}/B.txt", f"{d}/AB.txt")
wait_on_file(f"{d}/AB.txt")
'''

SLOW_APP = '''
import time
from hpcflow import task, wait_on

@task(returns=1)
def quick():
    return 1

@task(returns=1)
def slow(x):
    time.sleep(60)
    return x

print(wait_on(slow(quick())))
'''


def hpcflow(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hpcflow", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=TIMEOUT,
                          stdin=subprocess.DEVNULL)


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def wordcount(tmp_path_factory) -> Path:
    """The run directory of wordcount over 6 generated files (a tree of merges)."""
    tmp = tmp_path_factory.mktemp("wordcount")
    run_dir = tmp / "run"
    ok(hpcflow("run", "--quiet", "--workers", "2", "--run-dir", run_dir,
               EXAMPLES / "wordcount.py", "--", tmp / "data", "--generate", "6",
               "--words", "300", cwd=tmp))
    return run_dir


def events_of(run_dir: Path) -> list[dict]:
    return read_events(str(run_dir / "events.jsonl"))


def test_graph_is_valid_graphviz_with_a_node_per_task(wordcount, tmp_path):
    dot_file = tmp_path / "graph.dot"
    assert ok(hpcflow("graph", wordcount, "-o", dot_file)).strip() == str(dot_file)
    svg = subprocess.run(["dot", "-Tsvg", str(dot_file)], capture_output=True, text=True,
                         timeout=TIMEOUT, check=True).stdout
    titles = [g.findtext("{http://www.w3.org/2000/svg}title")
              for g in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}g")
              if g.get("class") == "node"]
    submitted = [e for e in events_of(wordcount) if e["event"] == "submitted"]
    assert sorted(t for t in titles if t.startswith("t")) == sorted(
        f"t{e['task']}" for e in submitted)
    assert "count #1" in dot_file.read_text() and "merge #" in dot_file.read_text()
    default = Path(ok(hpcflow("graph", wordcount)).strip())
    assert default == wordcount / "graph.svg"
    ET.fromstring(default.read_text())  # well-formed SVG from dot
    collapsed = tmp_path / "small.dot"
    ok(hpcflow("graph", wordcount, "-o", collapsed, "--max-nodes", "3"))
    assert "count x6" in collapsed.read_text() and "merge x5" in collapsed.read_text()


def test_trace_has_a_slice_per_finished_task_and_an_arrow_per_dependency(wordcount, tmp_path):
    out = tmp_path / "trace.json"
    ok(hpcflow("trace", wordcount, "-o", out))
    trace = json.loads(out.read_text())["traceEvents"]
    events = events_of(wordcount)
    finished = sorted(e["task"] for e in events if e["event"] == "finished")
    assert sorted(e["args"]["task"] for e in trace if e["ph"] == "X") == finished
    edges = sum(len(e["deps"]) for e in events if e["event"] == "submitted")
    starts = [e["id"] for e in trace if e["ph"] == "s"]
    assert edges == 10 and len(starts) == edges  # 6 counts, 5 merges of 2 each
    assert sorted(starts) == sorted(e["id"] for e in trace if e["ph"] == "f")
    node = next(e for e in events if e["event"] == "node_joined")["node"]
    assert {"name": f"node {node}"} in [e["args"] for e in trace if e["ph"] == "M"]


class Bars(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.bars: list[dict[str, str]] = []

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag == "rect" and "bar" in (found.get("class") or "").split():
            self.bars.append(found)


def png_facts(path: Path) -> tuple[int, int, set[int]]:
    """Width, height and the distinct byte values of a PNG's (filtered) pixel data."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, idat, size = 8, b"", (0, 0)
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        chunk = data[offset + 8:offset + 8 + length]
        if kind == b"IHDR":
            size = struct.unpack(">II", chunk[:8])
        elif kind == b"IDAT":
            idat += chunk
        offset += 12 + length
    return size[0], size[1], set(zlib.decompress(idat))


def test_report_renders_in_headless_chromium(wordcount, tmp_path):
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed (scripts/test installs it)"
    page = tmp_path / "report.html"
    ok(hpcflow("report", wordcount, "-o", page))
    parser = Bars()
    parser.feed(page.read_text())
    finished = [e for e in events_of(wordcount) if e["event"] == "finished"]
    assert len(parser.bars) == len(finished) == 11  # one bar per task (no retries here)
    shot = tmp_path / "report.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
                    "--window-size=1280,900", page.as_uri()],
                   capture_output=True, timeout=TIMEOUT, check=False, cwd=tmp_path)
    assert shot.is_file(), "chromium wrote no screenshot"
    width, height, values = png_facts(shot)
    assert (width, height) == (1280, 900)
    assert shot.stat().st_size > 20_000 and len(values) > 64  # text, bars: not one colour


def test_provenance_lists_input_and_output_files_with_sha256(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("alpha\n")
    (data / "b.txt").write_text("bravo\n")
    app = tmp_path / "files_app.py"
    app.write_text(FILES_APP)
    run_dir = tmp_path / "run"
    ok(hpcflow("run", "--quiet", "--run-dir", run_dir, app, "--", data, cwd=tmp_path))
    crate_path = Path(ok(hpcflow("provenance", run_dir)).strip())
    assert crate_path == run_dir / "ro-crate-metadata.json"
    graph = {e["@id"]: e for e in json.loads(crate_path.read_text())["@graph"]}
    run = graph["#run"]

    def sha(name: str) -> str:
        return hashlib.sha256((data / name).read_bytes()).hexdigest()

    inputs = {graph[o["@id"]]["name"]: graph[o["@id"]] for o in run["object"]
              if graph[o["@id"]]["@type"] == "File"}
    assert {n: e["sha256"] for n, e in inputs.items()} == {"a.txt": sha("a.txt"),
                                                            "b.txt": sha("b.txt")}
    assert inputs["a.txt"]["contentSize"] == "6"
    outputs = {graph[r["@id"]]["name"]: graph[r["@id"]]["sha256"] for r in run["result"]}
    assert outputs == {n: sha(n) for n in ("A.txt", "B.txt", "AB.txt")}
    assert (data / "AB.txt").read_text() == "ALPHA\nBRAVO\n"
    join = next(e for e in graph.values() if e.get("name") == "join #3")
    assert [graph[o["@id"]]["name"] for o in join["object"]] == ["A.txt", "B.txt"]
    assert join["result"] == [{"@id": (data / "AB.txt").as_uri()}]
    assert join["startTime"] <= join["endTime"] and join["location"]
    app_entity = graph[graph["./"]["mainEntity"]["@id"]]
    assert app_entity["sha256"] == hashlib.sha256(app.read_bytes()).hexdigest()
    names = {graph[s["@id"]]["name"] for s in app_entity["softwareRequirements"]}
    assert {"python", "hpcflow"} <= names
    assert graph["events.jsonl"]["about"] == {"@id": "#run"}


def test_status_of_a_run_directory(wordcount):
    lines = ok(hpcflow("status", wordcount)).splitlines()
    assert lines[0] == "tasks      pending 0  running 0  done 11  failed 0  cancelled 0"
    assert lines[-1] == "app        finished, exit status 0"


def test_run_is_named_by_a_slurm_job_id_through_job_json(wordcount, tmp_path):
    run_dir = tmp_path / "hpcflow-runs" / "hpcflow-wordcount-20240101-000000"
    run_dir.mkdir(parents=True)
    shutil.copy(wordcount / "events.jsonl", run_dir)
    (run_dir / "job.json").write_text(json.dumps({"job_id": "4242"}))
    assert ok(hpcflow("trace", "4242", cwd=tmp_path)).strip() == str(run_dir / "trace.json")
    assert ok(hpcflow("report", cwd=tmp_path)).strip() == str(run_dir / "report.html")
    done = hpcflow("graph", "4243", cwd=tmp_path)
    assert done.returncode == 2 and "no run directory of job 4243" in done.stderr


def test_a_run_gets_a_private_run_directory_named_in_the_summary(tmp_path):
    app = tmp_path / "files_app.py"
    app.write_text(FILES_APP)
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "b.txt").write_text("b")
    done = hpcflow("run", app, "--", tmp_path, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"run directory {tmp_path / 'hpcflow-runs' / 'files_app-'}")
    run_dir = Path(last.removeprefix("run directory "))
    assert re.fullmatch(r"files_app-\d{8}-\d{6}-\d+", run_dir.name)
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700
    assert {"events.jsonl", "records.jsonl", "status.json"} <= set(os.listdir(run_dir))
    assert done.stdout == ""


def test_a_killed_run_keeps_its_history(tmp_path):
    app = tmp_path / "slow_app.py"
    app.write_text(SLOW_APP)
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "hpcflow", "run", "--quiet", "--run-dir",
                             str(run_dir), str(app)], cwd=tmp_path, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not any(e["event"] == "started" and e["task"] == 2
                      for e in _events_if_any(run_dir)):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
        time.sleep(0.3)  # the log is flushed within 0.1 s
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    lines = ok(hpcflow("status", run_dir)).splitlines()
    assert lines[0] == "tasks      pending 0  running 1  done 1  failed 0  cancelled 0"
    trace = json.loads(Path(ok(hpcflow("trace", run_dir)).strip()).read_text())
    assert sorted(e["cat"] for e in trace["traceEvents"] if e["ph"] == "X") == [
        "finished", "running"]
    assert "running or killed" in Path(ok(hpcflow("report", run_dir)).strip()).read_text()


def _events_if_any(run_dir: Path) -> list[dict]:
    return read_events(str(run_dir / "events.jsonl")) if (run_dir / "events.jsonl").exists() \
        else []
