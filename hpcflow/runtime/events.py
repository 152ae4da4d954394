"""The run's append-only event log: one JSON object per line, flushed within 0.1 s."""

from __future__ import annotations

import collections
import json
import os
import threading
import time
from typing import Any, Protocol

from hpcflow.runtime import plain
from hpcflow.runtime.eventwriter import Event, encode_events, encoder
from hpcflow.runtime.helperproc import start_helper, stop_helper

FLUSH_EVERY = 0.1  # seconds; a killed run loses at most this much history


class EventLog:
    """Writes events to ``path`` (JSON lines); with no path it records nothing.

    ``emit`` only appends the event to a deque (the hot path of the master, no lock); the
    flusher thread hands what was queued, FLUSH_EVERY after the first event of a burst, to
    a writer process (runtime/eventwriter.py) that encodes and appends it, or, if that
    process cannot run, encodes and appends it itself.
    """

    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self._queue: collections.deque[Event] = collections.deque()
        self._pending = threading.Event()  # set: the writer has events to write
        self._armed = False  # _pending was set since the writer last looked
        self._io = threading.Lock()  # guards the sink
        self._sink: _Sink | None = None
        self._open = False

    def open(self) -> EventLog:
        if self.path is not None and self._sink is None:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            open(self.path, "a", encoding="utf-8").close()  # there at once, for observers
            self._sink = _start_sink(self.path)
            self._open = True
            threading.Thread(target=self._flusher, name="hpcflow-events", daemon=True).start()
        return self

    def emit(self, event: str, **fields: Any) -> None:
        """Append one event with the current time."""
        self._append(event, fields)

    def row(self, event: str, *values: Any) -> None:
        """Append one of the per-task events of eventwriter.ROWS, its fields in order."""
        self._append(event, values)

    def _append(self, event: str, fields: dict[str, Any] | tuple[Any, ...]) -> None:
        if not self._open:
            return
        self._queue.append((time.time(), event, fields))
        if not self._armed:
            self._armed = True
            self._pending.set()

    def _flusher(self) -> None:
        """Write FLUSH_EVERY after the first queued event, also when no more come."""
        while True:
            self._pending.wait()
            if not self._open:
                return
            self._pending.clear()  # an event emitted from now on sets it again
            self._armed = False
            time.sleep(FLUSH_EVERY)  # let a burst of events share one write
            self._write()

    def _write(self) -> None:
        """Hand the queued events to the sink (``emit`` is never held up)."""
        with self._io:
            queue = self._queue
            batch = [queue.popleft() for _ in range(len(queue))]
            if self._sink is None or not batch:
                return
            try:
                self._sink.write(batch)
            except OSError:  # the writer process is gone: write here from now on
                assert self.path is not None
                self._sink = _FileSink(self.path)
                self._sink.write(batch)

    def close(self) -> None:
        self._open = False
        self._pending.set()
        self._write()
        with self._io:
            if self._sink is not None:
                self._sink.close()
                self._sink = None


class _Sink(Protocol):
    def write(self, batch: list[Event]) -> None: ...

    def close(self) -> None: ...


class _FileSink:
    """Encodes and appends in this process."""

    def __init__(self, path: str) -> None:
        self._fh = open(path, "a", encoding="utf-8")
        self._encode = encoder()

    def write(self, batch: list[Event]) -> None:
        self._fh.write(encode_events(batch, self._encode))
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


class _ProcessSink:
    """Sends the batches to a writer process (runtime/eventwriter.py)."""

    def __init__(self, path: str) -> None:
        self._proc = start_helper("hpcflow.runtime.eventwriter", path)
        assert self._proc.stdin is not None
        self._pipe = self._proc.stdin

    def write(self, batch: list[Event]) -> None:
        try:
            kind, payload = b"V", plain.dumps(batch)
        except Exception:  # a value that does not pickle: encoded here
            kind, payload = b"T", encode_events(batch, encoder()).encode("utf-8")
        self._pipe.write(kind + len(payload).to_bytes(8, "little") + payload)
        self._pipe.flush()

    def close(self) -> None:
        stop_helper(self._proc)


def _start_sink(path: str) -> _Sink:
    try:
        return _ProcessSink(path)
    except OSError:
        return _FileSink(path)


def read_events(path: str) -> list[dict[str, Any]]:
    """Every complete event of a log (a torn last line from a killed run is ignored)."""
    events = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return events
