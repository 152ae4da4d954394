"""A node's pool of task processes: dispatch, crash detection, time-outs, kills.

One long-lived process per slot runs one task at a time. A single thread blocks on the
processes' pipes and sentinels (no polling loop); a dead process is a failed task and is
replaced, so a segfault never takes the pool down.

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


@dataclass(eq=False)
class _Proc:
    process: subprocess.Popen[bytes]
    conn: Connection
    task: Assignment | None = None
    deadline: float | None = None
    known: set[str] = field(default_factory=set)
    killed_reason: str = ""


class WorkerPool:
    """``size`` task processes; results and failures go to ``on_result``."""

    def __init__(self, size: int, on_result: Callable[[Result], None], app_dir: str = "") -> None:
        self.size = size
        self._on_result = on_result
        self._app_dir = app_dir
        self._procs: list[_Proc] = []
        self._queue: collections.deque[Assignment] = collections.deque()
        self._functions: dict[str, bytes] = {}
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
        """Kill the process running ``task_id``; its result reports ``reason``."""
        with self._lock:
            for proc in self._procs:
                if proc.task is not None and proc.task.task_id == task_id:
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
        for proc in self._procs:
            if not self._queue:
                return
            if proc.task is None and not proc.killed_reason:
                self._send(proc, self._queue.popleft())

    def _send(self, proc: _Proc, assignment: Assignment) -> None:
        func = None if assignment.func_key in proc.known else self._functions[assignment.func_key]
        proc.known.add(assignment.func_key)
        proc.task = assignment
        proc.deadline = time.monotonic() + assignment.time_out if assignment.time_out else None
        try:
            send_message(proc.conn, assignment if func is assignment.func
                         else replace(assignment, func=func))
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
            for key, _ in self._selector.select(timeout):
                if key.data is None:
                    self._wake_r.recv_bytes()
                elif key.data in self._procs:  # not reaped earlier in this round
                    self._receive(key.data)
            self._expire()

    def _next_timeout(self) -> float | None:
        deadlines = [p.deadline for p in self._procs if p.deadline is not None]
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None

    def _receive(self, proc: _Proc) -> None:
        try:
            result: Result = recv_message(proc.conn)
        except (EOFError, OSError):
            self._reap(proc)  # end of stream: the process died
            return
        with self._lock:
            proc.task, proc.deadline = None, None
            self._drain()
        self._on_result(result)

    def _reap(self, proc: _Proc) -> None:
        try:
            proc.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _terminate(proc)
            proc.process.wait()
        with self._lock:
            if proc not in self._procs:
                return
            self._procs.remove(proc)
            self._selector.unregister(proc.conn)
            task = proc.task
            if not self._stopping:
                self._add(self._spawn())
                self._drain()
        proc.conn.close()
        _kill_group(proc.process.pid)  # what the dead task process had started
        if task is None:
            return
        launch = task.launch
        if launch is not None and launch.launcher == "srun" and launch.job_name:
            threading.Thread(target=self._cancel_then_report, args=(task, proc),
                             name="hpcflow-cancel-step", daemon=True).start()
        else:
            self._on_result(_death_result(task, proc))

    def _cancel_then_report(self, task: Assignment, proc: _Proc) -> None:
        from hpcflow.agents.steps import cancel_step

        assert task.launch is not None
        cancel_step(task.launch.job_name)
        self._on_result(_death_result(task, proc))

    def _expire(self) -> None:
        now = time.monotonic()
        with self._lock:
            for proc in self._procs:
                if proc.deadline is not None and proc.deadline <= now and proc.task is not None:
                    proc.killed_reason = f"exceeded its time_out of {proc.task.time_out:g} s"
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
