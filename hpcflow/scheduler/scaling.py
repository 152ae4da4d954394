"""Elastic scaling policy (pure): how many nodes the run should hold, and which to give back.

The runtime (``hpcflow.runtime.elastic``) samples the master into a :class:`ScalingInput`
about once a second and executes the :class:`ScaleDecision` that :func:`decide` returns.
No clocks, no I/O: every time is passed in, so a table of inputs is a complete test.

Rules, in order:

1. Never below ``minimum`` (a lost node is replaced even with no work waiting).
2. An application target (``request_resources``/``free_resources``) replaces the
   demand-driven size while it is set.
3. Grow when the waiting work would keep the current nodes busy for longer than a new
   node takes to start (``startup_s``) plus ``grow_margin_s`` (hysteresis), when the job
   has walltime left to use it, and when the last failed grow's backoff has run out.
   Ready tasks that no current node can run ask for one node of their shape (while fewer
   nodes are pending than such tasks wait), in the
   first partition of ``offers`` (the main one first, then the site's declared ones) whose
   nodes offer what they need, with ``--constraint`` of that partition's features.
4. Release nodes idle for ``idle_timeout_s`` when no work waits, newest first, never the
   master's node, never below ``minimum``; never in the ``cooldown_s`` after a change.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class NodeShape:
    """What an extension job asks for per node: cores, plus Slurm partition/constraint."""

    cores: int
    partition: str | None = None
    constraint: str | None = None
    gpus: int = 0
    memory_gb: float = 0.0
    software: frozenset[str] = frozenset()  # tags the node must offer


@dataclass(frozen=True)
class PartitionOffer:
    """What a node of one partition offers; 0 cores or memory means "not declared"."""

    name: str | None
    cores: int = 0
    memory_gb: float = 0.0
    gpus: int = 0
    features: tuple[str, ...] = ()
    software: frozenset[str] = frozenset()

    def fits(self, need: NodeShape) -> bool:
        """Could a node of this partition run a task needing ``need``?"""
        return ((not self.cores or need.cores <= self.cores)
                and (not self.memory_gb or need.memory_gb <= self.memory_gb)
                and need.gpus <= self.gpus and need.software <= self.software)


def shape_for(need: NodeShape, offers: tuple[PartitionOffer, ...]) -> NodeShape:
    """The node to ask for a task needing ``need``: in the first offer that fits it, else
    ``need`` itself (the main job's partition)."""
    for offer in offers:
        if offer.fits(need):
            return replace(need, partition=offer.name,
                           constraint="&".join(offer.features) or None)
    return need


@dataclass(frozen=True)
class NodeLoad:
    """One live node as the policy sees it."""

    name: str
    cores: int
    busy_cores: int = 0
    idle_s: float = 0.0  # seconds since the node last ran a task (0 while busy)
    master: bool = False  # the master's node: never released
    block: str = "main"  # "main" or the job id of the extension job holding the node
    draining: bool = False


@dataclass(frozen=True)
class ScalingPolicy:
    """Tunables (seconds unless named otherwise)."""

    idle_timeout_s: float = 30.0
    startup_s: float = 10.0  # expected time from sbatch to a new agent taking work
    grow_margin_s: float = 5.0  # work must outlast startup by this much (hysteresis)
    cooldown_s: float = 5.0  # after a grow or release, no release for this long
    backoff_s: float = 5.0  # after the first failed grow; doubles per failure
    backoff_max_s: float = 120.0
    unknown_task_s: float = 1.0  # duration assumed for a function not measured yet


@dataclass(frozen=True)
class ScalingInput:
    """The run's state at one instant."""

    minimum: int
    maximum: int
    nodes: tuple[NodeLoad, ...]
    ready_core_s: float = 0.0  # ready, not yet running: cores x expected seconds
    pending_core_s: float = 0.0  # submitted, waiting on dependencies
    ready_tasks: int = 0
    free_cores: int = 0  # cores free on live nodes right now
    unplaceable: tuple[NodeShape, ...] = ()  # shapes of ready tasks no live node can run
    pending_nodes: int = 0  # nodes of extension jobs submitted but not joined yet
    remaining_s: float | None = None  # walltime left to the main job (None: unlimited)
    since_change_s: float = math.inf  # since the last grow or release was executed
    failed_grows: int = 0  # consecutive grows that failed (sbatch error, pending too long)
    since_failure_s: float = math.inf
    target: int | None = None  # the application's requested size, if any
    lost_recently: bool = False  # a node was lost since the last decision
    default_shape: NodeShape = field(default_factory=lambda: NodeShape(1))
    offers: tuple[PartitionOffer, ...] = ()  # partitions to grow in, the main one first


class Action(enum.Enum):
    NOTHING = "nothing"
    GROW = "grow"
    RELEASE = "release"


@dataclass(frozen=True)
class ScaleDecision:
    """Grow by ``count`` nodes of ``shape``, release ``release``, or nothing; and why."""

    action: Action
    reason: str
    count: int = 0
    shape: NodeShape | None = None
    release: tuple[str, ...] = ()


def decide(inp: ScalingInput, policy: ScalingPolicy) -> ScaleDecision:
    """The one decision for this instant (see the module docstring for the rules)."""
    live = [n for n in inp.nodes if not n.draining]
    have = len(live) + inp.pending_nodes
    if have < inp.minimum:
        why = "replacing a lost node" if inp.lost_recently else "below the minimum"
        return _grow(inp, policy, inp.minimum - have, inp.default_shape,
                     f"{why}: {have} of at least {inp.minimum} nodes")
    if inp.target is not None:
        return _to_target(inp, policy, live, have)
    grow = _demand_grow(inp, policy, live, have)
    if grow.action is not Action.NOTHING:
        return grow
    release = _idle_release(inp, policy, live)
    return release if release.action is not Action.NOTHING else grow


def backoff_left(inp: ScalingInput, policy: ScalingPolicy) -> float:
    """Seconds before the next grow may be tried after ``failed_grows`` failures."""
    if inp.failed_grows <= 0:
        return 0.0
    return max(0.0, backoff_wait(inp.failed_grows, policy) - inp.since_failure_s)


def backoff_wait(failures: int, policy: ScalingPolicy) -> float:
    """The pause after ``failures`` consecutive failed grows: doubling, capped."""
    return float(min(policy.backoff_max_s, policy.backoff_s * 2.0 ** max(0, failures - 1)))


def _grow(inp: ScalingInput, policy: ScalingPolicy, count: int, shape: NodeShape,
          reason: str) -> ScaleDecision:
    have = len([n for n in inp.nodes if not n.draining]) + inp.pending_nodes
    count = min(count, inp.maximum - have)
    if count <= 0:
        return _nothing(f"wanted more nodes but MAX ({inp.maximum}) is reached: {reason}")
    wait = backoff_left(inp, policy)
    if wait > 0:
        return _nothing(f"grow backing off {wait:.0f} s more after {inp.failed_grows} "
                        f"failed grow(s): {reason}")
    if inp.remaining_s is not None and inp.remaining_s < policy.startup_s + policy.grow_margin_s:
        return _nothing(f"no grow: {inp.remaining_s:.0f} s of walltime left, a new node "
                        f"needs ~{policy.startup_s:.0f} s to start: {reason}")
    return ScaleDecision(Action.GROW, reason, count=count, shape=shape)


def _to_target(inp: ScalingInput, policy: ScalingPolicy, live: list[NodeLoad],
               have: int) -> ScaleDecision:
    target = min(max(inp.target or 0, inp.minimum), inp.maximum)
    if have < target:
        return _grow(inp, policy, target - have, inp.default_shape,
                     f"the application asked for {target} nodes, {have} held or pending")
    excess = len(live) - target
    if excess <= 0:
        return _nothing(f"at the application's target of {target} nodes")
    chosen = _release_order(live)[:excess]
    if not chosen:
        return _nothing("only the master's node is left")
    return ScaleDecision(Action.RELEASE, f"the application asked for {target} nodes, "
                         f"{len(live)} held", release=tuple(n.name for n in chosen))


def _demand_grow(inp: ScalingInput, policy: ScalingPolicy, live: list[NodeLoad],
                 have: int) -> ScaleDecision:
    if inp.unplaceable and inp.pending_nodes < len(inp.unplaceable):  # one node per task
        need = inp.unplaceable[0]
        shape = shape_for(need, inp.offers)
        where = f" in partition {shape.partition}" if shape.partition else ""
        return _grow(inp, policy, 1, shape, f"{len(inp.unplaceable)} ready task(s) fit no "
                     f"current node (need {need.cores} cores){where}")
    cores = sum(n.cores for n in live) or 1
    per_node = inp.default_shape.cores or max(1, cores // max(1, len(live)))
    backlog = inp.ready_core_s + inp.pending_core_s
    if inp.ready_tasks <= inp.free_cores or backlog <= 0:
        return _nothing("no ready work waits for cores")
    coming = inp.pending_nodes * per_node
    busy_for = backlog / (cores + coming)
    needed = policy.startup_s + policy.grow_margin_s
    if busy_for <= needed:
        return _nothing(f"the waiting work ({backlog:.0f} core-s) keeps {cores + coming} "
                        f"cores busy {busy_for:.1f} s, under the {needed:.0f} s a new "
                        f"node needs to pay off")
    after_start = backlog - (cores + coming) * policy.startup_s
    want = math.ceil(after_start / (per_node * needed))
    useful = math.ceil(inp.ready_tasks / per_node)  # more nodes than tasks would idle
    count = max(1, min(want, useful))
    return _grow(inp, policy, count, inp.default_shape,
                 f"{inp.ready_tasks} ready task(s), {backlog:.0f} core-s of work would keep "
                 f"{cores + coming} cores busy {busy_for:.1f} s")


def _idle_release(inp: ScalingInput, policy: ScalingPolicy,
                  live: list[NodeLoad]) -> ScaleDecision:
    if inp.ready_tasks > 0:
        return _nothing("ready work waits: keeping every node")
    if inp.since_change_s < policy.cooldown_s:
        return _nothing(f"cooling down {policy.cooldown_s - inp.since_change_s:.0f} s "
                        f"after the last change")
    spare = len(live) - inp.minimum
    idle = [n for n in _release_order(live)
            if n.busy_cores == 0 and n.idle_s >= policy.idle_timeout_s]
    chosen = idle[:max(0, spare)]
    if not chosen:
        return _nothing("no node idle long enough to release")
    return ScaleDecision(Action.RELEASE, f"{len(chosen)} node(s) idle for at least "
                         f"{policy.idle_timeout_s:g} s and no work waits",
                         release=tuple(n.name for n in chosen))


def _release_order(live: list[NodeLoad]) -> list[NodeLoad]:
    """Candidates to give back: never the master's; idle first, extension nodes first,
    longest idle first."""
    others = [n for n in live if not n.master]
    return sorted(others, key=lambda n: (n.busy_cores, n.block == "main", -n.idle_s, n.name))


def _nothing(reason: str) -> ScaleDecision:
    return ScaleDecision(Action.NOTHING, reason)
