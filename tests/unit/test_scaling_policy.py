"""The elastic scaling policy: a table of run states and the decision each one gets."""

from __future__ import annotations

import math

import pytest

from hpcflow.scheduler.scaling import (
    Action,
    NodeLoad,
    NodeShape,
    ScalingInput,
    ScalingPolicy,
    backoff_left,
    decide,
)

POLICY = ScalingPolicy(idle_timeout_s=10, startup_s=5, grow_margin_s=5, cooldown_s=5,
                       backoff_s=4, backoff_max_s=30)
SHAPE = NodeShape(4, partition="debug")
MASTER = NodeLoad("n1", 4, busy_cores=4, master=True)


def busy(name: str, block: str = "main") -> NodeLoad:
    return NodeLoad(name, 4, busy_cores=4, block=block)


def idle(name: str, seconds: float, block: str = "main") -> NodeLoad:
    return NodeLoad(name, 4, idle_s=seconds, block=block)


def state(nodes=(MASTER,), **kw) -> ScalingInput:
    base = dict(minimum=1, maximum=3, nodes=tuple(nodes), default_shape=SHAPE)
    return ScalingInput(**{**base, **kw})


BURST = dict(ready_core_s=112.0, ready_tasks=56)

CASES = [
    # (name, input, action, count, released)
    ("burst on one node grows by two", state(**BURST), Action.GROW, 2, ()),
    ("grow is capped at MAX", state(ready_core_s=1000.0, ready_tasks=500), Action.GROW, 2, ()),
    ("few tasks: no more nodes than tasks", state(ready_core_s=400.0, ready_tasks=3),
     Action.GROW, 1, ()),
    ("short backlog does not pay off", state(ready_core_s=30.0, ready_tasks=15),
     Action.NOTHING, 0, ()),
    ("free cores absorb the ready tasks", state(ready_core_s=200.0, ready_tasks=2,
                                                free_cores=4), Action.NOTHING, 0, ()),
    ("pending nodes count as coming capacity",
     state(pending_nodes=2, **BURST), Action.NOTHING, 0, ()),
    ("MAX reached", state(nodes=(MASTER, busy("n2"), busy("n3")), **BURST),
     Action.NOTHING, 0, ()),
    ("backing off after a failed grow",
     state(failed_grows=2, since_failure_s=3.0, **BURST), Action.NOTHING, 0, ()),
    ("backoff over: retry", state(failed_grows=2, since_failure_s=9.0, **BURST),
     Action.GROW, 2, ()),
    ("walltime too short to use a new node", state(remaining_s=8.0, **BURST),
     Action.NOTHING, 0, ()),
    ("enough walltime", state(remaining_s=600.0, **BURST), Action.GROW, 2, ()),
    ("unplaceable task asks for its shape", state(unplaceable=(NodeShape(8),)),
     Action.GROW, 1, ()),
    ("below MIN after a loss: replace", state(minimum=2, lost_recently=True),
     Action.GROW, 1, ()),
    ("idle extension nodes released, main last",
     state(nodes=(MASTER, idle("n2", 20), idle("n3", 30, block="77"))),
     Action.RELEASE, 0, ("n3", "n2")),
    ("not idle long enough", state(nodes=(MASTER, idle("n2", 5))), Action.NOTHING, 0, ()),
    ("never below MIN", state(minimum=2, nodes=(MASTER, idle("n2", 50), idle("n3", 50))),
     Action.RELEASE, 0, ("n2",)),
    ("the master's node is never released",
     state(nodes=(NodeLoad("n1", 4, idle_s=100, master=True),)), Action.NOTHING, 0, ()),
    ("cooldown after a change", state(nodes=(MASTER, idle("n2", 50)), since_change_s=2),
     Action.NOTHING, 0, ()),
    ("ready work keeps idle nodes", state(nodes=(MASTER, idle("n2", 50)), ready_tasks=1,
                                          ready_core_s=1.0), Action.NOTHING, 0, ()),
    ("draining nodes do not count", state(nodes=(MASTER, NodeLoad("n2", 4, draining=True)),
                                          minimum=2), Action.GROW, 1, ()),
    ("app target grows", state(target=3), Action.GROW, 2, ()),
    ("app target shrinks, idle first", state(target=1, nodes=(
        MASTER, busy("n2"), idle("n3", 0.5))), Action.RELEASE, 0, ("n3", "n2")),
    ("app target clamped to MIN", state(target=0, minimum=2, nodes=(
        MASTER, idle("n2", 1), idle("n3", 1))), Action.RELEASE, 0, ("n2",)),
    ("app target clamped to MAX", state(target=9), Action.GROW, 2, ()),
    ("at the app target", state(target=2, nodes=(MASTER, idle("n2", 99))),
     Action.NOTHING, 0, ()),
]


@pytest.mark.parametrize(("name", "inp", "action", "count", "released"), CASES,
                         ids=[c[0] for c in CASES])
def test_decision_table(name, inp, action, count, released):
    decision = decide(inp, POLICY)
    assert decision.action is action, decision.reason
    assert decision.count == count
    assert decision.release == released
    assert decision.reason
    if action is Action.GROW:
        assert decision.shape is not None


def test_unplaceable_grow_uses_the_tasks_shape():
    decision = decide(state(unplaceable=(NodeShape(8, constraint="bigmem"),)), POLICY)
    assert decision.shape == NodeShape(8, constraint="bigmem")


@pytest.mark.parametrize(("failures", "since", "left"), [
    (0, math.inf, 0.0), (1, 0.0, 4.0), (2, 1.0, 7.0), (3, 0.0, 16.0), (10, 0.0, 30.0),
    (10, 31.0, 0.0)])
def test_backoff_doubles_up_to_a_limit(failures, since, left):
    inp = state(failed_grows=failures, since_failure_s=since)
    assert backoff_left(inp, POLICY) == pytest.approx(left)


def test_no_flapping_a_grown_run_does_not_release_while_work_waits():
    nodes = (MASTER, idle("n2", 100), idle("n3", 100))
    assert decide(state(nodes=nodes, **BURST), POLICY).action is Action.NOTHING
