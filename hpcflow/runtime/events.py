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
        self._lock = threading.Lock()
        self._flushed = 0.0

    def open(self) -> EventLog:
        if self.path is not None and self._fh is None:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            self._fh = open(self.path, "a", encoding="utf-8")
        return self

    def emit(self, event: str, **fields: Any) -> None:
        """Append one event with the current time."""
        if self._fh is None:
            return
        line = json.dumps({"t": round(time.time(), 6), "event": event, **fields},
                          default=str)
        with self._lock:
            if self._fh is None:
                return
            self._fh.write(line + "\n")
            now = time.monotonic()
            if now - self._flushed >= FLUSH_EVERY:
                self._fh.flush()
                self._flushed = now

    def close(self) -> None:
        with self._lock:
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
