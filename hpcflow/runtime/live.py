"""A running job's event log read as it grows: counts for ``hpcflow status`` and the
progress line of ``hpcflow submit --wait``."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO

from hpcflow.observe.status import LiveCounts, progress_line, status_lines

EVENTS_FILE = "events.jsonl"


class Pump(Protocol):
    """Anything :func:`hpcflow.slurm.follow.follow` can pump (a ``FileTail``)."""

    def pump(self, final: bool = False) -> None: ...


class EventTail:
    """Reads the complete lines appended to an event log since the last call."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path, self.offset, self._partial = path, 0, b""

    def read(self) -> list[dict[str, Any]]:
        """The events appended since the last call (a missing log has none yet)."""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        return [event for event in map(_parse, lines) if event is not None]


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def run_status_lines(run_dir: Path) -> list[str]:
    """Live counts per state and per node from ``run_dir/events.jsonl`` (none if absent)."""
    if not (run_dir / EVENTS_FILE).is_file():
        return []
    return status_lines(LiveCounts().feed(EventTail(run_dir / EVENTS_FILE).read()))


class ProgressTails:
    """Wraps the output tails of a followed job with a progress line on a terminal:
    each pump erases the line, lets the tails print, then draws it again from the log."""

    def __init__(self, events: Path, stream: TextIO, tails: Sequence[Pump]) -> None:
        self.tail, self.stream, self.tails = EventTail(events), stream, tails
        self.counts = LiveCounts()

    def pump(self, final: bool = False) -> None:
        self.counts.feed(self.tail.read())
        self.stream.write("\r\x1b[K")
        for tail in self.tails:
            tail.pump(final=final)
        if not final and self.counts.state:
            self.stream.write(progress_line(self.counts))
        self.stream.flush()
