"""Decorators record frozen specs; bad keywords are one-line errors."""

import pytest

from hpcflow import FILE_IN, INOUT, constraint, on_failure, task
from hpcflow.errors import UsageError
from hpcflow.graph.spec import Policy


def test_returns_and_directions():
    @task(returns=(int, float), x=INOUT, path=FILE_IN, priority=True, time_out=5)
    def f(x, path, y=1):
        return 1, 2.0

    assert f.spec.n_returns == 2
    assert [p.direction.name for p in f.spec.params] == ["INOUT", "FILE_IN", "IN"]
    assert f.spec.priority and f.spec.time_out == 5.0
    assert f.spec.policy is Policy.RETRY and f.spec.retries == 2


@pytest.mark.parametrize("returns, n", [(None, 0), (0, 0), (1, 1), (3, 3), (int, 1),
                                        ([int, str], 2), (dict, 1)])
def test_count_returns(returns, n):
    @task(returns=returns)
    def f():
        pass

    assert f.spec.n_returns == n


def test_constraint_above_or_below_task_and_camel_case():
    @constraint(computingUnits="2", MemorySize=1.5, ProcessorType="ARM")
    @task(returns=1)
    def above():
        pass

    @task(returns=1)
    @constraint(computing_units=2, memory_size=1.5, processor_type="ARM")
    def below():
        pass

    assert above.spec.constraints == below.spec.constraints
    assert above.spec.constraints.computing_units == 2


def test_on_failure_decorator_both_orders():
    @on_failure(management="IGNORE", returns=0)
    @task(returns=1)
    def a():
        pass

    @task(returns=1)
    @on_failure(management="CANCEL_SUCCESSORS")
    def b():
        pass

    assert a.spec.policy is Policy.IGNORE and a.spec.ignore_returns == (0,)
    assert b.spec.policy is Policy.CANCEL_SUCCESSORS


@pytest.mark.parametrize("make, message", [
    (lambda: task(x="UP")(lambda x: x), "unknown direction 'UP'"),
    (lambda: task(z=INOUT)(lambda x: x), "has no parameter 'z'"),
    (lambda: task(on_failure="PANIC")(lambda: 0), "unknown on_failure 'PANIC'"),
    (lambda: task(time_out=-1)(lambda: 0), "must be positive"),
    (lambda: constraint(cores=2)(lambda: 0), "unknown constraint 'cores'"),
    (lambda: constraint(computing_units=0)(lambda: 0), "invalid constraint computing_units=0"),
])
def test_bad_decorator_input(make, message):
    with pytest.raises(UsageError, match=message):
        make()


def test_inout_on_an_immutable_is_refused():
    from hpcflow.runtime import context
    from hpcflow.runtime.master import Master

    @task(x=INOUT)
    def f(x):
        pass

    with context.installed(Master()), pytest.raises(UsageError, match="immutable"):
        f(3)


def test_on_failure_file_defaults_name_file_outputs():
    from hpcflow import FILE_OUT, on_failure, task
    from hpcflow.errors import UsageError

    @on_failure(management="IGNORE", out="default.txt")
    @task(out=FILE_OUT)
    def fine(out):
        pass

    assert fine.spec.ignore_files == (("out", "default.txt"),)
    with pytest.raises(UsageError, match="'x' is not a file output"):
        on_failure(management="IGNORE", x="d.txt")(task(lambda x: None))
