"""A node's pool of task processes: dispatch, crash detection, time-outs, kills.

One long-lived process per slot runs one task at a time. A single thread blocks on the
processes' pipes and sentinels (no polling loop); a dead process is a failed task and is
replaced, so a segfault never takes the pool down.

Tasks of a function measured to be short (plain Python calls under ``SHORT_TASK`` seconds on
average) go to an idle process in batches, the queue shared out between the idle
processes; the process returns their results in batches too. Any other task goes alone.

Each task process leads its own process group, and what it launches (a binary, srun,
mpiexec and their ranks) stays in that group: a kill takes the whole group down, and the
Slurm step of a launched task is cancelled by its name before its death is reported, so
its nodes are free again when the master hears of it.
"""

from __future__ import annotations

import collections
import multiprocessing
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection

from hpcflow.agents import prestart, worker
from hpcflow.agents.protocol import Assignment, Result, recv_message, send_message
from hpcflow.scheduler.resources import SHORT_TASK

#: Most tasks sent to one process at once.
MAX_BATCH = 64


@dataclass(eq=False)
class _Proc:
    process: subprocess.Popen[bytes]
    conn: Connection
    tasks: dict[int, Assignment] = field(default_factory=dict)  # sent, in order, not back
    deadline: float | None = None
    known: set[str] = field(default_factory=set)
    killed_reason: str = ""

    @property
    def head(self) -> Assignment | None:
        """The task it runs now (the first sent whose result is not back)."""
        return next(iter(self.tasks.values()), None)


