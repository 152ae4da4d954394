"""Semantics PyCOMPSs applications rely on that are right for hpcflow too: tasks as
methods, returns decided per call or inferred, classes as returns, collections with a
depth and replaced elements, groups waited on later, pending files that exist."""

from __future__ import annotations

import time

import pytest

from hpcflow import COLLECTION_INOUT, COLLECTION_OUT, FILE_OUT, TaskFailed, TaskGroup, task
from hpcflow import wait_on as w
from hpcflow.api.sync import barrier_group, cancel_group, file_exists


class Counter:
    def __init__(self) -> None:
        self.n = 0

    @task()
    def add(self, k):
        self.n += k

    @task(target_direction="IN", returns=1)
    def peek(self):
        self.n = -999  # not written back: self is IN
        return self.n

    @classmethod
    @task(returns=1)
    def make(cls, n):
        obj = cls()
        obj.n = n
        return obj


class Louder(Counter):
    @task()
    def add(self, k):
        self.n += 10 * k


@task(returns=Counter)
def new_counter():
    return Counter()


@task()
def inferred(x):
    return x + 1, x + 2


@task(returns="n")
def several(n):
    return list(range(n))


@task(returns=1)
def nested(x):
    return inferred(x)[1] * 10  # a task called inside a task runs in place


def test_method_tasks_self_inout_by_default_and_in_on_request(runtime):
    c = Counter()
    c.add(2)
    c.add(3)
    assert w(c.peek()) == -999
    assert w(c).n == 5


def test_classmethod_and_overridden_method_tasks(runtime):
    made = Counter.make(7)
    loud = Louder()
    loud.add(1)
    inherited = Louder.make(2)
    assert w(made).n == 7 and w(loud).n == 10
    assert type(w(inherited)) is Louder


def test_class_as_returns_gives_an_instance_that_chains_tasks(runtime):
    c = new_counter()
    assert isinstance(c, Counter)
    c.add(4)
    c.add(1)
    assert w(c) is c and c.n == 5
    c.add(1)  # after wait_on the object is the caller's again: a new datum
    assert w(c).n == 6


def test_returns_inferred_per_call_and_at_call_time(runtime):
    a, b = inferred(1)
    assert w(a, b) == [2, 3]
    assert w(list(several(3))) == [0, 1, 2]
    x, y = several(2, returns=2)
    assert w(x) == 0 and w(y) == 1
    assert w(nested(1)) == 30


@task(col=COLLECTION_OUT)
def fill(col):
    for i in range(len(col)):
        col[i] = {"i": i}  # replaced by assignment, not changed in place


@task(col={"type": COLLECTION_INOUT, "depth": 1})
def tag_rows(col):
    for row in col:
        row.append("x")


def test_collection_out_elements_replaced_by_assignment(runtime):
    col = [{} for _ in range(4)]
    fill(col)
    assert w(col) == [{"i": i} for i in range(4)]


def test_collection_depth_makes_nested_lists_elements(runtime):
    rows = [[1, [2]], [3, [4]]]
    tag_rows(rows)
    assert w(rows) == [[1, [2], "x"], [3, [4], "x"]]


@task(returns=1)
def slow_fail(x):
    time.sleep(0.3)
    raise ValueError(f"bad {x}")


@task(returns=1)
def sleeper(x):
    time.sleep(30)
    return x


def test_group_without_implicit_barrier_raises_at_barrier_group(runtime):
    with TaskGroup("later", implicit_barrier=False):
        slow_fail.with_spec(retries=0)(1)
        sleeper(2)
    started = time.time()
    with pytest.raises(TaskFailed, match="bad 1"):
        barrier_group("later")
    assert time.time() - started < 10  # the sleeper was killed


def test_cancel_group(runtime):
    with TaskGroup("doomed", implicit_barrier=False):
        result = sleeper(1)
    cancel_group("doomed")
    with pytest.raises(TaskFailed, match="cancelled"):
        w(result)


@task(path=FILE_OUT)
def write_late(path):
    time.sleep(0.5)
    with open(path, "w") as fh:
        fh.write("done")


def test_pending_output_exists(runtime, tmp_path):
    target = tmp_path / "late.txt"
    write_late(str(target))
    assert not target.exists() and file_exists(str(target))
    assert not file_exists(str(tmp_path / "never.txt"))
