"""start()/stop(): the local runtime from a notebook or an interactive session."""

from __future__ import annotations

import os

from hpcflow import start, stop, task, wait_on
from hpcflow.runtime import context


@task(returns=1)
def pid_of(x):
    return (os.getpid(), x)


def test_start_and_stop_the_local_runtime(capsys):
    assert context.current() is None
    start(workers=2)
    try:
        assert context.current() is not None
        results = wait_on([pid_of(i) for i in range(6)])
    finally:
        stop(summary=True)
    assert [x for _, x in results] == list(range(6))
    assert os.getpid() not in {p for p, _ in results}  # they ran in task processes
    assert context.current() is None
    assert "pid_of" in capsys.readouterr().out
    assert pid_of(3) == (os.getpid(), 3)  # after stop(): in place again
