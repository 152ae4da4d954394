"""glibc malloc settings of the processes that move task values (agents/malloc.py)."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from hpcflow.agents import malloc

GLIBC = platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_a_new_process_gets_our_settings_but_keeps_the_users() -> None:
    env = malloc.child_env({"PATH": "/bin", "MALLOC_TOP_PAD_": "1"})
    assert env["PATH"] == "/bin" and env["MALLOC_TOP_PAD_"] == "1"
    assert env["MALLOC_MMAP_THRESHOLD_"] == str(malloc.MMAP_THRESHOLD)
    assert env["MALLOC_TRIM_THRESHOLD_"] == str(malloc.TRIM_THRESHOLD)


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_a_task_process_forgets_the_variables_we_added() -> None:
    env = malloc.child_env({"PATH": "/bin", "MALLOC_TOP_PAD_": "1"})
    malloc.forget_ours(env)
    assert env == {"PATH": "/bin", "MALLOC_TOP_PAD_": "1"}  # the user's own stays


def test_system_leaves_glibcs_defaults_alone() -> None:
    env = {"HPCFLOW_MALLOC": "system"}
    assert malloc.child_env(env) == env
    assert malloc.tune_this_process(env) is False


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_this_process_is_tuned_through_mallopt() -> None:
    assert malloc.tune_this_process({}) is True
    every_one_set = {name: "1" for name, _, _ in malloc.SETTINGS}
    assert malloc.tune_this_process(every_one_set) is False  # the user's own: untouched


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_task_processes_start_with_the_settings_and_tasks_do_not_see_them(
        tmp_path: Path) -> None:
    import pickle

    from hpcflow.agents import prestart
    from hpcflow.agents.protocol import Assignment, recv_message, send_message

    started = prestart.spawn(str(tmp_path))
    try:
        environ = Path(f"/proc/{started.process.pid}/environ").read_bytes().split(b"\0")
        assert f"MALLOC_MMAP_THRESHOLD_={malloc.MMAP_THRESHOLD}".encode() in environ
        import cloudpickle

        def environment() -> dict[str, str]:
            import os
            return dict(os.environ)

        send_message(started.conn, [Assignment(
            1, 1, "environment", "t#1", cloudpickle.dumps(environment),
            pickle.dumps(((), {}), protocol=5), (), n_returns=1)])
        (result,) = recv_message(started.conn)
        seen = pickle.loads(result.values[0])
        assert "MALLOC_MMAP_THRESHOLD_" not in seen and malloc.ADDED_VARIABLE not in seen
    finally:
        started.conn.close()
        started.process.wait(timeout=30)
