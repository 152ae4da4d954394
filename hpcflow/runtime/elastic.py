"""Elastic runs: feed the scaling policy from the master, execute its decisions on Slurm.

Once a second the controller samples the master (ready and pending work in core-seconds
from the measured mean duration of each function, idle time per node, extension jobs
still pending, walltime left), asks :func:`hpcflow.scheduler.scaling.decide`, and:

- grows by submitting an extension job (``hpcflow.slurm.extension``) whose agents join
  the master over the authenticated TCP channel; a failed sbatch or a job pending too
  long counts as a failed grow (backoff doubles; the next grow asks for half as many);
- shrinks by draining nodes (no new tasks; running ones finish), stopping their agents,
  then ``scontrol update JobId=<main> NodeList=<kept>`` or ``scancel`` of an extension
  job; the master's node is never released;
- or, opt-in where the site permits job expansion, merges the nodes into the main job
  (``hpcflow.runtime.expansion``) and releases them like the main job's own;
- quarantines nodes whose agent was lost (killed, node DOWN, extension job ended): they
  are excluded from later extension jobs and refused if they try to join again.

Every decision goes to the event log as an ``elastic`` event with its reason (``hpcflow
status`` shows the latest). At the end of the run every extension job is cancelled.
"""

from __future__ import annotations

import collections
import math
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from hpcflow.agents.join import block_of, elastic_dir
from hpcflow.errors import HpcflowError, SlurmCommandError
from hpcflow.runtime.chain import write_private
from hpcflow.runtime.elastic_io import (
    Block,
    ElasticConfig,
    need_of,
    partition_offers,
    record_extension,
    sample,
)
from hpcflow.runtime.master import Master
from hpcflow.scheduler.resources import NodeResources
from hpcflow.scheduler.scaling import (
    Action,
    NodeLoad,
    NodeShape,
    ScaleDecision,
    ScalingInput,
    backoff_wait,
    decide,
)
from hpcflow.slurm.client import SlurmClient
from hpcflow.slurm.extension import extension_script
from hpcflow.slurm.parse import JobState

TICK = 1.0  # seconds between decisions
POLL_EVERY = 3.0  # seconds between squeue polls of the extension jobs
RETIRE_WAIT = 3.0  # seconds to wait for a stopped agent's goodbye before releasing
DEFAULT_EXTENSION_S = 3600.0  # walltime of an extension job when the main job has none
_DEAD_STATES = ("down", "fail", "not_responding", "unknown")  # sinfo states of lost nodes


