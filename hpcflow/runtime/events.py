"""The run's append-only event log: one JSON object per line, flushed within 0.1 s."""

from __future__ import annotations

import collections
import json
import os
import threading
import time
from collections.abc import Callable
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import IO, Any

FLUSH_EVERY = 0.1  # seconds; a killed run loses at most this much history


class EventLog:
    """Writes events to ``path`` (JSON lines); with no path it records nothing.

    ``emit`` only appends the event to a deque (the hot path of the master, no lock); the
    writer thread encodes and writes what was queued, FLUSH_EVERY after the first event
    of a burst.
    """

    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self._fh: IO[str] | None = None
        self._queue: collections.deque[tuple[float, str, dict[str, Any]]] = \
            collections.deque()
        self._pending = threading.Event()  # set: the writer has events to write
        self._armed = False  # _pending was set since the writer last looked
        self._io = threading.Lock()  # guards the file
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
        """Encode and write the queued events (``emit`` is never held up)."""
        with self._io:
            queue = self._queue
            batch = [queue.popleft() for _ in range(len(queue))]
            if self._fh is None or not batch:
                return
            encode = _encoder()
            self._fh.write("".join(
                encode({"t": round(when, 6), "event": event, **fields}, 0)[0] + "\n"
                for when, event, fields in batch))
            self._fh.flush()

    def close(self) -> None:
        self._open = False
        self._pending.set()
        self._write()
        with self._io:
            if self._fh is not None:
                self._fh.close()
                self._fh = None


def _encoder() -> Callable[[Any, int], tuple[str, ...]]:
    """``json.dumps(obj, default=str)`` without its per-call set-up: the C encoder."""
    if c_make_encoder is None:  # no C accelerator: the same text, slower
        dumps = json.JSONEncoder(default=str).encode
        return lambda obj, _: (dumps(obj),)
    return c_make_encoder(None, str, encode_basestring_ascii, None, ": ", ", ", False, False,
                          True)


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
