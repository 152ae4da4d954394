"""Helper processes beside the master (the event log's and the checkpoints' writers)."""

from __future__ import annotations

import os
import subprocess
import sys


def start_helper(module: str, *args: str, answers: bool = False) -> subprocess.Popen[bytes]:
    """``python -S -m MODULE ARGS`` fed on its standard input (and answering on its
    standard output if ``answers``). ``-S``: no site start-up, what it unpickles is found
    through PYTHONPATH (this process's path); a session of its own: Ctrl-C is for the
    master, which still has things for it to write."""
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [package_root, *(p for p in sys.path if p)]))
    return subprocess.Popen(
        [sys.executable, "-S", "-m", module, *args], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE if answers else None, env=env, start_new_session=True)


def stop_helper(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Close its input (its cue to finish) and wait for it; kill it after ``timeout``."""
    try:
        if proc.stdin is not None:
            proc.stdin.close()
    except OSError:
        pass
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
