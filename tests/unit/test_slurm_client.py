"""SlurmClient against a fake runner: no Slurm needed.

Error texts are those Slurm 22.05.8 printed on the project testbed.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from fake_slurm import Answer, FakeRunner, Result

from hpcflow.errors import HpcflowError, SlurmCommandError
from hpcflow.slurm.client import (
    NOT_FOUND_EXIT,
    TIMEOUT_EXIT,
    SlurmClient,
    SlurmNotFoundError,
    SlurmTimeoutError,
    subprocess_runner,
)
from hpcflow.slurm.parse import JobState

DATA = Path(__file__).parent / "data"
INVALID_JOB = "slurm_load_jobs error: Invalid job id specified\n"


def client_with(**answers: Answer) -> tuple[SlurmClient, FakeRunner]:
    runner = FakeRunner(dict(answers))
    return SlurmClient(runner=runner, timeout=7), runner


def test_submit_returns_job_id() -> None:
    client, runner = client_with(sbatch=Result(0, "4242;cluster\n"))
    assert client.submit(Path("/w/job.sh")) == "4242"
    assert runner.calls == [["sbatch", "--parsable", "/w/job.sh"]]
    assert runner.timeouts == [7]


def test_submit_failure_carries_everything() -> None:
    stderr = "sbatch: error: Unable to open file /nonexistent\n"
    client, _ = client_with(sbatch=Result(1, "", stderr))
    with pytest.raises(SlurmCommandError) as info:
        client.submit("/nonexistent")
    exc = info.value
    assert exc.argv == ["sbatch", "--parsable", "/nonexistent"]
    assert (exc.returncode, exc.stdout, exc.stderr) == (1, "", stderr)
    assert str(exc) == "sbatch failed (exit 1): sbatch: error: Unable to open file /nonexistent"


def test_missing_binary_is_one_line_error() -> None:
    client, _ = client_with()
    with pytest.raises(SlurmNotFoundError) as info:
        client.submit("job.sh")
    assert str(info.value) == "sbatch not found on PATH: is Slurm installed?"
    assert isinstance(info.value, SlurmCommandError) and isinstance(info.value, HpcflowError)
    assert info.value.returncode == NOT_FOUND_EXIT
    assert "\n" not in str(info.value)


def test_timeout_raises_with_partial_output() -> None:
    expired = subprocess.TimeoutExpired(["squeue"], 7, output=b"partial", stderr=None)
    client, _ = client_with(squeue=expired)
    with pytest.raises(SlurmTimeoutError) as info:
        client.queue()
    assert info.value.returncode == TIMEOUT_EXIT
    assert info.value.stdout == "partial"
    assert str(info.value) == "squeue timed out after 7s (is slurmctld responding?)"


def test_run_timeout_override() -> None:
    client, runner = client_with(sinfo=Result(0, "debug\n"))
    client._run(["sinfo"], timeout=2.5)
    assert runner.timeouts[-1] == 2.5


def scontrol_line(index: int) -> str:
    lines = [
        line
        for line in (DATA / "scontrol_show_job.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    return lines[index] + "\n"


def test_job_info_running() -> None:
    client, runner = client_with(scontrol=Result(0, scontrol_line(1)))
    info = client.job_info("2")
    assert info is not None
    assert info.state is JobState.RUNNING and info.nodes == ("node3", "node4")
    assert runner.calls[0] == ["scontrol", "-o", "show", "job", "2"]


def test_job_info_unknown_job_is_none() -> None:
    client, _ = client_with(scontrol=Result(1, "", INVALID_JOB))
    assert client.job_info("999999") is None


def test_job_info_other_errors_raise() -> None:
    stderr = "slurm_load_jobs error: Socket timed out on send/recv operation"
    client, _ = client_with(scontrol=Result(1, "", stderr))
    with pytest.raises(SlurmCommandError, match="Socket timed out"):
        client.job_info("1")


def test_queue_parses_and_tolerates_unknown_ids() -> None:
    client, runner = client_with(squeue=Result(0, (DATA / "squeue_states.txt").read_text()))
    assert [job.state for job in client.queue(["1", "2", "3"])] == [
        JobState.CANCELLED,
        JobState.FAILED,
        JobState.PENDING,
    ]
    assert "-j" in runner.calls[0]
    client, _ = client_with(squeue=Result(1, "", INVALID_JOB))
    assert client.queue(["999999"]) == []
    with pytest.raises(SlurmCommandError):
        client.queue()


def test_accounting_info_without_slurmdbd_is_none() -> None:
    client, _ = client_with(sacct=Result(1, "", "Slurm accounting storage is disabled\n"))
    assert client.accounting_info("1") is None
    client, _ = client_with()  # no sacct at all
    assert client.accounting_info("1") is None
    client, _ = client_with(sacct=Result(0, "1|TIMEOUT|0:0|1|debug|node1|TimeLimit|/w|j\n"))
    info = client.accounting_info("1")
    assert info is not None and info.state is JobState.TIMEOUT


def test_accounting_info_of_a_resized_job_is_its_last_record() -> None:
    rows = ("7|RESIZING|0:0|2|debug|node[1-2]|None|/w|j\n"
            "7|COMPLETED|0:0|1|debug|node1|None|/w|j\n")
    client, _ = client_with(sacct=Result(0, rows))
    info = client.accounting_info("7")
    assert info is not None and info.state is JobState.COMPLETED and info.nodes == ("node1",)


def test_cancel() -> None:
    client, runner = client_with(scancel=Result(0))
    assert client.cancel("5") is True
    assert client.cancel("5", "USR1", full=True) is True
    assert runner.calls == [
        ["scancel", "5"],
        ["scancel", "--signal=USR1", "--full", "5"],
    ]
    gone = "scancel: error: Kill job error on job id 5: Invalid job id specified\n"
    client, _ = client_with(scancel=Result(1, "", gone))
    assert client.cancel("5", "USR1") is False
    done = "scancel: error: Kill job error on job id 5: Job/step already completing or completed"
    client, _ = client_with(scancel=Result(1, "", done))
    assert client.cancel("5") is False
    client, _ = client_with(scancel=Result(1, "", "scancel: error: Access/permission denied"))
    with pytest.raises(SlurmCommandError, match="permission denied"):
        client.cancel("5")


def test_hostnames() -> None:
    client, runner = client_with(scontrol=Result(0, "node1\nnode2\nnode5\n"))
    assert client.hostnames("node[1-2,5]") == ["node1", "node2", "node5"]
    assert client.hostnames("node7") == ["node7"]
    assert len(runner.calls) == 1  # no bracket: no command
    client, _ = client_with()  # scontrol missing: pure expansion
    assert client.hostnames("gpu[01-02]") == ["gpu01", "gpu02"]


def test_partition_nodes() -> None:
    client, runner = client_with(sinfo=Result(0, "node1\nnode2\nnode3\nnode4\n"))
    assert client.partition_nodes("debug") == 4
    assert runner.calls[0] == ["sinfo", "-h", "-N", "-p", "debug", "-o", "%N"]
    client, _ = client_with(sinfo=Result(0, ""))  # sinfo -p nosuch: empty, exit 0
    assert client.partition_nodes("nosuch") == 0


def test_available() -> None:
    client, _ = client_with(sinfo=Result(0, "debug*\n"))
    assert client.available() is True
    fatal = "sinfo: fatal: Could not establish a configuration source\n"
    client, _ = client_with(sinfo=Result(1, "", fatal))
    assert client.available() is False
    client, _ = client_with()
    assert client.available() is False
    client, _ = client_with(sinfo=subprocess.TimeoutExpired(["sinfo"], 7))
    assert client.available() is False


def test_subprocess_runner_runs_without_shell(tmp_path: Path) -> None:
    marker = tmp_path / "x"
    result = subprocess_runner(["echo", f"$(touch {marker})", "a b"], 10)
    assert result.returncode == 0
    assert result.stdout == f"$(touch {marker}) a b\n"
    assert not marker.exists()


def test_default_runner_missing_binary() -> None:
    client = SlurmClient(timeout=5)
    with pytest.raises(SlurmNotFoundError, match="not found on PATH"):
        client._run(["hpcflow-no-such-command-xyz"])
