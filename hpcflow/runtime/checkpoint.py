"""Checkpoints of finished tasks, and restoring them when a run is resumed.

The master calls three hooks, all under its lock and all cheap:

- ``intercept`` when a task becomes ready: when a previous run left checkpoints, computes
  its signature and, when a valid checkpoint of it exists, finishes the task from it
  instead of running it;
- ``finished`` when a task succeeded: computes its signature if not done yet (its inputs
  are still held), hard-links its output files aside and queues the entry for the writer
  thread (a task with only small values: for the writer process, runtime/ckwriter.py,
  which also signs it when it read no input: the master keeps its call, and signs it
  only if a later task reads its output);
- ``durations`` are measured on the way (the walltime drain uses them).

A background thread writes everything (policy ``every``: within 0.1 s, ``periodic``:
every ``interval`` seconds): large values into pack files and output files itself, tasks
with only small values through the writer process; ``flush`` waits until what finished so
far is on disk (``hpcflow.snapshot()``, the walltime signal, the end of the run).
"""

from __future__ import annotations

import collections
import enum
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, NamedTuple

from hpcflow.agents.protocol import Result
from hpcflow.errors import UsageError
from hpcflow.runtime import files, plain
from hpcflow.runtime.ckstore import INLINE, CheckpointStore, Entry
from hpcflow.runtime.ckwriter import Finished, rows_of
from hpcflow.runtime.helperproc import start_helper, stop_helper
from hpcflow.runtime.signature import FunctionHasher, blob_hash, code_hash, file_hash
from hpcflow.runtime.tasks import TaskRecord

#: The host named in the result of a task restored from its checkpoint.
RESTORED_HOST = "checkpoint"
#: Policy ``every``: tasks finished within this many seconds share one entry file (as the
#: event log, a killed master loses at most this much).
BATCH_DELAY = 0.1
#: Values (bytes) that may wait for the writer thread; beyond, the master waits for it
#: (a disk slower than the tasks must not fill the master's memory).
BACKLOG_MAX = 256 << 20
#: The writer process starts with the first batch of this many tasks with small values
#: (a short run never waits for one to start and stop).
PROCESS_FROM = 64
#: Meanwhile the writer turns what came into rows every SLICE seconds (short GIL holds).
SLICE = 0.005
#: A task that read no input, with a pickled call of up to this many bytes, is signed by
#: the writer process; the master keeps its call (a signature takes about 120 bytes).
DEFER_CALL_MAX = 256


class CheckpointPolicy(enum.Enum):
    """When finished tasks are written: at once, every ``interval`` seconds, or never."""

    EVERY = "every"
    PERIODIC = "periodic"
    OFF = "off"

    @classmethod
    def parse(cls, text: str) -> CheckpointPolicy:
        try:
            return cls(text.lower())
        except ValueError:
            valid = ", ".join(p.value for p in cls)
            raise UsageError(f"unknown checkpoint policy {text!r}; valid: {valid}") from None


class _Job(NamedTuple):  # one per finished task: a tuple is cheaper to make
    sig: str
    name: str
    values: tuple[bytes, ...]
    writes: tuple[bytes, ...]
    staged: tuple[tuple[str, str, bool], ...]  # (final path, staged copy, directory)
    size: int  # bytes of values and writes, counted in the writer's backlog


@dataclass
class _Flush:
    done: threading.Event | None  # None: the writer's own (its delay is over)


class _Wake:
    """To the writer: rows wait in its deque (start a batch)."""


_WAKE = _Wake()


