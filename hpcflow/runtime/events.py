"""The run's append-only event log: one JSON object per line, flushed within 0.1 s."""

from __future__ import annotations

import json
import os
import threading
import time
from typing import IO, Any

FLUSH_EVERY = 0.1  # seconds; a killed run loses at most this much history


class EventLog:
    """Writes events to ``path`` (JSON lines); with no path it records nothing."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self._fh: IO[str] | None = None
        self._cond = threading.Condition()
        self._dirty = False

    def open(self) -> EventLog:
        if self.path is not None and self._fh is None:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            self._fh = open(self.path, "a", encoding="utf-8")
            threading.Thread(target=self._flusher, name="hpcflow-events", daemon=True).start()
        return self

    def emit(self, event: str, **fields: Any) -> None:
        """Append one event with the current time."""
        if self._fh is None:
            return
        line = json.dumps({"t": round(time.time(), 6), "event": event, **fields},
                          default=str)
        with self._cond:
            if self._fh is None:
                return
            self._fh.write(line + "\n")
            if not self._dirty:
                self._dirty = True
                self._cond.notify()

    def _flusher(self) -> None:
        """Flush FLUSH_EVERY after the first unflushed event, also when no more come."""
        while True:
            with self._cond:
                while not self._dirty and self._fh is not None:
                    self._cond.wait()
                if self._fh is None:
                    return
            time.sleep(FLUSH_EVERY)  # let a burst of events share one write
            with self._cond:
                if self._fh is not None:
                    self._fh.flush()
                self._dirty = False

    def close(self) -> None:
        with self._cond:
            if self._fh is not None:
                self._fh.close()
                self._fh = None
            self._cond.notify_all()


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
