"""The master: wires the graph, the scheduler and the agents; futures and failures.

One lock guards the state. The caller's thread submits and waits; agent threads report
results. Each event updates the graph, places newly ready tasks and dispatches them.
"""

from __future__ import annotations

import itertools
import threading
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import cloudpickle

from hpcflow.agents.protocol import Assignment, Result
from hpcflow.errors import HpcflowError, TaskFailed, UsageError
from hpcflow.graph.graph import DataKey, Progress, TaskGraph, Version
from hpcflow.graph.spec import Policy
from hpcflow.graph.states import FINAL_STATES, TaskState, VersionState
from hpcflow.runtime import files
from hpcflow.runtime.calls import CallPlan, Tracker, build_call
from hpcflow.runtime.events import EventLog
from hpcflow.runtime.futures import Future
from hpcflow.runtime.groups import Groups
from hpcflow.runtime.holding import Holding
from hpcflow.runtime.report import FunctionStats
from hpcflow.runtime.retire import Retirer
from hpcflow.runtime.steps import Shape, StepPlanner
from hpcflow.runtime.tasks import Agent, Definition, TaskRecord, _Group
from hpcflow.runtime.waiting import Waiting
from hpcflow.scheduler.index import NodeLedgers
from hpcflow.scheduler.placement import Candidate, explain_infeasible, feasible, place
from hpcflow.scheduler.resources import NodeLedger, NodeResources, prefetch_depth