class WorkerPool:
    """``size`` task processes; results and failures go to ``on_results``, a list at a
    time."""

    def __init__(self, size: int, on_results: Callable[[list[Result]], None],
                 app_dir: str = "") -> None:
        self.size = size
        self._on_results = on_results
        self._app_dir = app_dir
        self._procs: list[_Proc] = []
        self._queue: collections.deque[Assignment] = collections.deque()
        self._functions: dict[str, bytes] = {}
        self._durations: dict[str, tuple[int, float]] = {}  # func_key -> (count, seconds)
        self._alone: set[int] = set()  # were in the batch of a process that died
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = multiprocessing.Pipe(duplex=False)
        self._selector = selectors.DefaultSelector()  # the watcher's, kept across waits
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="hpcflow-pool", daemon=True)

    def start(self) -> None:
        """Start the task processes and the watcher thread."""
        with self._lock:
            for started in prestart.adopt(self._app_dir, self.size):
                self._add(_Proc(started.process, started.conn))
            while len(self._procs) < self.size:
                self._add(self._spawn())
        self._thread.start()

    def _spawn(self) -> _Proc:
        started = prestart.spawn(self._app_dir)
        return _Proc(started.process, started.conn)

    def _add(self, proc: _Proc) -> None:
        self._procs.append(proc)
        self._selector.register(proc.conn, selectors.EVENT_READ, proc)

    # -- called by the owner ---------------------------------------------------------
    def submit(self, assignment: Assignment) -> None:
        """Run ``assignment`` on an idle process (queued if none is idle)."""
        with self._lock:
            if assignment.func is not None:
                self._functions[assignment.func_key] = assignment.func
            self._queue.append(assignment)
            self._drain()
        if assignment.time_out:
            self._wake()  # the watcher must wait no longer than this deadline

    def withdraw(self) -> list[int]:
        """Take back the queued assignments no process has started; their task ids."""
        with self._lock:
            ids = [assignment.task_id for assignment in self._queue]
            self._queue.clear()
        return ids

    def kill(self, task_id: int, reason: str) -> None:
        """Kill the process running ``task_id``; its result reports ``reason``. (A short
        task sent in a batch runs to its end: its result is no longer wanted.)"""
        with self._lock:
            for proc in self._procs:
                if len(proc.tasks) == 1 and task_id in proc.tasks:
                    proc.killed_reason = reason
                    _terminate(proc)
            self._queue = collections.deque(a for a in self._queue if a.task_id != task_id)
        self._wake()

    def shutdown(self) -> None:
        """Stop every process and the watcher thread."""
        with self._lock:
            self._stopping = True
            procs = list(self._procs)
        for proc in procs:
            try:
                send_message(proc.conn, None)
            except OSError:
                pass
        self._wake()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._selector.close()
        for proc in procs:
            try:
                proc.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                _terminate(proc)
                proc.process.wait()
            proc.conn.close()

    # -- internals ---------------------------------------------------------------------
    def _drain(self) -> None:
        idle = [p for p in self._procs if not p.tasks and not p.killed_reason]
        for left in range(len(idle), 0, -1):
            if not self._queue:
                return
            self._send(idle[-left], self._batch(-(-len(self._queue) // left)))

    def _batch(self, share: int) -> list[Assignment]:
        """The next tasks for one idle process: the head of the queue, and up to
        ``share`` in all while they are short ones."""
        queue = self._queue
        batch = [queue.popleft()]
        limit = min(share, MAX_BATCH)
        if self._short(batch[0]):
            while queue and len(batch) < limit and self._short(queue[0]):
                batch.append(queue.popleft())
        return batch

    def _short(self, assignment: Assignment) -> bool:
        if assignment.time_out or assignment.launch is not None or assignment.files \
                or assignment.task_id in self._alone:
            return False
        count, total = self._durations.get(assignment.func_key, (0, 0.0))
        return count >= 2 and total < SHORT_TASK * count

    def _send(self, proc: _Proc, batch: list[Assignment]) -> None:
        sent = []
        for assignment in batch:
            key = assignment.func_key
            if key not in proc.known:
                proc.known.add(key)
                if assignment.func is None:
                    assignment = replace(assignment, func=self._functions[key])
            elif assignment.func is not None:
                assignment = replace(assignment, func=None)
            proc.tasks[assignment.task_id] = assignment
            sent.append(assignment)
        time_out = batch[0].time_out
        proc.deadline = time.monotonic() + time_out if time_out else None
        try:
            send_message(proc.conn, sent)
        except OSError:
            pass  # the process died; its sentinel reports the task

    def _wake(self) -> None:
        try:
            self._wake_w.send_bytes(b"")
        except OSError:
            pass

    def _loop(self) -> None:
        while True:
            with self._lock:
                if self._stopping:
                    return
                timeout = self._next_timeout()
            results: list[Result] = []
            for key, _ in self._selector.select(timeout):
                if key.data is None:
                    self._wake_r.recv_bytes()
                elif key.data in self._procs:  # not reaped earlier in this round
                    results += self._receive(key.data)
            if results:
                self._on_results(results)
            self._expire()

    def _next_timeout(self) -> float | None:
        deadlines = [p.deadline for p in self._procs if p.deadline is not None]
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None

    def _receive(self, proc: _Proc) -> list[Result]:
        try:
            results: list[Result] = recv_message(proc.conn)
        except (EOFError, OSError):
            return self._reap(proc)  # end of stream: the process died
        with self._lock:
            for result in results:
                task = proc.tasks.pop(result.task_id, None)
                self._alone.discard(result.task_id)
                if task is not None:
                    count, total = self._durations.get(task.func_key, (0, 0.0))
                    self._durations[task.func_key] = (count + 1, total + result.duration)
            if not proc.tasks:
                proc.deadline = None
                self._drain()
        return results

    def _reap(self, proc: _Proc) -> list[Result]:
        """A process died: replace it; its task failed (a batch is queued again). The
        result of the dead task, unless it must wait for its step to go."""
        try:
            proc.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _terminate(proc)
            proc.process.wait()
        with self._lock:
            if proc not in self._procs:
                return []
            self._procs.remove(proc)
            self._selector.unregister(proc.conn)
            task = proc.head
            if len(proc.tasks) > 1:  # which one died is unknown (results come in batches)
                self._requeue_alone(proc)
                task = None
            if not self._stopping:
                self._add(self._spawn())
                self._drain()
        proc.conn.close()
        _kill_group(proc.process.pid)  # what the dead task process had started
        if task is None:
            return []
        launch = task.launch
        if launch is not None and launch.launcher == "srun" and launch.job_name:
            threading.Thread(target=self._cancel_then_report, args=(task, proc),
                             name="hpcflow-cancel-step", daemon=True).start()
            return []
        return [_death_result(task, proc)]

    def _requeue_alone(self, proc: _Proc) -> None:
        """Queue the batch of a dead process again, first, each task to run alone (so the
        one that kills its process is found; the others may run a second time)."""
        batch = [replace(a, func=None) if a.func else a for a in proc.tasks.values()]
        self._alone.update(a.task_id for a in batch)
        self._queue.extendleft(reversed(batch))

    def _cancel_then_report(self, task: Assignment, proc: _Proc) -> None:
        from hpcflow.agents.steps import cancel_step

        assert task.launch is not None
        cancel_step(task.launch.job_name)
        self._on_results([_death_result(task, proc)])

    def _expire(self) -> None:
        now = time.monotonic()
        with self._lock:
            for proc in self._procs:
                head = proc.head
                if proc.deadline is not None and proc.deadline <= now and head is not None:
                    proc.killed_reason = f"exceeded its time_out of {head.time_out:g} s"
                    proc.deadline = None
                    _terminate(proc)


def _terminate(proc: _Proc) -> None:
    """Kill a task process and everything in its process group."""
    _kill_group(proc.process.pid)
    try:
        os.kill(proc.process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _death_result(task: Assignment, proc: _Proc) -> Result:
    now = time.time()
    code = proc.process.returncode
    if proc.killed_reason:
        reason = proc.killed_reason
    elif code is not None and code < 0:
        reason = f"task process died: killed by {signal.Signals(-code).name}"
    else:
        reason = f"task process died: exit code {code}"
    extra: dict[str, str] = {}
    if task.launch is not None:
        from hpcflow.agents.steps import launch_logs

        extra = launch_logs(task.launch)
    return Result(task.task_id, task.attempt, False, worker.HOST, proc.process.pid or 0, now, now,
                  error=reason, crashed=not proc.killed_reason,
                  timed_out="time_out" in proc.killed_reason, extra=extra)
