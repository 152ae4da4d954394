"""How many values a task returns: declared, per call, or inferred from the code."""

import inspect

import pytest

from hpcflow import task
from hpcflow.api.returns import PER_CALL, count_returns, future_classes, returns_at_call
from hpcflow.errors import UsageError


def none():
    print("side effect")


def one(x):
    if x:
        return x
    return None


def two(x):
    def inner():
        return 1, 2, 3  # an inner function's returns do not count

    return x, inner


def annotated(x) -> tuple[int, int, int]:
    return x


def annotated_none(x) -> None:
    pass


@pytest.mark.parametrize("func, n", [(none, 0), (one, 1), (two, 2), (annotated, 3),
                                     (annotated_none, 0), (lambda x: x, 0)])
def test_inferred_from_code_or_annotation(func, n):
    assert count_returns(None, func, "f") == n


@pytest.mark.parametrize("returns, n", [(2, 2), ("3", 3), ((int, str), 2), ([int], 1),
                                        (dict, 1), (False, 0), (True, 1), ("n", PER_CALL),
                                        ("value_of(n)", PER_CALL)])
def test_declared(returns, n):
    assert count_returns(returns, none, "f") == n


class Box:
    size = 4


N_GLOBAL = 5


def takes(n, box=None):
    return n


@pytest.mark.parametrize("returns, args, kwargs, n", [
    ("n", (2,), {}, 2), ("value_of(n)", (3,), {}, 3), ("value_of( box.size )", (1, Box()), {}, 4),
    ("N_GLOBAL", (0,), {}, 5)])
def test_per_call(returns, args, kwargs, n):
    assert returns_at_call(returns, inspect.signature(takes), args, kwargs, takes, "t") == n


def test_per_call_names_nothing():
    with pytest.raises(UsageError, match="names no parameter or global"):
        returns_at_call("nope", inspect.signature(takes), (1,), {}, takes, "t")


def test_future_classes_only_user_classes():
    assert future_classes(Box) == (Box,)
    assert future_classes((int, Box)) == (None, Box)
    assert future_classes(2) == (None,)


def test_task_without_returns_infers_them():
    @task
    def pair(x):
        return x, x + 1

    assert pair.spec.n_returns == 2
    assert pair(1) == (1, 2)  # no runtime: runs in place


def test_target_direction_and_call_time_returns_without_runtime():
    class C:
        @task(target_direction="IN")
        def get(self):
            return 1

    assert C.get.spec.params[0].direction.name == "IN"
    assert C().get(returns=1) == 1  # the keyword is the runtime's, not the function's
