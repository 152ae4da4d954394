"""The wall clock limit of a run (``hpcflow run --wall-clock-limit``, PyCOMPSs's
``--wall_clock_limit`` and ``compss_set_wall_clock``).

When it is reached the app's thread gets :class:`WallClockLimit` wherever it is (a
``SIGALRM`` handler; blocking waits are interrupted too), outstanding tasks are cancelled
and running ones killed; outputs of finished tasks stay. The run exits with status 124.
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

from hpcflow.errors import UsageError, WallClockLimit

EXIT_STATUS = 124  # as timeout(1)
_limit: dict[str, float] = {}  # the one process-wide alarm: seconds and when it was set


def arm(seconds: float) -> None:
    """Stop the run ``seconds`` from now (replaces an earlier limit)."""
    if seconds <= 0:
        raise UsageError(f"wall clock limit {seconds!r} must be a positive number of seconds")
    if threading.current_thread() is not threading.main_thread():
        raise UsageError("the wall clock limit can only be set from the app's main thread")
    _limit.update(seconds=float(seconds), since=time.monotonic())
    signal.signal(signal.SIGALRM, _reached)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))


def disarm() -> None:
    """No limit any more (the run is over)."""
    if _limit and threading.current_thread() is threading.main_thread():
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
    _limit.clear()


def _reached(_signum: int, _frame: Any) -> None:
    raise WallClockLimit(f"wall clock limit of {_limit.get('seconds', 0):g} s reached")


def stop_run(master: Any, reason: str) -> str:
    """Cancel what is outstanding, kill what runs; the one-line message for the user."""
    counts = master.counts()
    outstanding = counts["running"] + counts["pending"]
    master.abort(reason)
    master.settle()
    return (f"{reason}: the app was stopped and {outstanding} outstanding task(s) cancelled "
            f"(outputs of finished tasks are kept)")


def settle_within(master: Any) -> str | None:
    """Wait for the tasks the app left running, up to the limit; the message if reached."""
    try:
        master.settle()
        return None
    except WallClockLimit as exc:
        return stop_run(master, str(exc))
    finally:
        disarm()
