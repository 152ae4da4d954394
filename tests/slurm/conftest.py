"""Tests that run against the real Slurm testbed (``scripts/slurm-testbed``).

* Every test under ``tests/slurm`` is marked ``slurm`` automatically (``-m "not slurm"`` leaves
  them out).
* On a machine without Slurm (no ``sinfo`` on PATH) they are *deselected*, with a line saying so,
  unless ``CI=true`` or ``HPCFLOW_REQUIRE_SLURM=1``: there they always run.
* When they run and the testbed is not up, they FAIL with a message saying how to start it
  (``scripts/test`` starts it; by hand: ``scripts/slurm-testbed start``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
DEFAULT_ENV_SH = Path("/tmp/hpcflow-testbed/env.sh")
READY_TIMEOUT_S = 30.0


def _slurm_required() -> bool:
    return os.environ.get("CI") == "true" or os.environ.get("HPCFLOW_REQUIRE_SLURM") == "1"


def _is_slurm_test(item: pytest.Item) -> bool:
    return Path(item.path).resolve().is_relative_to(HERE)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    ours = [item for item in items if _is_slurm_test(item)]
    if not ours:
        return
    for item in ours:
        item.add_marker(pytest.mark.slurm)
    if shutil.which("sinfo") is None and not _slurm_required():
        items[:] = [item for item in items if not _is_slurm_test(item)]
        config.hook.pytest_deselected(items=ours)
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        msg = (
            f"tests/slurm: {len(ours)} Slurm tests deselected (no sinfo on PATH; "
            "run scripts/test, or set HPCFLOW_REQUIRE_SLURM=1 to make them run and fail)"
        )
        if reporter is not None:
            reporter.write_line(msg)
        else:
            print(msg)


@dataclass(frozen=True)
class SlurmTestbed:
    """The running testbed, as the tests see it."""

    nodes: list[str]
    partition: str
    cpus_per_node: int
    env: dict[str, str]

    def run(self, argv: list[str], timeout: float = 60.0, **kw) -> subprocess.CompletedProcess:
        """Run a command (argv list, no shell) with the testbed environment; check=True."""
        return subprocess.run(
            argv,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
            stdin=subprocess.DEVNULL,
            **kw,
        )


def _env_from_env_sh(path: Path) -> dict[str, str]:
    """The environment after sourcing the testbed's env.sh (bash decides, not a parser)."""
    out = subprocess.run(
        ["bash", "-c", 'set -e; . "$1"; env -0', "bash", str(path)],
        capture_output=True,
        timeout=10,
        check=True,
        stdin=subprocess.DEVNULL,
    ).stdout
    env = {}
    for entry in out.split(b"\0"):
        if b"=" in entry:
            key, _, value = entry.partition(b"=")
            env[os.fsdecode(key)] = os.fsdecode(value)
    return env


def _node_states(env: dict[str, str]) -> dict[str, str]:
    out = subprocess.run(
        ["sinfo", "-h", "-N", "-o", "%N %T"],
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
        stdin=subprocess.DEVNULL,
    ).stdout
    return dict(line.split() for line in out.splitlines() if line.strip())


@pytest.fixture(scope="session", autouse=True)
def testbed() -> Iterator[SlurmTestbed]:
    """Checks that the testbed answers and has 4 usable nodes; fails (never skips) otherwise."""
    hint = (
        "run scripts/test, or by hand: scripts/slurm-testbed install && scripts/slurm-testbed start"
    )
    if shutil.which("sinfo") is None:
        pytest.fail(f"Slurm testbed required but sinfo is not on PATH: {hint}", pytrace=False)
    env_sh = Path(os.environ.get("HPCFLOW_TESTBED_ENV") or DEFAULT_ENV_SH)
    if not env_sh.is_file():
        pytest.fail(f"Slurm testbed not running (no {env_sh}): {hint}", pytrace=False)
    env = _env_from_env_sh(env_sh)

    usable = {"idle", "mixed", "allocated", "completing"}
    deadline = time.monotonic() + READY_TIMEOUT_S
    states: dict[str, str] = {}
    last_error = ""
    while True:
        try:
            states = _node_states(env)
            last_error = ""
        except (subprocess.SubprocessError, OSError) as exc:
            last_error = f"{exc}: {getattr(exc, 'stderr', '')}".strip()
        if len(states) == 4 and all(s.rstrip("*~#") in usable for s in states.values()):
            break
        if time.monotonic() > deadline:
            pytest.fail(
                f"Slurm testbed not ready after {READY_TIMEOUT_S:.0f}s: sinfo node states "
                f"{states or '-'} {last_error}; {hint}",
                pytrace=False,
            )
        time.sleep(0.2)

    yield SlurmTestbed(
        nodes=sorted(states),
        partition=env.get("HPCFLOW_TESTBED_PARTITION", "debug"),
        cpus_per_node=int(env.get("HPCFLOW_TESTBED_CPUS", "4")),
        env=env,
    )
