"""Pure pieces of elasticity: extension job scripts, resize argv, time left, join files."""

from __future__ import annotations

import json
import stat

import pytest

from hpcflow.agents.join import (
    EXT_RANK_BASE,
    JoinInfo,
    block_of,
    extension_rank,
    read_join_info,
    write_join_info,
)
from hpcflow.errors import HpcflowError, UsageError
from hpcflow.runtime.elastic_io import elastic_job, elastic_range, policy_from_env
from hpcflow.slurm.extension import (
    ExtensionSettings,
    extension_script,
    extension_time,
    parse_time_left,
    resize_argv,
)

SETTINGS = ExtensionSettings(job_name="hpcflow-app", python="apptainer exec img.sif python3",
                             partition="debug", account="proj 1", qos="normal",
                             cpus_per_node=4, mem_per_node="4000M", srun_mpi="pmi2",
                             env={"A": "x $(rm -rf /)"}, extra={"exclusive": True})


def test_extension_script_copies_the_main_jobs_settings_and_joins_the_run():
    script = extension_script(SETTINGS, nodes=2, seconds=605.0, run_dir="/runs/my run",
                              exclude=["node2", "node4"])
    lines = script.splitlines()
    for line in ("#SBATCH --nodes=2", "#SBATCH --time=00:10:00", "#SBATCH --partition=debug",
                 "#SBATCH --account='proj 1'", "#SBATCH --qos=normal",
                 "#SBATCH --cpus-per-task=4", "#SBATCH --no-requeue", "#SBATCH --no-kill",
                 "#SBATCH --exclude=node2,node4", "#SBATCH --exclusive",
                 "#SBATCH --job-name=hpcflow-app-ext",
                 "#SBATCH --output='/runs/my run/slurm-%j.out'",
                 "export A='x $(rm -rf /)'", "export HPCFLOW_RUN_DIR='/runs/my run'"):
        assert line in lines, line
    launch = lines[-1]
    assert launch.startswith("srun --nodes=2 --ntasks=2 --ntasks-per-node=1")
    assert "--mpi" not in launch  # joining agents need no MPI
    assert "--wait=0 --job-name=hpcflow-ext-agents apptainer exec img.sif python3 -m" in launch
    assert launch.endswith("-m hpcflow.agents.join '/runs/my run'")


def test_extension_script_for_a_shape_and_bad_node_names():
    script = extension_script(SETTINGS, nodes=1, seconds=30, run_dir="/r",
                              constraint="gpu", partition="gpus")
    assert "#SBATCH --constraint=gpu" in script and "#SBATCH --partition=gpus" in script
    assert "#SBATCH --time=00:01:00" in script  # at least a minute
    with pytest.raises(UsageError):
        extension_script(SETTINGS, nodes=1, seconds=60, run_dir="/r", exclude=["a;b"])


@pytest.mark.parametrize(("seconds", "text"), [
    (30, "00:01:00"), (60, "00:01:00"), (119, "00:01:00"), (3600, "01:00:00"),
    (90061, "25:01:00")])
def test_extension_time_rounds_down_to_minutes(seconds, text):
    assert extension_time(seconds) == text


@pytest.mark.parametrize(("text", "seconds"), [
    ("9:55", 595.0), ("1:00:00", 3600.0), ("2-03:04:05", 183845.0), ("0:00", 0.0),
    ("UNLIMITED", None), ("INVALID", None), ("", None), ("NOT_SET", None)])
def test_time_left_from_squeue(text, seconds):
    assert parse_time_left(text + "\n") == seconds


def test_resize_argv():
    assert resize_argv("42", ["node1", "node3"]) == [
        "scontrol", "update", "JobId=42", "NodeList=node1,node3"]
    with pytest.raises(UsageError):
        resize_argv("42", [])
    with pytest.raises(UsageError):
        resize_argv("42; rm", ["node1"])


def test_settings_round_trip_through_json():
    doc = json.loads(json.dumps(SETTINGS.to_json()))
    assert ExtensionSettings.from_json(doc) == SETTINGS


def test_join_file_is_private_and_read_back(tmp_path):
    info = JoinInfo("10.0.0.1", 4242, b"k" * 32, "/apps")
    path = write_join_info(tmp_path, info)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert read_join_info(tmp_path) == info
    path.write_text("{")
    with pytest.raises(HpcflowError, match="join file"):
        read_join_info(tmp_path)


