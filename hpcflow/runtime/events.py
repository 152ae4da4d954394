"""The run's append-only event log: one JSON object per line, flushed within 0.1 s."""

from __future__ import annotations

import json
import os
import threading
import time
from typing import IO, Any

FLUSH_EVERY = 0.1  # seconds; a killed run loses at most this much history


class EventLog:
    """Writes events to ``path`` (JSON lines); with no path it records nothing.

    ``emit`` only queues the event (the hot path of the master); the writer thread encodes
    and writes what was queued, FLUSH_EVERY after the first event of a burst.
    """

    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self._fh: IO[str] | None = None
        self._cond = threading.Condition()  # guards the queue
        self._io = threading.Lock()  # guards the file
        self._queue: list[tuple[float, str, dict[str, Any]]] = []
        self._open = False

    def open(self) -> EventLog:
        if self.path is not None and self._fh is None:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            self._fh = open(self.path, "a", encoding="utf-8")
            self._open = True
            threading.Thread(target=self._flusher, name="hpcflow-events", daemon=True).start()
        return self

    def emit(self, event: str, **fields: Any) -> None:
        """Append one event with the current time."""
        if not self._open:
            return
        with self._cond:
            self._queue.append((time.time(), event, fields))
            if len(self._queue) == 1:
                self._cond.notify()

    def _flusher(self) -> None:
        """Write FLUSH_EVERY after the first queued event, also when no more come."""
        while True:
            with self._cond:
                while not self._queue and self._open:
                    self._cond.wait()
                if not self._open:
                    return
            time.sleep(FLUSH_EVERY)  # let a burst of events share one write
            self._write()

    def _write(self) -> None:
        """Encode and write the queued events, outside the lock ``emit`` takes."""
        with self._io:
            with self._cond:
                batch, self._queue = self._queue, []
            if self._fh is None or not batch:
                return
            dumps = json.JSONEncoder(default=str).encode
            self._fh.write("".join(
                dumps({"t": round(when, 6), "event": event, **fields}) + "\n"
                for when, event, fields in batch))
            self._fh.flush()

    def close(self) -> None:
        with self._cond:
            self._open = False
            self._cond.notify_all()
        self._write()
        with self._io:
            if self._fh is not None:
                self._fh.close()
                self._fh = None


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