class Checkpointer:
    """The master's checkpoint hook for one run directory."""

    def __init__(self, store: CheckpointStore, policy: CheckpointPolicy = CheckpointPolicy.EVERY,
                 interval: float = 60.0) -> None:
        self.store = store
        self.policy = policy
        self.interval = interval
        self.sigs: dict[int, str] = {}
        self._unsigned: dict[int, tuple[FunctionHasher, bytes]] = {}  # the writer signs them
        self.durations: dict[str, tuple[int, float]] = {}
        self.restored = 0
        self._hashers: dict[str, FunctionHasher] = {}  # per function: name and code hashed
        self._signers: dict[tuple[str, str], FunctionHasher] = {}  # the same, by head
        self._queue: queue.SimpleQueue[_Job | _Flush | _Wake | None] = queue.SimpleQueue()
        # finished tasks whose values all go inline, for the writer process
        self._small_tasks: collections.deque[Finished] = collections.deque()
        self._process: subprocess.Popen[bytes] | None = None
        self._process_failed = False
        self._backlog = 0  # bytes of values queued for the writer thread
        self._room = threading.Condition()
        self._armed = False  # a _WAKE is queued for the rows waiting
        self._pending: list[tuple[TaskRecord, Result]] = []
        self._draining = False
        self._thread = threading.Thread(target=self._loop, name="hpcflow-checkpoints",
                                        daemon=True)

    def start(self, resume: bool) -> Checkpointer:
        """Read the previous runs' entries (when resuming) and start the writer."""
        if resume:
            self.store.load()
        self._thread.start()
        return self

    # -- hooks (master lock held) -------------------------------------------------------
    def intercept(self, master: Any, task_id: int) -> bool:
        """A task is ready: True if it was (or is being) finished from its checkpoint."""
        if not self.store.entries:
            return False  # nothing to restore: the signature waits until the task ends
        record: TaskRecord = master.records[task_id]
        sig = self._sig(master, record)
        entry = self.store.entries.get(sig)
        if entry is None or record.attempt or not record.definition.spec.checkpoint:
            return False
        result = self._restore(record, entry)
        if result is None:
            del self.store.entries[sig]  # corrupt or incomplete: compute it again
            return False
        self._pending.append((record, result))
        if not self._draining:  # a loop, not recursion: restored tasks make others ready
            self._draining = True
            try:
                while self._pending:
                    _finish_restored(master, *self._pending.pop())
                    self.restored += 1
            finally:
                self._draining = False
        return True

    def finished(self, master: Any, record: TaskRecord, result: Result) -> None:
        """A task succeeded (its inputs still held): note its duration, sign it and queue
        its checkpoint."""
        if result.host == RESTORED_HOST:
            return
        spec = record.definition.spec
        name = spec.name
        count, total = self.durations.get(name, (0, 0.0))
        self.durations[name] = (count + 1, total + result.duration)
        values, writes = result.values, result.writes
        small = not record.plan.files and _small(values) and _small(writes)
        if small and spec.checkpoint and self._may_defer(master, record):
            hasher = self._hasher(record)
            call = record.plan.call
            self._unsigned[record.id] = (hasher, call)
            self._queue_small(("", name, values, writes, call, hasher.head))
            return
        sig = self._sig(master, record)
        if not spec.checkpoint:
            return
        if small:
            self._queue_small((sig, name, values, writes, b"", None))
            return
        staged = tuple([(out.path, self.store.stage(out.temp, out.directory), out.directory)
                        for out in record.plan.files]) if record.plan.files else ()
        size = sum(map(len, values)) + sum(map(len, writes))
        self._reserve(size)
        self._queue.put(_Job(sig, name, values, writes, staged, size))

    def _may_defer(self, master: Any, record: TaskRecord) -> bool:
        """Can the writer sign this task? Not if it read inputs (their signatures are
        here), nor while resuming (ready tasks are signed here to be looked up), nor if
        its call is long (kept for the run, it would cost more memory than a signature)."""
        return not self.store.entries and len(record.plan.call) <= DEFER_CALL_MAX \
            and not master.graph.tasks[record.id].reads and record.id not in self.sigs

    def _queue_small(self, task: Finished) -> None:
        self._small_tasks.append(task)
        if not self._armed:
            self._armed = True
            self._queue.put(_WAKE)

    def _reserve(self, size: int) -> None:
        """Count ``size`` bytes into the writer's backlog, first waiting while it is over
        BACKLOG_MAX (the master waits: its memory stays bounded)."""
        with self._room:
            while self._backlog > BACKLOG_MAX and self._thread.is_alive():
                self._room.wait(1.0)
            self._backlog += size

    def _written(self, size: int) -> None:
        with self._room:
            self._backlog -= size
            self._room.notify_all()

    def mean_duration(self, name: str) -> float | None:
        """Measured mean duration of a function's tasks in this run (None: never ran)."""
        count, total = self.durations.get(name, (0, 0.0))
        return total / count if count else None

    # -- signatures ---------------------------------------------------------------------
    def _sig(self, master: Any, record: TaskRecord) -> str:
        sig = self.sigs.get(record.id)
        if sig is None:
            sig = self.sigs[record.id] = self.signature(master, record)
        return sig

    def _signed(self, task_id: int) -> str | None:
        """The signature of a finished task (signed here now if the writer signs it)."""
        sig = self.sigs.get(task_id)
        if sig is None:
            unsigned = self._unsigned.pop(task_id, None)
            if unsigned is not None:  # what the writer computes for it (no inputs)
                hasher, call = unsigned
                sig = self.sigs[task_id] = hasher.signature(call, ())
        return sig

    def _hasher(self, record: TaskRecord) -> FunctionHasher:
        hasher = self._hashers.get(record.definition.func_key)
        if hasher is None:
            hasher = self._hashers[record.definition.func_key] = FunctionHasher(
                record.definition.spec.qualname, _definition_code(record))
            self._signers[hasher.head] = hasher  # for rows_of when no process signs
        return hasher

    def signature(self, master: Any, record: TaskRecord) -> str:
        """Function, code, pickled call and inputs of ``record`` (see signature.py)."""
        hasher = self._hasher(record)
        call = record.plan.call
        for out in record.plan.files:  # private paths name the task id: use the final ones
            call = call.replace(out.temp.encode(), out.path.encode())
        inputs = []
        for version in master.graph.tasks[record.id].reads:
            kind, ident = version.key
            if version.writer is not None:
                writer = master.records.get(version.writer) \
                    or master.finished.writers[version.writer]  # retired: runtime/retire.py
                sig = self._signed(version.writer) or f"unsigned-{writer.id}"
                inputs.append(f"{sig}:{_role(writer, version.key)}")
            elif kind == "file":
                inputs.append(f"file:{ident}:{file_hash(str(ident))}")
            else:
                inputs.append("value:" + blob_hash(master._store.get(version) or b""))
        return hasher.signature(call, inputs)

    def _restore(self, record: TaskRecord, entry: Entry) -> Result | None:
        spec = record.definition.spec
        if len(entry.values) != spec.n_returns or \
                len(entry.writes) != len(record.plan.write_back):
            return None
        blobs = [self.store.value(entry, sha) for sha in entry.values + entry.writes]
        if any(b is None for b in blobs) or not self._restore_files(record, entry):
            return None
        now = time.time()
        values = tuple(b for b in blobs if b is not None)
        return Result(record.id, record.attempt + 1, True, RESTORED_HOST, 0, now, now,
                      values[:spec.n_returns], values[spec.n_returns:])

    def _restore_files(self, record: TaskRecord, entry: Entry) -> bool:
        stored = {path: (sha, directory) for path, sha, directory in entry.files}
        for out in record.plan.files:
            sha, directory = stored.get(out.path, ("", out.directory))
            files.discard(out.temp)
            put = self.store.restore_tree if directory else self.store.restore_file
            if directory != out.directory or not sha or not put(sha, out.temp):
                for other in record.plan.files:
                    files.discard(other.temp)
                return False
        return True

    # -- the writer thread ----------------------------------------------------------------
    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every task finished so far is on disk; False on time-out."""
        if not self._thread.is_alive():
            return True
        done = threading.Event()
        self._queue.put(_Flush(done))
        return done.wait(timeout)

    def close(self) -> None:
        """Write what is left and stop the writer."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self.store.close()
        if self._process is not None:
            stop_helper(self._process)

    def _loop(self) -> None:
        """Turn jobs into entry rows as they come (a little at a time: the master's
        threads are never held up long) and write them every BATCH_DELAY (policy
        ``every``) or ``interval`` seconds (``periodic``), at once when asked to flush."""
        last = time.monotonic()
        while True:
            item: _Job | _Flush | _Wake | None = self._queue.get()
            delay = BATCH_DELAY
            if self.policy is CheckpointPolicy.PERIODIC:
                delay = max(0.0, self.interval - (time.monotonic() - last))
            deadline = time.monotonic() + delay
            rows: list[list[Any]] = []
            while isinstance(item, (_Job, _Wake)):
                if isinstance(item, _Job):
                    self._add_row(rows, item)
                item = self._next(deadline)
            self._armed = False  # a task queued from now on wakes the writer again
            small = self._small_tasks
            self._write_small([small.popleft() for _ in range(len(small))])
            self._write(rows)
            last = time.monotonic()
            if item is None:
                return
            if item.done is not None:
                item.done.set()

    def _next(self, deadline: float) -> _Job | _Flush | _Wake | None:
        """The next item; when none is queued, a look again every SLICE seconds until
        ``deadline`` (a wake-up per slice, not per job)."""
        while True:
            try:
                return self._queue.get_nowait()
            except queue.Empty:
                left = deadline - time.monotonic()
                if left <= 0:
                    return _Flush(None)  # the delay is over
                time.sleep(min(SLICE, left))

    def _add_row(self, rows: list[list[Any]], job: _Job) -> None:
        try:
            rows.append(self._persist(job))
        except OSError as exc:
            sys.stderr.write(f"hpcflow: warning: no checkpoint for a {job.name} task: "
                             f"{exc}\n")
            for _, staged, _ in job.staged:
                files.discard(staged)
        finally:
            self._written(job.size)

    def _write(self, rows: list[list[Any]]) -> None:
        try:
            self.store.write_rows(rows)
        except OSError as exc:
            sys.stderr.write(f"hpcflow: warning: cannot write checkpoints: {exc}\n")

    def _write_small(self, batch: list[Finished]) -> None:
        """Have the writer process write ``batch`` and wait until it has; if it cannot
        run (or died), make and write the entries here."""
        if not batch:
            return
        worth = self._process is not None or len(batch) >= PROCESS_FROM  # else not (yet)
        if not (worth and self._by_process(batch)):
            self._write(rows_of(self.store, batch, self._signers))

    def _by_process(self, batch: list[Finished]) -> bool:
        """True once the writer process wrote ``batch`` (or said why not); False if it
        cannot start or died (from then on, never again)."""
        if self._process_failed:
            return False
        try:
            if self._process is None:
                self._process = start_helper("hpcflow.runtime.ckwriter",
                                             os.path.dirname(self.store.root), answers=True)
            if _send(self._process, batch):
                return True
        except OSError:
            pass
        self._process_failed = True
        return False

    def _persist(self, job: _Job) -> list[Any]:
        """Store the job's large values and files; its entry row (Entry.to_row)."""
        inline: list[list[str]] = []
        packed: list[list[Any]] = []
        put = self.store.put_value
        values = [put(b, inline, packed) for b in job.values]
        writes = [put(b, inline, packed) for b in job.writes]
        stored = [[path, self.store.put_staged(staged, directory), directory]
                  for path, staged, directory in job.staged] if job.staged else []
        return [job.sig, job.name, values, writes, stored, inline, packed]


