"""Near the walltime: drain the run, flush its checkpoints, continue in a new job.

The batch script asks Slurm for SIGUSR1 ``lead`` seconds before the time limit and
forwards it to the master (Slurm may send it up to a minute early, so the master reads
the job's real end time from squeue). From then on the master starts only tasks whose
function's measured mean duration, with a safety margin, fits before the deadline (the end
time less a margin to flush and exit); running tasks finish, or are killed at the deadline. Then the
checkpoints are flushed and the app is stopped. With ``--continue`` a continuation job
(the same script, ``--dependency=afterany:<this job>``) was submitted at the signal; it
resumes the run from the checkpoints. Locally, ``kill -USR1`` does the same without the
continuation.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpcflow.errors import HpcflowError
from hpcflow.runtime.chain import continuation, drop_job
from hpcflow.runtime.prefetch import withdraw_queued
from hpcflow.slurm.client import SlurmClient

#: The lead the batch script asked for (seconds), exported by the script.
LEAD_ENV = "HPCFLOW_WALLTIME_LEAD"
DEFAULT_LEAD = 60
#: Seconds kept after the deadline to kill tasks, flush checkpoints and leave.
MARGIN = 5.0
#: A measured task is expected to take its mean duration times this, plus ``_SLACK`` s
#: (the dispatch, the result's trip back and a slower run must still end in time).
_SAFETY = 1.25
_SLACK = 1.0
_QUIET_CHECKS = 3  # consecutive checks with nothing running before the app is stopped
_CHECK_EVERY = 0.3


def default_lead(walltime_seconds: int) -> int:
    """60 s, or a quarter of a short walltime (at least 1 s)."""
    return max(1, min(DEFAULT_LEAD, walltime_seconds // 4))


def deadline_for(now: float, lead: float, end_time: float | None) -> float:
    """When running tasks must be done: before the job's end, else ``lead`` from now."""
    end = end_time if end_time is not None and end_time > now else now + lead
    return end - min(MARGIN, max(0.0, (end - now) / 2))


@dataclass(frozen=True)
class WalltimeSettings:
    """What the run does on the signal: continue in a new job, up to how many times."""

    continue_run: bool = False
    max_continuations: int = 10
    run_dir: str | None = None


class Drain:
    """The master's filter near the walltime: a ready task starts only if it fits."""

    def __init__(self, master: Any, deadline: float, lead: float = DEFAULT_LEAD) -> None:
        self.master = master
        self.deadline = deadline
        self.lead = lead
        self.stopped_app = False
        self.closed = False
        self._lock = threading.Lock()

    def may_start(self, task_id: int) -> bool:
        """Does a task of this function, by its measured mean duration, end in time?
        A function never measured starts only while the signal's lead is still ahead
        (Slurm may send the signal up to a minute early)."""
        name = self.master.records[task_id].definition.spec.name
        mean = self._mean(name)
        if mean is None:
            return time.time() + self.lead <= self.deadline
        return time.time() + mean * _SAFETY + _SLACK <= self.deadline

    def _mean(self, name: str) -> float | None:
        checkpoints = self.master.checkpoints
        if checkpoints is not None:
            return checkpoints.mean_duration(name)  # type: ignore[no-any-return]
        stats = self.master.stats.get(name)
        return stats.mean if stats is not None and stats.count else None

    def run(self) -> None:
        """Wait for the running tasks (or the deadline), then stop the app."""
        quiet = 0
        while time.time() < self.deadline and quiet < _QUIET_CHECKS and not self.closed:
            quiet = quiet + 1 if self.master.counts()["running"] == 0 else 0
            time.sleep(_CHECK_EVERY)
        with self._lock:
            if self.closed:
                return
            self.stopped_app = True
            self.master.abort("stopped before the walltime; the run resumes from its "
                              "checkpoints (hpcflow run/submit --resume)")
        if self.master.checkpoints is not None:
            self.master.checkpoints.flush(max(1.0, self.deadline + MARGIN - time.time()))

    def close(self) -> bool:
        """The run ended by itself; True if the drain had stopped the app first."""
        with self._lock:
            self.closed = True
            return self.stopped_app


class Walltime:
    """Installed in the master's process: reacts once to SIGUSR1."""

    def __init__(self, master: Any, settings: WalltimeSettings, env: Mapping[str, str],
                 client: SlurmClient | None = None) -> None:
        self.master = master
        self.settings = settings
        self.env = env
        self.client = client
        self.drain: Drain | None = None
        self.next_job: str | None = None
        self.closed = False
        self._lock = threading.Lock()

    def install(self) -> Walltime:
        signal.signal(signal.SIGUSR1, lambda signum, frame: self.trigger())
        return self

    def trigger(self) -> None:
        """The signal came: drain in a thread (a handler must return quickly)."""
        with self._lock:
            if self.drain is not None or self.closed:
                return
            lead = float(self.env.get(LEAD_ENV) or DEFAULT_LEAD)
            # at once, not after squeue answers: a task started meanwhile would not fit
            self.drain = Drain(self.master, deadline_for(time.time(), lead, None), lead)
            self.master.draining = self.drain
        threading.Thread(target=self._begin, name="hpcflow-walltime", daemon=True).start()

    def _begin(self) -> None:
        assert self.drain is not None
        job_id = self.env.get("SLURM_JOB_ID")
        end = self._end_time(job_id)
        self.drain.deadline = deadline_for(time.time(), self.drain.lead, end)
        self.master.events.emit("walltime", deadline=self.drain.deadline, job=job_id)
        withdraw_queued(self.master)  # prefetched tasks must pass the drain's test too
        if self.settings.continue_run and job_id and self.settings.run_dir:
            with self._lock:  # close() waits for it, and then sees the job to cancel
                if not self.closed:
                    self._continue(job_id)
        self.drain.run()

    def _end_time(self, job_id: str | None) -> float | None:
        if not job_id or self.client is None:
            return None
        try:
            return self.client.end_time(job_id)
        except HpcflowError:
            return None

    def _continue(self, job_id: str) -> None:
        assert self.client is not None and self.settings.run_dir is not None
        try:
            self.next_job = continuation(self.client, Path(self.settings.run_dir), job_id,
                                         self.settings.max_continuations)
        except HpcflowError as exc:
            sys.stderr.write(f"hpcflow: cannot submit the continuation job: {exc}\n")
            return
        if self.next_job is None:
            sys.stderr.write(f"hpcflow: no continuation: --max-continuations "
                             f"{self.settings.max_continuations} reached\n")
        else:
            sys.stderr.write(f"hpcflow: walltime near: the run continues in job "
                             f"{self.next_job}\n")
            self.master.events.emit("continuation", job=self.next_job, after=job_id)

    def close(self) -> None:
        """The run ended: a continuation it no longer needs is cancelled."""
        with self._lock:
            self.closed = True  # a signal from now on changes nothing
        stopped = self.drain is not None and self.drain.close()
        if stopped and self.next_job is not None:
            self.master.handover = self.next_job
        if self.next_job is not None and self.client is not None and not stopped:
            try:
                self.client.cancel(self.next_job)
            except HpcflowError as exc:
                sys.stderr.write(f"hpcflow: cannot cancel job {self.next_job}: {exc}\n")
                return
            if self.settings.run_dir:
                drop_job(Path(self.settings.run_dir), self.next_job)
            self.master.events.emit("continuation_cancelled", job=self.next_job)


def ignore_walltime_signal() -> None:
    """Agent ranks and task processes: the signal is for the master only."""
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
