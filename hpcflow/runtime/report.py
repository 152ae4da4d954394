"""Run statistics: the live progress line and the end-of-run summary."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO


@dataclass
class FunctionStats:
    """Per task function: how many ran, how long, how many failed."""

    count: int = 0
    total: float = 0.0
    longest: float = 0.0
    failures: int = 0
    cancelled: int = 0

    def add(self, seconds: float, failed: bool) -> None:
        self.count += 1
        self.total += seconds
        self.longest = max(self.longest, seconds)
        self.failures += int(failed)

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0


def format_summary(stats: dict[str, FunctionStats], wall: float) -> str:
    """One screen: tasks per function with count, mean and max time, failures."""
    lines = [f"hpcflow summary ({wall:.2f} s wall)",
             f"  {'task':<28} {'count':>7} {'mean s':>9} {'max s':>9} {'failed':>7} "
             f"{'cancel':>7}"]
    for name in sorted(stats):
        s = stats[name]
        lines.append(f"  {name[:28]:<28} {s.count:>7} {s.mean:>9.4f} {s.longest:>9.4f} "
                     f"{s.failures:>7} {s.cancelled:>7}")
    total = sum(s.count for s in stats.values())
    failed = sum(s.failures for s in stats.values())
    lines.append(f"  {'total':<28} {total:>7} {'':>9} {'':>9} {failed:>7}")
    return "\n".join(lines)


class ProgressLine:
    """Rewrites one terminal line with task counts until stopped."""

    def __init__(self, counts: Callable[[], dict[str, int]], stream: TextIO = sys.stderr,
                 interval: float = 0.25) -> None:
        self._counts = counts
        self._stream = stream
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hpcflow-progress", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._stream.write("\r\x1b[K")
        self._stream.flush()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            c = self._counts()
            self._stream.write(f"\r\x1b[K[hpcflow] done {c['done']}  running {c['running']}  "
                               f"pending {c['pending']}  failed {c['failed']}")
            self._stream.flush()
