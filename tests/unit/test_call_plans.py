"""Call plans: the shortcut for a call of plain scalars gives what the general path gives."""

from __future__ import annotations

import pickle

import pytest

from hpcflow import INOUT, task
from hpcflow.errors import UsageError
from hpcflow.runtime.calls import Tracker, build_call
from hpcflow.runtime.futures import Future


@task(returns=1)
def add(x, y):
    return x + y


@task(returns=1)
def scaled(x, factor=2):
    return x * factor


@task(values=INOUT)
def append(values, item):
    values.append(item)


def _plan(fn, *args, **kwargs):
    return build_call(fn.spec, fn.signature, Tracker(), 1, args, kwargs)


def test_a_call_of_scalars_is_pickled_as_given_with_no_accesses() -> None:
    plan = _plan(add, 1, "a")
    assert pickle.loads(plan.call) == ((1, "a"), {})
    assert (plan.refs, plan.accesses, plan.write_back, plan.initial) == ([], [], (), {})


def test_a_future_among_the_arguments_is_a_dependency() -> None:
    future = Future("add")
    plan = _plan(add, 1, future)
    assert plan.refs == [future.key] and [a.key for a in plan.accesses] == [future.key]


def test_wrong_arity_is_refused_and_defaults_are_bound() -> None:
    with pytest.raises(UsageError, match="bad call to task add"):
        _plan(add, 1)
    with pytest.raises(UsageError, match="bad call to task add"):
        _plan(add, 1, 2, 3)
    assert pickle.loads(_plan(scaled, 3).call) == ((3, 2), {})
    assert pickle.loads(_plan(scaled, 3, factor=4).call) == ((3, 4), {})


def test_a_written_argument_is_never_a_plain_call() -> None:
    plan = _plan(append, [1], 2)
    assert plan.write_back == (0,) and len(plan.initial) == 1
    with pytest.raises(UsageError, match="immutable"):  # scalars, but a written one
        _plan(append, 1, 2)
