"""Argv builders for srun, sbatch, scancel, squeue, scontrol, sinfo and sacct."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpcflow.errors import UsageError
from hpcflow.slurm.parse import SQUEUE_FORMAT
from hpcflow.slurm.srun import (
    agents_step_argv,
    check_job_id,
    python_argv,
    sacct_argv,
    sbatch_argv,
    scancel_argv,
    scontrol_hostnames_argv,
    scontrol_show_job_argv,
    sinfo_nodes_argv,
    squeue_argv,
    squeue_json_argv,
    task_step_argv,
)


def test_agents_step_argv() -> None:
    argv = agents_step_argv(3, "pmi2", "python3", ["-m", "hpcflow.agents", "--x", "a b"])
    assert argv == [
        "srun",
        "--nodes=3",
        "--ntasks=3",
        "--ntasks-per-node=1",
        "--kill-on-bad-exit=0",
        "--no-kill",
        "--wait=0",
        "--job-name=hpcflow-agents",
        "--mpi=pmi2",
        "python3",
        "-m",
        "hpcflow.agents",
        "--x",
        "a b",
    ]


def test_agents_step_argv_options() -> None:
    argv = agents_step_argv(
        2,
        None,
        "apptainer exec '/img dir/py.sif' python3",
        ["-m", "hpcflow.agents"],
        nodelist=["n1", "n2"],
        output="/o/%t.out",
        error="/o/%t.err",
    )
    assert not any(a.startswith("--mpi") for a in argv)
    assert "--nodelist=n1,n2" in argv
    assert "--output=/o/%t.out" in argv and "--error=/o/%t.err" in argv
    assert argv[-6:] == ["apptainer", "exec", "/img dir/py.sif", "python3", "-m", "hpcflow.agents"]


def test_agents_step_never_kills_survivors() -> None:
    argv = agents_step_argv(4, "pmix", "python3", [])
    assert "--kill-on-bad-exit=0" in argv and "--no-kill" in argv and "--wait=0" in argv


def test_task_step_argv() -> None:
    argv = task_step_argv(
        ["node1", "node2"], 2, 8, 4, 1, "pmi2", ["python3", "task.py", "x y"], job_name="t-17"
    )
    assert argv == [
        "srun",
        "--nodes=2",
        "--ntasks=8",
        "--ntasks-per-node=4",
        "--cpus-per-task=1",
        "--exact",
        "--overlap",
        "--kill-on-bad-exit=1",
        "--job-name=t-17",
        "--nodelist=node1,node2",
        "--mpi=pmi2",
        "python3",
        "task.py",
        "x y",
    ]


def test_task_step_argv_switches() -> None:
    argv = task_step_argv(
        ["n1"], 1, 1, None, 2, None, ["prog"], exact=False, overlap=False,
        mem="1G", kill_on_bad_exit=False, output="o", error="e",
    )  # fmt: skip
    assert "--exact" not in argv and "--overlap" not in argv
    assert "--kill-on-bad-exit=0" in argv and "--mem=1G" in argv
    assert not any(a.startswith("--ntasks-per-node") for a in argv)
    assert argv[-1] == "prog"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"nodes": 0}, "nodes"),
        ({"ntasks": -1}, "ntasks"),
        ({"cpus_per_task": True}, "cpus_per_task"),
        ({"ntasks_per_node": 0}, "ntasks_per_node"),
        ({"nodelist": []}, "nodelist"),
        ({"nodelist": ["bad node"]}, "bad node name"),
        ({"nodelist": ["a,b"]}, "bad node name"),
        ({"srun_mpi": "pmi2 --x"}, "--mpi"),
        ({"argv": []}, "must not be empty"),
        ({"argv": "python3 x.py"}, "list of strings"),
        ({"argv": ["--help"]}, "program, not an option"),
        ({"job_name": "a\nb"}, "one-line"),
    ],
)
def test_task_step_argv_rejects(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = dict(
        nodelist=["n1"], nodes=1, ntasks=1, ntasks_per_node=1, cpus_per_task=1,
        srun_mpi="pmi2", argv=["prog"],
    )  # fmt: skip
    args.update(kwargs)
    with pytest.raises(UsageError, match=message):
        task_step_argv(**args)  # type: ignore[arg-type]


def test_python_argv() -> None:
    assert python_argv("/opt/py 3/bin/python") == ["/opt/py", "3/bin/python"]
    assert python_argv("'/opt/py 3/bin/python' -u") == ["/opt/py 3/bin/python", "-u"]
    with pytest.raises(UsageError, match="empty"):
        python_argv("  ")
    with pytest.raises(UsageError, match="cannot be split"):
        python_argv("'unterminated")


def test_simple_command_argvs() -> None:
    assert sbatch_argv(Path("/w/job.sh")) == ["sbatch", "--parsable", "/w/job.sh"]
    assert sbatch_argv("job.sh", parsable=False) == ["sbatch", "job.sh"]
    assert scancel_argv("12") == ["scancel", "12"]
    assert scancel_argv("12", "USR1") == ["scancel", "--signal=USR1", "12"]
    assert scancel_argv("12", "TERM", full=True) == ["scancel", "--signal=TERM", "--full", "12"]
    assert squeue_argv() == ["squeue", "-h", "-o", SQUEUE_FORMAT]
    assert squeue_argv(["1", "2"], user="me") == [
        "squeue", "-h", "-o", SQUEUE_FORMAT, "--states=all", "-j", "1,2", "-u", "me",
    ]  # fmt: skip
    assert squeue_json_argv() == ["squeue", "--json"]
    assert scontrol_show_job_argv("7") == ["scontrol", "-o", "show", "job", "7"]
    assert scontrol_hostnames_argv("n[1-2]") == ["scontrol", "show", "hostnames", "n[1-2]"]
    assert sinfo_nodes_argv("debug") == ["sinfo", "-h", "-N", "-p", "debug", "-o", "%N"]
    assert sacct_argv("9")[-2:] == ["-j", "9"]


@pytest.mark.parametrize("job_id", ["12", "12_3", "12+1", "12.0", "12.batch", " 12 "])
def test_check_job_id_accepts(job_id: str) -> None:
    assert check_job_id(job_id) == job_id.strip()


@pytest.mark.parametrize("job_id", ["", "-1", "--all", "12;rm", "abc", "12 13"])
def test_check_job_id_rejects(job_id: str) -> None:
    with pytest.raises(UsageError, match="bad Slurm job id"):
        scancel_argv(job_id)


@pytest.mark.parametrize("signal", ["KILL; x", "-9", "usr1", ""])
def test_scancel_rejects_bad_signal(signal: str) -> None:
    with pytest.raises(UsageError, match="bad signal"):
        scancel_argv("1", signal)
