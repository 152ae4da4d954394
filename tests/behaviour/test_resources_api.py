"""number_of_resources / request_resources / free_resources outside an elastic job."""

from __future__ import annotations

import os

import pytest

import hpcflow
from hpcflow.errors import UsageError
from hpcflow.runtime import context
from hpcflow.runtime.session import local_session
from hpcflow.scheduler.resources import NodeResources


def test_without_a_runtime_there_is_one_node_and_it_stays_so():
    assert hpcflow.number_of_resources() == 1
    assert hpcflow.request_resources(3) == 1
    assert hpcflow.free_resources(1) == 1


def test_the_local_runtime_reports_its_one_node_and_ignores_requests():
    session = local_session(os.path.dirname(__file__), node=NodeResources("here", 2, 4.0))
    try:
        with context.installed(session.master):
            assert hpcflow.number_of_resources() == 1
            assert hpcflow.request_resources(2) == 1
            assert hpcflow.free_resources(2) == 1
            with pytest.raises(UsageError, match="n must be an int >= 0"):
                hpcflow.request_resources(-1)
    finally:
        session.close()


def test_the_pycompss_spellings_call_the_same_functions(monkeypatch):
    monkeypatch.syspath_prepend(os.path.join(os.path.dirname(__file__), "..", "..", "compat",
                                             "pycompss"))
    from pycompss.api.api import (
        compss_free_resources,
        compss_get_number_of_resources,
        compss_request_resources,
    )

    calls = []

    class Controller:
        def number(self):
            return 2

        def request(self, n):
            calls.append(("request", n))
            return 2 + n

        def free(self, n):
            calls.append(("free", n))
            return 2 - n

    class Runtime:
        elastic = Controller()

    with context.installed(Runtime()):
        assert compss_get_number_of_resources() == 2
        assert compss_request_resources(1, None) is None
        assert compss_free_resources(1, "group") is None
    assert calls == [("request", 1), ("free", 1)]
