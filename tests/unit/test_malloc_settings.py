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
def test_task_processes_start_with_the_settings(tmp_path: Path) -> None:
    from hpcflow.agents import prestart

    started = prestart.spawn(str(tmp_path))
    try:
        environ = Path(f"/proc/{started.process.pid}/environ").read_bytes().split(b"\0")
        assert f"MALLOC_MMAP_THRESHOLD_={malloc.MMAP_THRESHOLD}".encode() in environ
    finally:
        started.conn.close()
        started.process.wait(timeout=30)