class Master(Waiting, Holding, Groups):
    """Owns the task graph and drives the agents."""

    def __init__(self, app_dir: str = "", events: EventLog | None = None) -> None:
        self.app_dir = app_dir
        self.events = events or EventLog()
        self.graph = TaskGraph()
        self.tracker = Tracker()
        self.records: dict[int, TaskRecord] = {}
        self.stats: dict[str, FunctionStats] = {}
        self.fatal: TaskFailed | None = None
        self.started = time.time()
        self._lock = threading.RLock()  # guards the state (``with``: C speed)
        self._cond = threading.Condition(self._lock)  # waits for it to change
        self._awaited: dict[Version, int] = {}
        self._general_waits = 0
        self._store: dict[Version, bytes] = {}
        self._where: dict[Version, str] = {}  # the node that produced a version
        self._agents: dict[str, Agent] = {}
        self._ledgers = NodeLedgers()
        self._sent: dict[str, set[str]] = {}
        self._ready_hi: dict[int, None] = {}
        self._ready: dict[int, None] = {}
        self._groups: list[_Group] = []
        self._named_groups: dict[str, _Group] = {}
        self._ids = itertools.count(1)
        self._submit_lock = threading.Lock()
        self._live_nodes: tuple[NodeResources, ...] = ()
        self._usable: dict[Definition, tuple[NodeResources, ...]] = {}  # feasible on these
        self._dropped: set[Version] = set()
        self._recent: float | None = None  # moving mean of the tasks' durations (seconds)
        self._depth = 1  # the agents' queues are this many times their usual depth
        self.steps = StepPlanner()
        self.elastic: Any = None  # the ElasticController of an elastic run
        self.checkpoints: Any = None  # a Checkpointer (runtime/checkpoint.py), or None
        self.draining: Any = None  # a Drain near the walltime (runtime/walltime.py), or None
        self.handover: str | None = None  # the job the run continues in after the walltime
        self.finished = Retirer(self)  # what finished tasks no longer need

    # -- agents ---------------------------------------------------------------------
    def add_agent(self, agent: Agent) -> None:
        """Make a node's agent available to the scheduler."""
        with self._lock:
            name = agent.resources.name
            self._agents[name] = agent
            self._ledgers[name] = NodeLedger(agent.resources)
            self._sent[name] = set()
            self._update_nodes()
            res = agent.resources
            self.events.emit("node_joined", node=name, cores=res.cores, memory_gb=res.memory_gb,
                             architecture=res.architecture, gpus=res.gpus, slots=res.task_slots)
            self._schedule()

    def on_agent_lost(self, name: str, reason: str) -> None:
        """A node's agent is gone: its running tasks fail over under their policies."""
        with self._lock:
            if not self._leave(name, reason):
                return
            for record in list(self.records.values()):
                if name in record.nodes and \
                        self.graph.tasks[record.id].state is TaskState.RUNNING:
                    self._release(record)
                    if record.node not in (None, name):  # a multi-node task: stop its launcher
                        self._agents[record.node].kill(record.id, f"node {name} was lost")
                    self._fail(record, TaskFailed(record.label, f"node {name} was lost: "
                                                  f"{reason}", host=name))
            if not any(lg.alive for lg in self._ledgers.values()):
                self._abort(TaskFailed("hpcflow runtime", "every node was lost"))
            self._schedule()
            self._wake()

    def drain(self, name: str) -> None:
        """Send no new task to node ``name`` (elastic shrink); its running tasks finish."""
        with self._lock:
            ledger = self._ledgers.get(name)
            if ledger is not None and ledger.alive and not ledger.draining:
                ledger.draining = True
                self.events.emit("node_draining", node=name)

    def retire(self, name: str, reason: str) -> None:
        """A drained node leaves the run on purpose: stop its agent."""
        with self._lock:
            if self._leave(name, reason):
                self._agents[name].shutdown()
                self._wake()

    def _leave(self, name: str, reason: str) -> bool:
        """Mark node ``name`` gone; False if it was not alive."""
        ledger = self._ledgers.get(name)
        if ledger is None or not ledger.alive:
            return False
        ledger.alive = False
        self._update_nodes()
        self.events.emit("node_left", node=name, reason=reason)
        return True

    def nodes(self) -> list[NodeResources]:
        """The live nodes: a snapshot kept up to date by joins and losses (no lock)."""
        return list(self._live_nodes)

    def _update_nodes(self) -> None:
        self._live_nodes = tuple(lg.node for lg in self._ledgers.values() if lg.alive)

    # -- submission -----------------------------------------------------------------
    def submit(self, definition: Definition, args: tuple[Any, ...],
               kwargs: Mapping[str, Any]) -> Any:
        """Register one call; return its future(s) at once."""
        spec = definition.spec
        with self._submit_lock:
            self._check_usable(definition)
            shapes = () if spec.launch is None and len(definition.versions()) == 1 else \
                self.steps.plan(definition, args, kwargs, self.nodes())
            task_id = next(self._ids)
            plan = build_call(spec, definition.signature, self.tracker, task_id, args, kwargs)
            futures = [Future(spec.name)] if spec.n_returns == 1 else \
                [Future(spec.name) for _ in range(spec.n_returns)]
            with self._lock:
                self.finished.collect()
                try:
                    self._register(definition, task_id, plan, [f.key for f in futures],
                                   shapes)
                    for obj in plan.released:  # IN_DELETE: the runtime lets go of it
                        self._release_object(obj)
                except Exception as exc:
                    self._abort(TaskFailed("hpcflow runtime", f"{type(exc).__name__}: {exc}",
                                           traceback="".join(traceback.format_exception(exc))))
                    raise
        if spec.n_returns == 0:
            return None
        return futures[0] if spec.n_returns == 1 else tuple(futures)

    def _check_usable(self, definition: Definition) -> None:
        if self.fatal is not None:
            raise self.fatal
        nodes = self._live_nodes
        if self._usable.get(definition) is nodes:
            return  # checked against these very nodes (versions only ever get added)
        versions = [d.spec.constraints for d in definition.versions()]
        if nodes and not feasible(versions, nodes):
            if self.elastic is not None and self.elastic.accepts(versions):
                return  # it waits for an extension job in a partition that offers it
            raise UsageError(f"task {definition.spec.name} "
                             f"{explain_infeasible(versions, nodes)}")
        self._usable[definition] = nodes

    def _register(self, definition: Definition, task_id: int, plan: CallPlan,
                  outputs: list[DataKey], shapes: tuple[Shape | None, ...] = ()) -> None:
        for key, blob in plan.initial.items():
            if self.graph.latest(key) is None:
                self._store[self.graph.main_version(key)] = blob
        node = self.graph.add_task(task_id, plan.accesses, outputs)
        group = self._groups[-1] if self._groups else None
        record = TaskRecord(task_id, definition, plan, outputs, group, time.time(),
                            shapes=shapes)
        self.records[task_id] = record
        if group is not None:
            group.tasks.append(task_id)
        reads = node.reads
        self.events.row("submitted", task_id, definition.spec.name,
                        sorted({v.writer for v in reads if v.writer is not None})
                        if reads else [],
                        [_key_label(v.key) for v in reads],
                        [_key_label(v.key) for v in node.writes],
                        group.name if group else None)
        if reads and self.graph.reads_cancelled_input(task_id):
            self._advance(self.graph.cancel(task_id), cause=self._failure_behind(task_id))
        elif node.state is TaskState.READY:
            self._enqueue(task_id)
            self._schedule()

    # -- scheduling -----------------------------------------------------------------
    def _enqueue(self, task_id: int) -> None:
        if self.checkpoints is not None and self.checkpoints.intercept(self, task_id):
            return  # finished from its checkpoint
        if self.records[task_id].definition.spec.priority:
            self._ready_hi[task_id] = None
        else:
            self._ready[task_id] = None

    def _candidates(self) -> Iterator[Candidate]:
        several = len(self._ledgers) > 1
        starting: set[int] = set()  # shared writers offered in this pass
        for queue in (self._ready_hi, self._ready):
            for task_id in queue:  # not mutated until place() has returned
                if self.draining is not None and not self.draining.may_start(task_id):
                    continue  # cannot finish before the walltime
                if self.graph.shared_blocked(task_id, starting):
                    continue
                starting.add(task_id)
                record = self.records[task_id]
                if not several and not record.shapes and len(record.definition.versions()) == 1:
                    yield Candidate(task_id, (record.definition.spec.constraints,))
                    continue  # the usual task, on one node: nothing else to weigh
                versions = record.definition.versions()
                locality = self._locality(task_id) if several else {}
                yield self.steps.candidate(task_id, [v.spec.constraints for v in versions],
                                           record.shapes, locality)

    def _locality(self, task_id: int) -> dict[str, int]:
        """Bytes of the task's inputs per node that produced them."""
        held: dict[str, int] = {}
        for version in self.graph.tasks[task_id].reads:
            node = self._where.get(version)
            if node is not None:
                held[node] = held.get(node, 0) + len(self._store.get(version, b""))
        return held

    def _schedule(self) -> None:
        if self.fatal is not None or not (self._ready or self._ready_hi):
            return
        if not self._ledgers.index.has_room():
            return
        for placement in list(place(self._candidates(), self._ledgers)):
            self._ready_hi.pop(placement.task_id, None)
            self._ready.pop(placement.task_id, None)
            record = self.records[placement.task_id]
            record.nodes = placement.nodes or (placement.node,)
            self._dispatch(record, placement.node, placement.version)

    def _dispatch(self, record: TaskRecord, node: str, version: int) -> None:
        record.attempt += 1
        record.node, record.version = node, version
        record.started = time.time()
        definition = record.definition.versions()[version] if version else record.definition
        spec = definition.spec
        key = definition.func_key
        sent = self._sent[node]
        if key in sent:
            func = None
        else:
            func = definition.function_bytes()
            sent.add(key)
        plan, cores = record.plan, spec.constraints.computing_units
        refs: tuple[bytes, ...] = ()
        if plan.refs:
            reads = {v.key: v for v in self.graph.tasks[record.id].reads}
            refs = tuple([self._input(record.id, k, reads) for k in plan.refs])
        launch = None if spec.launch is None else self.steps.launch(
            spec, record.shapes[version] if record.shapes else None, record.nodes, record.id,
            record.attempt)
        assignment = Assignment(record.id, record.attempt, record.label, key, func, plan.call,
                                refs, plan.write_back, spec.n_returns, spec.time_out, cores,
                                plan.preps, self.app_dir, launch)
        self.graph.start(record.id)
        self.events.row("started", record.id, node, record.attempt, spec.name, cores)
        self._agents[node].dispatch(assignment)

    # -- results ----------------------------------------------------------------------
    def on_results(self, results: Sequence[Result]) -> None:
        """An agent reports the outcomes of one or more attempts (any thread): one pass
        of the scheduler places what they made ready."""
        try:
            with self._lock:
                self.finished.collect()
                for result in results:
                    self._take_result(result)
                self._tune_prefetch()
                self._schedule()
                self._wake()
        except Exception as exc:  # a bug or an I/O error of ours: stop, never hang
            with self._lock:
                self._abort(TaskFailed("hpcflow runtime", f"{type(exc).__name__}: {exc}",
                                       traceback="".join(traceback.format_exception(exc))))

    def _take_result(self, result: Result) -> None:
        record = self.records.get(result.task_id)
        if record is None or record.attempt != result.attempt:
            return
        if self.graph.tasks[record.id].state is not TaskState.RUNNING:
            for out in record.plan.files:  # killed: now that it is dead, for sure
                files.discard(out.temp)
            return
        self._release(record)
        record.ended, record.result = time.time(), result
        recent = self._recent
        self._recent = result.duration if recent is None else \
            0.9 * recent + 0.1 * result.duration
        if result.ok:
            missing = self._missing_output(record)
            if missing is None:
                self._succeed(record, result)
            else:
                self._fail(record, TaskFailed(record.label, missing, result.host, result.pid))
        else:
            self._fail(record, TaskFailed(record.label, result.error, result.host,
                                          result.pid, result.traceback))
        if self.graph.tasks[record.id].state in FINAL_STATES:
            self.finished.task_final(record)
        self._drop_read(record.id)

    def _tune_prefetch(self) -> None:
        """Deepen the agents' queues while tasks are short, back when they are not."""
        depth = prefetch_depth(1, self._recent)
        if depth != self._depth:
            self._depth = depth
            for ledger in self._ledgers.values():
                ledger.set_queue_depth(prefetch_depth(ledger.node.queue, self._recent))

    def _missing_output(self, record: TaskRecord) -> str | None:
        for out in record.plan.files:
            if files.output_missing(out.temp, out.directory):
                return f"it did not create its output {out.path}"
        return None

    def _succeed(self, record: TaskRecord, result: Result) -> None:
        written = self.graph.tasks[record.id].writes
        store = self._store
        if len(written) == 1 and len(record.outputs) == 1 and result.values:
            store[written[0]] = result.values[0]  # the usual task: one return value
        else:
            writes = {v.key: v for v in written}
            for key, blob in zip(record.outputs, result.values, strict=False):
                store[writes[key]] = blob
            for index, blob in zip(record.plan.write_back, result.writes, strict=False):
                store[writes[record.plan.refs[index]]] = blob
        if record.node is not None:
            for version in written:
                self._where[version] = record.node
        if self.checkpoints is not None:
            self.checkpoints.finished(self, record, result)
        self._count(record, failed=False)
        self.events.row("finished", record.id, record.node, record.attempt, result.host,
                        result.pid, result.started, result.ended)
        self._advance(self.graph.finish(record.id))

    def _fail(self, record: TaskRecord, error: TaskFailed) -> None:
        spec = record.definition.spec
        for out in record.plan.files:
            files.discard(out.temp)
        final = record.result is not None and record.result.final  # StopGroup
        retry = spec.policy is Policy.RETRY and record.attempt <= spec.retries and not final
        self._emit_end("retrying" if retry else "failed", record, record.result,
                       error=error.reason, policy=spec.policy.value)
        if retry and not self.fatal:
            self.graph.requeue(record.id)
            self._enqueue(record.id)
            return
        record.failure = error
        self._count(record, failed=True)
        group = self._group_of(record)
        if spec.policy is Policy.IGNORE:
            self._ignore(record)
        elif group is not None:
            self._fail_group(group, record, error)
        elif spec.policy is Policy.CANCEL_SUCCESSORS:
            self._advance(self.graph.fail(record.id), cause=error)
        else:
            self._stop_application(record, error)

    def _ignore(self, record: TaskRecord) -> None:
        record.ignored = True
        spec = record.definition.spec
        node = self.graph.tasks[record.id]
        writes = {v.key: v for v in node.writes}
        defaults = list(spec.ignore_returns) + [None] * spec.n_returns
        for key, value in zip(record.outputs, defaults, strict=False):
            self._store[writes[key]] = cloudpickle.dumps(value)
        for v in node.writes:
            if v.key[0] != "file" and v not in self._store and v.previous in self._store:
                self._store[v] = self._store[v.previous]
        self._advance(self.graph.finish(record.id, TaskState.FAILED))

    def _stop_application(self, record: TaskRecord, error: TaskFailed) -> None:
        self._advance(self.graph.fail(record.id), cause=error)
        self._abort(error)

    def abort(self, reason: str) -> None:
        """Stop the application from outside (e.g. the transport failed)."""
        with self._lock:
            self._abort(TaskFailed("hpcflow runtime", reason))

    def _abort(self, error: TaskFailed) -> None:
        """Stop the application: cancel what has not started, kill what runs."""
        self.fatal = self.fatal or error
        progress = self.graph.cancel_all()
        for other in self.records.values():
            if self.graph.tasks[other.id].state is TaskState.RUNNING:
                progress.merge(self._kill(other, "the application is stopping"))
        self._advance(progress, cause=error)

    def _release(self, record: TaskRecord) -> None:
        for name in record.nodes:  # set at every dispatch
            self._ledgers[name].release(record.id, record.constraints())

    def _kill(self, record: TaskRecord, reason: str) -> Progress:
        self._release(record)
        self._agents[record.node].kill(record.id, reason)
        for out in record.plan.files:
            files.discard(out.temp)
        return self.graph.cancel(record.id)

    def _emit_end(self, event: str, record: TaskRecord, result: Result | None,
                  **fields: Any) -> None:
        self.events.emit(event, task=record.id, node=record.node, attempt=record.attempt,
                         host=result.host if result else None,
                         pid=result.pid if result else None,
                         started=result.started if result else record.started,
                         ended=result.ended if result else time.time(), **fields)

    def _count(self, record: TaskRecord, failed: bool) -> None:
        name = record.definition.spec.name
        stats = self.stats.get(name)
        if stats is None:
            stats = self.stats[name] = FunctionStats()
        stats.add(max(0.0, record.ended - record.started), failed)

    # -- progress of the graph ---------------------------------------------------------
    def _advance(self, progress: Progress, cause: TaskFailed | None = None) -> None:
        todo = [progress]
        while todo:
            step = todo.pop()
            for version in step.commits:
                self._commit(version)
                todo.append(self.graph.commit(version))
                if version.key[0] == "file" or version.share is not None:  # all writers
                    for writer in version.members or (version.writer,):
                        if writer in self.records:
                            self.finished.maybe_retire(self.records[writer])
            for task_id in step.ready:
                self._enqueue(task_id)
            for task_id in step.cancelled:
                self._cancelled(task_id, cause)
        self._wake()

    def _commit(self, version: Version) -> None:
        if version.key[0] != "file" or version.writer is None:
            return
        record = self.records[version.writer]
        for out in record.plan.files:
            if out.key == version.key:
                commit = files.commit_ignored if record.ignored else files.commit_output
                try:
                    commit(out.temp, out.path, out.directory, out.fallback)
                except OSError as exc:
                    raise HpcflowError(f"cannot put {out.path} in place: {exc}") from None

    def _cancelled(self, task_id: int, cause: TaskFailed | None) -> None:
        self._ready_hi.pop(task_id, None)
        self._ready.pop(task_id, None)
        record = self.records[task_id]
        if cause is None:
            why = "it was cancelled"
        elif cause.cancelled:
            why = cause.reason.removeprefix("cancelled because ")
        else:
            why = f"{cause.task} failed: {cause.reason}"
        if record.failure is None:
            record.failure = TaskFailed(record.label, f"cancelled because {why}",
                                        cancelled=True)
        self.stats.setdefault(record.definition.spec.name, FunctionStats()).cancelled += 1
        self.events.emit("cancelled", task=task_id, reason=record.failure.reason)

    def _failure_behind(self, task_id: int) -> TaskFailed | None:
        """The failure that cancelled an input of ``task_id``."""
        for version in self.graph.tasks[task_id].reads:
            if version.state is VersionState.CANCELLED and version.writer is not None:
                failure = self.records[version.writer].failure
                if failure is not None and failure.cancelled:
                    return TaskFailed(failure.task, failure.reason.removeprefix(
                        "cancelled because "), cancelled=True)
                return failure
        return None

    def shutdown(self) -> None:
        for agent in list(self._agents.values()):
            agent.shutdown()


def _key_label(key: DataKey) -> str:
    kind, ident = key
    return f"{kind}:{ident}"
