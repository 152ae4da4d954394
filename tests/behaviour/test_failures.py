"""Failure management on the local runtime: every policy, time-outs, crashes, groups."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from hpcflow import (
    FILE_OUT,
    TaskFailed,
    TaskGroup,
    barrier,
    on_failure,
    task,
    wait_on,
)
from hpcflow.graph.states import TaskState


def _attempt(marker: str) -> int:
    """Count calls across processes with a file of one byte per attempt."""
    with open(marker, "ab") as fh:
        fh.write(b"x")
    return os.path.getsize(marker)


@task(returns=1, retries=2)
def flaky(marker, fail_times):
    n = _attempt(marker)
    if n <= fail_times:
        raise RuntimeError(f"attempt {n} fails")
    return n


@task(returns=1, on_failure="CANCEL_SUCCESSORS")
def broken(x):
    raise ValueError(f"bad value {x}")


@task(returns=1)
def inc(x):
    return x + 1


@task(returns=1, on_failure="FAIL")
def fatal(x):
    raise KeyError(x)


@task(returns=1)
def sleeper(seconds):
    time.sleep(seconds)
    return seconds


@on_failure(management="IGNORE", returns=-1)
@task(returns=1, path=FILE_OUT)
def ignored_writer(path):
    with open(path, "w") as fh:
        fh.write("partial")
    raise OSError("disk on fire")


@task(returns=1, time_out=1, on_failure="CANCEL_SUCCESSORS")
def too_slow(seconds):
    time.sleep(seconds)
    return seconds


@task(returns=1, on_failure="CANCEL_SUCCESSORS", retries=0)
def segfault():
    os.kill(os.getpid(), signal.SIGSEGV)


@task(returns=1, on_failure="CANCEL_SUCCESSORS")
def hard_exit():
    os._exit(3)


@task(returns=1, on_failure="CANCEL_SUCCESSORS")
def unpicklable_result():
    return threading.Lock()


def test_retry_then_success(runtime, tmp_path):
    marker = str(tmp_path / "m")
    assert wait_on(flaky(marker, 2)) == 3  # two failures, third attempt succeeds


def test_retry_exhausted_fails_the_application(runtime, tmp_path):
    marker = str(tmp_path / "m")
    future = flaky(marker, 5)
    with pytest.raises(TaskFailed, match="attempt 3 fails") as info:
        wait_on(future)
    assert os.path.getsize(marker) == 3  # retries=2: three attempts in all
    assert "RuntimeError" in info.value.remote_traceback
    assert info.value.host and info.value.pid > 0
    with pytest.raises(TaskFailed):
        inc(1)  # the application has stopped


def test_cancel_successors_keeps_the_rest_running(runtime):
    bad = broken(1)
    successor = inc(bad)
    grand = inc(successor)
    independent = inc(41)
    assert wait_on(independent) == 42
    with pytest.raises(TaskFailed, match="bad value 1"):
        wait_on(bad)
    with pytest.raises(TaskFailed, match="cancelled because broken") as info:
        wait_on(grand)
    assert info.value.cancelled
    assert wait_on(inc(1)) == 2  # the application goes on


def test_fail_stops_the_application(runtime):
    running = sleeper(3)
    future = fatal("k")
    with pytest.raises(TaskFailed, match="KeyError"):
        wait_on(future)
    start = time.time()
    runtime.settle()
    assert time.time() - start < 2.5, "running tasks were not killed"
    assert runtime.graph.tasks[1].state is TaskState.CANCELLED
    assert runtime.fatal is not None
    with pytest.raises(TaskFailed):
        barrier()
    del running


def test_ignore_creates_empty_outputs_and_default_returns(runtime, tmp_path):
    path = tmp_path / "out.txt"
    value = ignored_writer(str(path))
    assert wait_on(inc(value)) == 0  # the successor ran with the default -1
    assert path.exists() and path.read_text() == ""
    assert runtime.stats["ignored_writer"].failures == 1


def test_time_out_kills_and_applies_policy(runtime):
    start = time.time()
    with pytest.raises(TaskFailed, match="time_out of 1 s"):
        wait_on(too_slow(30))
    assert time.time() - start < 15
    assert wait_on(inc(1)) == 2  # the slot came back


@pytest.mark.parametrize("crash", [segfault, hard_exit], ids=["segfault", "os._exit"])
def test_a_crashing_task_process_is_a_task_failure(runtime, crash):
    with pytest.raises(TaskFailed, match="task process died"):
        wait_on(crash())
    assert wait_on([inc(i) for i in range(4)]) == [1, 2, 3, 4]


def test_unpicklable_result_is_a_clear_failure(runtime):
    with pytest.raises(TaskFailed, match="result cannot be serialized"):
        wait_on(unpicklable_result())


def test_task_group_failure_cancels_the_rest_of_the_group(runtime):
    with pytest.raises(TaskFailed, match="bad value 7"):
        with TaskGroup("g"):
            slow = sleeper(5)
            broken(7)
    with pytest.raises(TaskFailed, match="cancelled"):
        wait_on(slow)
    assert wait_on(inc(1)) == 2


def test_task_group_waits_for_its_tasks(runtime):
    with TaskGroup("ok"):
        futures = [sleeper(0.2) for _ in range(3)]
    assert all(runtime.graph.tasks[i].state is TaskState.DONE for i in range(1, 4))
    assert wait_on(futures) == [0.2, 0.2, 0.2]