class ElasticController:
    """Grows and shrinks the run through Slurm; see the module docstring."""

    def __init__(self, master: Master, config: ElasticConfig, client: SlurmClient,
                 byes: Callable[[], set[str]] = set, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.master, self.config, self.client, self.clock = master, config, client, clock
        self.policy = config.policy
        self._byes = byes  # names of agents that said goodbye
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.blocks: dict[str, Block] = {}
        self.quarantined: set[str] = set()
        self._main = list(config.main_nodes)
        self._idle_since: dict[str, float] = {}
        self._draining: dict[str, str] = {}  # node -> reason
        self._retired: dict[str, float] = {}  # node -> when its agent was stopped
        self._released: set[str] = set()
        self._seen_dead: set[str] = set()
        self._target: int | None = None
        self._offers = partition_offers(config.settings)  # the main partition first
        self._failed = 0
        self._failed_at = -math.inf
        self._changed_at = -math.inf
        self._lost_at = -math.inf
        self._grow_cap: int | None = None
        self._polled = -math.inf
        self._deadline: float | None = None
        self._logged: tuple[str, str] = ("", "")
        self._joins: collections.deque[tuple[str, str, float]] = collections.deque()

    # -- the application's calls --------------------------------------------------------
    def number(self) -> int:
        """Nodes the run holds now: draining ones until Slurm has them back."""
        with self._lock:
            alive = sum(1 for lg in self._ledgers().values() if lg.alive)
            return alive + len(set(self._retired) - self._released)

    def request(self, count: int) -> int:
        """Ask for ``count`` more nodes (within MAX); the new target size."""
        with self._lock:
            usable = sum(1 for lg in self._ledgers().values() if lg.usable)
            held = usable + sum(b.waiting for b in self.blocks.values())
            self._target = min(self.config.maximum, max(held, self._target or 0) + count)
            self._emit("target", f"the application requested {count} more node(s)",
                       target=self._target)
            return self._target

    def free(self, count: int) -> int:
        """Give back ``count`` nodes (never below MIN, never the master's); the target."""
        with self._lock:
            usable = sum(1 for lg in self._ledgers().values() if lg.usable)
            held = self._target if self._target is not None else usable
            self._target = max(self.config.minimum, min(held, usable) - count)
            self._emit("target", f"the application freed {count} node(s)", target=self._target)
            return self._target

    # -- life cycle ---------------------------------------------------------------------
    def start(self) -> ElasticController:
        try:
            left = self.client.time_left(self.config.job_id)
        except SlurmCommandError as exc:
            left = None
            self._emit("warning", f"cannot read the job's time left: {exc}")
        self._deadline = None if left is None else self.clock() + left
        self._emit("started", f"elastic {self.config.minimum}:{self.config.maximum}, "
                   f"idle timeout {self.policy.idle_timeout_s:g} s",
                   minimum=self.config.minimum, maximum=self.config.maximum)
        self._thread = threading.Thread(target=self._loop, name="hpcflow-elastic", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop deciding (the run is ending)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def cancel_all(self) -> None:
        """Cancel every extension job still known to Slurm: none is left behind."""
        for block in list(self.blocks.values()):
            if block.merged:
                self.config.expansion.stop(block.job_id)
                block.ended = True
            if block.ended:
                continue
            try:
                self.client.cancel(block.job_id)
            except SlurmCommandError as exc:
                sys.stderr.write(f"hpcflow: could not cancel extension job {block.job_id}: "
                                 f"{exc}\n")
                continue
            block.ended = True
            self._emit("cancelled", "the run ended", job=block.job_id)

    def admit(self, rank: int, resources: NodeResources) -> bool:
        """May the agent of ``rank`` join? Not from a quarantined node or an unknown job.
        Called by the hub's receiving thread: takes no lock (a round may be waiting on
        Slurm); the join is booked at the start of the next round."""
        job = block_of(rank)
        name = resources.name
        if name in self.quarantined or (job is not None and job not in self.blocks):
            self._emit("refused", f"agent on {name} refused (quarantined or unknown job)",
                       node=name, job=job)
            return False
        if job is not None:
            self._joins.append((job, name, self.clock()))
        return True

    def _book_joins(self) -> None:
        while self._joins:
            job, name, when = self._joins.popleft()
            self._joined(self.blocks[job], name, when)

    def _joined(self, block: Block, name: str, when: float) -> None:
        latency = when - block.submitted
        first = not block.names
        block.names.add(name)
        self._failed, self._grow_cap = 0, None  # a grow worked: no more backoff
        self._released.discard(name)
        self._retired.pop(name, None)
        self._seen_dead.discard(name)
        self._emit("joined", f"{name} of {'merged allocation' if block.merged else 'extension job'}"
                   f" {block.job_id} joined {latency:.1f} s after the grow", node=name,
                   job=block.job_id, latency=round(latency, 3))
        if first:  # learn how long a grow takes to pay off
            startup = 0.5 * self.policy.startup_s + 0.5 * latency
            self.policy = replace(self.policy, startup_s=max(1.0, startup))

    # -- the loop -----------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.wait(TICK):
            try:
                self.tick()
            except (SlurmCommandError, HpcflowError, OSError) as exc:
                self._emit("error", f"{type(exc).__name__}: {exc}")

    def tick(self) -> ScaleDecision:
        """One round: poll, track, decide, act."""
        with self._lock:
            now = self.clock()
            self._book_joins()
            if now - self._polled >= POLL_EVERY:
                self._polled = now
                self._poll_blocks(now)
                self._poll_nodes()
            self._track(now)
            self._progress_drains(now)
            decision = decide(self._input(now), self.policy)
            self._log(decision)
            if decision.action is Action.GROW:
                self._grow(decision, now)
            elif decision.action is Action.RELEASE:
                self._release(decision, now)
                self._progress_drains(now)  # idle nodes go back in this round
            return decision

    def _input(self, now: float) -> ScalingInput:
        with self.master._lock:
            demand = sample(self.master, self.policy.unknown_task_s)
            loads = self._loads(now)
        remaining = None if self._deadline is None else self._deadline - now
        cores = self.config.settings.cpus_per_node or (loads[0].cores if loads else 1)
        return ScalingInput(
            minimum=self.config.minimum, maximum=self.config.maximum, nodes=loads,
            ready_core_s=demand.ready_core_s, pending_core_s=demand.pending_core_s,
            ready_tasks=demand.ready_tasks, free_cores=demand.free_cores,
            unplaceable=demand.unplaceable, pending_nodes=sum(
                b.waiting for b in self.blocks.values()), remaining_s=remaining,
            since_change_s=now - self._changed_at, failed_grows=self._failed,
            since_failure_s=now - self._failed_at, target=self._target,
            lost_recently=now - self._lost_at < 10.0,
            default_shape=NodeShape(cores, partition=self.config.settings.partition),
            offers=self._offers,
        )  # fmt: skip

    def accepts(self, versions: list[Any]) -> bool:
        """Does a declared partition offer what a task no live node can run needs?  Then
        the call is accepted and the task waits for a grow there."""
        need = need_of(versions)
        return any(offer.fits(need) for offer in self._offers[1:])

    def _loads(self, now: float) -> tuple[NodeLoad, ...]:
        loads = []
        for name, lg in self._ledgers().items():
            if not lg.alive:
                continue
            idle = 0.0 if lg.running else now - self._idle_since.get(name, now)
            loads.append(NodeLoad(name, lg.node.cores, lg.node.cores - lg.free_cores, idle,
                                  master=name == self.config.master_node,
                                  block=self._block_name(name), draining=lg.draining))
        return tuple(loads)

    def _ledgers(self) -> Mapping[str, Any]:
        return dict(self.master._ledgers)

    def _block_name(self, name: str) -> str:
        for block in self.blocks.values():
            if name in block.names and name not in block.gone:
                return block.job_id
        return "main"

    # -- tracking -----------------------------------------------------------------------
    def _track(self, now: float) -> None:
        for name, lg in self._ledgers().items():
            if lg.alive:
                if lg.running:
                    self._idle_since.pop(name, None)
                else:
                    self._idle_since.setdefault(name, now)
            elif name not in self._seen_dead:
                self._seen_dead.add(name)
                if name not in self._retired:
                    self._lose(name, now)

    def _lose(self, name: str, now: float) -> None:
        self.quarantined.add(name)
        self._lost_at = now
        self._draining.pop(name, None)
        self._emit("quarantined", f"node {name} was lost: quarantined for the rest of the "
                   "run", node=name)
        self._give_back([name], "lost")

    def _poll_blocks(self, now: float) -> None:
        for block in [b for b in self.blocks.values() if b.merged and not b.ended]:
            if not self.config.expansion.running(block.job_id):
                block.ended = True
            elif block.waiting and now - block.submitted > self.config.pending_timeout:
                self._overdue(block, JobState.RUNNING, "merged", now)
        live = [b for b in self.blocks.values() if not b.ended and not b.merged]
        if not live:
            return
        jobs = {j.job_id: j for j in self.client.queue([b.job_id for b in live])}
        for block in live:
            info = jobs.get(block.job_id)
            if info is None or info.is_final:
                block.ended = True
                state = info.state.value if info else "gone"
                self._emit("ended", f"extension job {block.job_id} ended ({state})",
                           job=block.job_id)
            elif block.waiting and now - block.submitted > self.config.pending_timeout:
                self._overdue(block, info.state, info.reason, now)

    def _overdue(self, block: Block, state: JobState, reason: str | None, now: float) -> None:
        """An extension job whose agents did not all join in time: a failed grow. Cancelled
        when none joined; else it keeps the nodes that did."""
        missing = block.waiting
        block.nodes = len(block.names)
        if not block.names:
            if block.merged:
                self.config.expansion.stop(block.job_id)
            else:
                self.client.cancel(block.job_id)
            block.ended = True
        what = "pending" if state is JobState.PENDING else f"{state.value}, agents missing"
        self._grow_failed(now, missing, f"extension job {block.job_id} {what} after "
                          f"{now - block.submitted:.0f} s ({reason or '?'})"
                          + ("; cancelled" if block.ended else ""))

    def _poll_nodes(self) -> None:
        """Nodes Slurm says are DOWN or failing are lost (their tasks resubmitted) even if
        their agent still answers; nodes an administrator drains are released gently."""
        held = [name for name, lg in self._ledgers().items() if lg.alive]
        for name, state in self.client.node_states(held).items():
            if name == self.config.master_node or name not in held:
                continue
            if state.startswith(_DEAD_STATES):
                self.master.on_agent_lost(name, f"Slurm reports node {name} {state}")
                self.master._agents[name].shutdown()
            elif state.startswith("drain") and name not in self._draining:
                self._draining[name] = f"Slurm reports node {name} {state}"
                self.master.drain(name)
                self._emit("release", f"draining {name}: Slurm drains it", node=name)

    # -- growing ------------------------------------------------------------------------
    def _grow(self, decision: ScaleDecision, now: float) -> None:
        count = min(decision.count, self._grow_cap or decision.count)
        if self.config.expansion is not None:
            self._merge(count, decision.reason, now)
            return
        shape = decision.shape or NodeShape(1)
        left = DEFAULT_EXTENSION_S if self._deadline is None else self._deadline - now
        script = extension_script(
            self.config.settings.in_partition(shape.partition).at_least(shape.cores, shape.gpus),
            nodes=count, seconds=left,
            run_dir=self.config.run_dir, exclude=sorted(self.quarantined),
            constraint=shape.constraint, partition=shape.partition)
        path = elastic_dir(self.config.run_dir) / f"extension-{len(self.blocks) + 1}.sbatch"
        write_private(path, script)
        try:
            job_id = self.client.submit(path)
        except SlurmCommandError as exc:
            self._grow_failed(now, count, f"sbatch failed: {_one_line(exc)}")
            return
        self.blocks[job_id] = Block(job_id, count, now)
        record_extension(self.config.run_dir, job_id)
        self._changed_at = now
        self._emit("grow", f"submitted extension job {job_id} for {count} node(s): "
                   f"{decision.reason}", job=job_id, nodes=count)

    def _merge(self, count: int, reason: str, now: float) -> None:
        try:
            block, nodes = self.config.expansion.grow(count, sorted(self.quarantined),
                                                      self._main)
        except SlurmCommandError as exc:
            self._grow_failed(now, count, f"job expansion failed: {_one_line(exc)}")
            return
        self.blocks[block] = Block(block, len(nodes), now, merged=True)
        self._main += nodes
        self._changed_at = now
        self._emit("grow", f"merged {','.join(nodes) or 'no node'} into job "
                   f"{self.config.job_id} (allocation {block}): {reason}", job=block,
                   nodes=len(nodes), merged=True)

    def _grow_failed(self, now: float, count: int, why: str) -> None:
        self._failed += 1
        self._failed_at = now
        self._grow_cap = max(1, count // 2)
        wait = backoff_wait(self._failed, self.policy)
        self._emit("grow_failed", f"{why}; retry in {wait:g} s with at most "
                   f"{self._grow_cap} node(s)", failures=self._failed, retry_in=wait)

    # -- shrinking ----------------------------------------------------------------------
    def _release(self, decision: ScaleDecision, now: float) -> None:
        for name in decision.release:
            if name == self.config.master_node or name in self._draining:
                continue
            self._draining[name] = decision.reason
            self.master.drain(name)
            self._emit("release", f"draining {name}: {decision.reason}", node=name)
        self._changed_at = now

    def _progress_drains(self, now: float) -> None:
        ledgers = self._ledgers()
        for name in list(self._draining):
            lg = ledgers.get(name)
            if lg is None or not lg.alive:
                self._draining.pop(name)
            elif not lg.running:
                self._retired[name] = now
                self.master.retire(name, f"released: {self._draining.pop(name)}")
        byes = self._byes()
        ready = [name for name, when in self._retired.items() if name not in self._released
                 and (name in byes or now - when >= RETIRE_WAIT)]
        if ready:
            self._released.update(ready)
            self._give_back(ready, "released")
            self._changed_at = now

    def _give_back(self, names: list[str], why: str) -> None:
        """Return ``names`` to Slurm: shrink the jobs holding them, or cancel an extension
        job left with no node (the master's node is never given back)."""
        by_block: dict[str, list[str]] = {}
        for name in names:
            if name != self.config.master_node:
                by_block.setdefault(self._block_name(name), []).append(name)
        for block_id, gone in by_block.items():
            try:
                self._shrink(block_id, gone, why)
            except SlurmCommandError as exc:
                self._emit("error", f"could not give {','.join(gone)} back: {_one_line(exc)}",
                           job=block_id)

    def _shrink(self, block_id: str, gone: list[str], why: str) -> None:
        merged = self.blocks.get(block_id)
        if merged is not None and merged.merged:
            merged.gone.update(gone)
            merged.ended = merged.ended or merged.names <= merged.gone
            block_id = "main"
        if block_id == "main":
            gone = [name for name in gone if name in self._main]
            if not gone:
                return
            self._main = [name for name in self._main if name not in gone]
            self.client.resize(self.config.job_id, self._main)
            job, now_holds = self.config.job_id, ",".join(self._main)
        else:
            self._shrink_extension(self.blocks[block_id], gone, why)
            return
        for name in gone:
            self._emit("released", f"{name} {why}: job {job} now {now_holds}", node=name,
                       job=job)

    def _shrink_extension(self, block: Block, gone: list[str], why: str) -> None:
        block.gone.update(gone)
        block.held.update(gone)
        kept = sorted(block.names - block.gone)
        try:
            if kept and not block.ended:
                self.client.resize(block.job_id, kept)
            elif not block.ended:
                self.client.cancel(block.job_id)  # False when it had already ended: fine
                block.ended = True
        except SlurmCommandError as exc:
            text = _one_line(exc).lower()
            if "invalid node name" in text:  # a job's batch host cannot leave it
                self._emit("held", f"{','.join(gone)} stay(s) in job {block.job_id} (its "
                           "batch host) until the rest of it goes", job=block.job_id)
                return
            if "finished" not in text:
                raise
            block.ended = True  # its last agents stopped and the job ended by itself
        now_holds = ",".join(kept) if kept and not block.ended else "cancelled"
        for name in sorted(block.held):
            self._emit("released", f"{name} {why}: job {block.job_id} now {now_holds}",
                       node=name, job=block.job_id)
        block.held.clear()

    # -- the event log ------------------------------------------------------------------
    def _log(self, decision: ScaleDecision) -> None:
        key = (decision.action.value, re.sub(r"[0-9][0-9.]*", "#", decision.reason))
        if key != self._logged:
            self._logged = key
            self._emit("decision", decision.reason, action=decision.action.value,
                       count=decision.count, release=list(decision.release))

    def _emit(self, what: str, reason: str, **fields: Any) -> None:
        self.master.events.emit("elastic", what=what, reason=reason, **fields)


def _one_line(exc: SlurmCommandError) -> str:
    text = (exc.stderr or exc.stdout or str(exc)).strip().splitlines()
    return text[-1] if text else str(exc)

