"""IN_DELETE: the runtime lets go of the object once the task has read it."""

from __future__ import annotations

import pytest

from hpcflow import barrier, task, wait_on
from hpcflow.errors import UsageError


@task(returns=1)
def make(n):
    return list(range(n))


@task(data="IN_DELETE", returns=1)
def total(data):
    return sum(data)


def test_in_delete_releases_the_value_once_read(runtime):
    produced = make(1000)
    out = total(produced)
    assert wait_on(out) == sum(range(1000))
    barrier()
    assert not [v for v in runtime._store if v.key == produced.key]  # the value is gone
    with pytest.raises(UsageError, match="deleted"):
        wait_on(produced)


@task(returns=1)
def total_in(data):
    return sum(data)


def test_a_plain_in_keeps_the_value(runtime):
    produced = make(10)
    assert wait_on(total_in(produced)) == 45
    barrier()
    assert [v for v in runtime._store if v.key == produced.key]
    assert wait_on(produced) == list(range(10))