def _send(process: subprocess.Popen[bytes], batch: list[Finished]) -> bool:
    """Hand ``batch`` to the writer process and wait for its answer; False if it is
    gone (nothing answered)."""
    assert process.stdin is not None and process.stdout is not None
    payload = plain.dumps(batch)
    process.stdin.write(len(payload).to_bytes(8, "little") + payload)
    process.stdin.flush()
    return process.stdout.read(1) in (b".", b"!")


def _small(blobs: tuple[bytes, ...]) -> bool:
    """Values that go inline in their entry (no blob file to write)."""
    return all(len(b) <= INLINE for b in blobs) if blobs else True


def _finish_restored(master: Any, record: TaskRecord, result: Result) -> None:
    """Finish a ready task with its checkpoint's values, as if it had run (lock held):
    the master's success path commits its files and makes its successors ready."""
    record.attempt, record.result = result.attempt, result
    record.started, record.ended = result.started, result.ended
    master.graph.start(record.id)
    master.events.emit("started", task=record.id, node=result.host, attempt=record.attempt,
                       version=record.definition.spec.name, restored=True)
    master._succeed(record, result)


def _definition_code(record: TaskRecord) -> str:
    """The code hash of a task and its other versions (``@implement``), with what in its
    spec changes the result (directions, returns, what a launched task runs), not how it
    is run (constraints, priority, time-out, retries)."""
    parts = []
    for definition in record.definition.versions():
        func = getattr(definition, "__wrapped__", None)
        spec = definition.spec
        parts.append(code_hash(func) if func is not None else definition.func_key)
        parts.append(repr((spec.params, spec.n_returns, spec.returns_type, spec.launch)))
    return "|".join(parts)


def _role(writer: TaskRecord, key: Any) -> str:
    """Which output of ``writer`` a datum is: a return value, a written argument, a file."""
    if key in writer.outputs:
        return f"return{writer.outputs.index(key)}"
    if key in writer.plan.refs:
        return f"arg{writer.plan.refs.index(key)}"
    return f"{key[0]}:{key[1]}"