def test_extension_ranks_name_their_job():
    rank = extension_rank("1234", 3)
    assert rank > EXT_RANK_BASE and block_of(rank) == "1234"
    assert block_of(5) is None


def test_elastic_job_environment_and_options():
    assert elastic_job(None, None) == ({}, {})
    env, options = elastic_job((1, 3), 2.5)
    assert env == {"HPCFLOW_ELASTIC": "1:3", "HPCFLOW_IDLE_TIMEOUT": "2.5"}
    assert options == {"no-kill": True, "no-requeue": True}
    with pytest.raises(UsageError, match="--idle-timeout needs --elastic"):
        elastic_job(None, 3.0)


def test_elastic_range_and_policy_from_the_environment():
    assert elastic_range({}) is None
    assert elastic_range({"HPCFLOW_ELASTIC": "2:5"}) == (2, 5)
    with pytest.raises(UsageError):
        elastic_range({"HPCFLOW_ELASTIC": "5:2"})
    assert policy_from_env({"HPCFLOW_IDLE_TIMEOUT": "7"}).idle_timeout_s == 7
    with pytest.raises(UsageError):
        policy_from_env({"HPCFLOW_IDLE_TIMEOUT": "soon"})


def test_hpcflow_cancel_finds_the_extension_jobs_of_a_run(tmp_path):
    from fake_slurm import FakeRunner, Result

    from hpcflow.runtime.elastic_io import cancel_extensions, record_extension
    from hpcflow.slurm.client import SlurmClient

    (tmp_path / "elastic").mkdir()
    record_extension(str(tmp_path), "7")
    record_extension(str(tmp_path), "9")
    done = Result(1, "", "scancel: error: Kill job error on job id 9: "
                         "Job/step already completing or completed")
    runner = FakeRunner({"scancel": lambda argv: done if argv[-1] == "9" else Result()})
    assert cancel_extensions(SlurmClient(runner), tmp_path) == ["7"]
    assert cancel_extensions(SlurmClient(runner), None) == []


def test_job_expansion_commands():
    from hpcflow.slurm.extension import (
        expand_argv,
        merge_argvs,
        merged_agents_argv,
        parse_granted,
    )

    assert expand_argv(SETTINGS, nodes=2, main_job="41", exclude=["node3"]) == [
        "salloc", "--no-shell", "--nodes=2", "--ntasks-per-node=1",
        "--dependency=expand:41", "--immediate=10", "--job-name=hpcflow-app-expand",
        "--partition=debug", "--account=proj 1", "--qos=normal", "--mem=4000M",
        "--cpus-per-task=4", "--exclude=node3"]
    assert merge_argvs("41", "42") == [
        ["scontrol", "update", "JobId=42", "NumNodes=0"], ["scancel", "42"],
        ["scontrol", "update", "JobId=41", "NumNodes=ALL"]]
    assert parse_granted("salloc: Granted job allocation 42\n") == "42"
    with pytest.raises(UsageError):
        parse_granted("salloc: error: Unable to allocate resources")
    argv = merged_agents_argv(SETTINGS, "41", ["node2", "node4"], "/r")
    assert argv[:3] == ["srun", "--jobid=41", "--overlap"]
    assert "--nodelist=node2,node4" in argv and argv[-2:] == ["hpcflow.agents.join", "/r"]


def test_settings_at_least_a_shape():
    assert SETTINGS.at_least(2, 0) is SETTINGS
    bigger = SETTINGS.at_least(8, 1)
    assert (bigger.cpus_per_node, bigger.gpus_per_node) == (8, 1)


def test_a_failed_merge_cancels_the_helper_allocation():
    from fake_slurm import FakeRunner, Result

    from hpcflow.errors import SlurmCommandError
    from hpcflow.slurm.client import SlurmClient

    runner = FakeRunner({"salloc": Result(0, "", "salloc: Granted job allocation 42\n"),
                         "scontrol": Result(1, "", "Job expansion not permitted"),
                         "scancel": Result()})
    with pytest.raises(SlurmCommandError):
        SlurmClient(runner).expand("41", ["salloc", "--no-shell"], timeout=5)
    assert runner.calls[-1] == ["scancel", "42"]
