"""The event log's writer process: events pickled to it come out as the same JSON lines;
a value that does not pickle, or a writer that died, loses no event."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from hpcflow.runtime.events import FLUSH_EVERY, EventLog, read_events


def _wait_for(path: Path, count: int) -> list[dict]:
    deadline = time.monotonic() + 50 * FLUSH_EVERY
    while len(events := read_events(str(path))) < count:
        assert time.monotonic() < deadline, f"{len(events)} of {count} events written"
        time.sleep(FLUSH_EVERY / 10)
    return events


def test_events_are_encoded_by_a_process_of_their_own(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    log = EventLog(str(path)).open()
    try:
        writer = log._sink._proc  # type: ignore[union-attr]
        assert writer.pid != os.getpid() and writer.poll() is None
        log.emit("started", task=1, node="n\u00e9", cores=2, reads=["fut:3"], group=None)
        log.row("finished", 1, "n1", 1, "h", 7, 1.5, 2.5)
        log.emit("odd", value=lambda: None)  # does not pickle: encoded here instead
        time.sleep(2 * FLUSH_EVERY)
        log.emit("path", where=Path("/x"))  # no plain value: pickled, not marshalled
        events = _wait_for(path, 4)
    finally:
        log.close()
    assert writer.poll() == 0  # it ends with the log
    assert {k: v for k, v in events[0].items() if k != "t"} == {
        "event": "started", "task": 1, "node": "n\u00e9", "cores": 2, "reads": ["fut:3"],
        "group": None}
    assert {k: v for k, v in events[1].items() if k != "t"} == {
        "event": "finished", "task": 1, "node": "n1", "attempt": 1, "host": "h", "pid": 7,
        "started": 1.5, "ended": 2.5}
    assert events[2]["event"] == "odd" and events[2]["value"].startswith("<function")
    assert events[3]["where"] == "/x"


def test_the_log_writes_itself_when_its_writer_died(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    log = EventLog(str(path)).open()
    try:
        log.emit("before", n=1)
        _wait_for(path, 1)
        writer = log._sink._proc  # type: ignore[union-attr]
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
        for n in range(2, 5):
            log.emit("after", n=n)
            time.sleep(2 * FLUSH_EVERY)
        events = _wait_for(path, 4)
    finally:
        log.close()
    assert [e["n"] for e in events] == [1, 2, 3, 4]


def test_each_line_is_the_time_and_name_then_the_fields() -> None:
    import json

    from hpcflow.runtime.eventwriter import encode_events, encoder

    batch = [(1796038551.1201654, "finished", {"task": 3, "host": 'a"b', "ended": 2.5}),
             (12.0, "run_started", {}),
             (13.0, "started", (4, "n1", 1, "f", 2))]  # a per-task event: a tuple
    lines = encode_events(batch, encoder()).splitlines()
    assert [json.loads(line) for line in lines] == [
        {"t": 1796038551.120165, "event": "finished", "task": 3, "host": 'a"b', "ended": 2.5},
        {"t": 12.0, "event": "run_started"},
        {"t": 13.0, "event": "started", "task": 4, "node": "n1", "attempt": 1, "version": "f",
         "cores": 2}]
    assert lines[0].startswith('{"t": 1796038551.120165, "event": "finished", "task": 3')
