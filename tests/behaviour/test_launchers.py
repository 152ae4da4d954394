"""Launched tasks on the local runtime: binaries, exit values, failures, time-outs,
threads, MPI functions under mpiexec (or plain processes), whole-node tasks, bad input."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hpcflow import (
    FILE_IN,
    FILE_OUT,
    FILE_OUT_STDOUT,
    TaskFailed,
    barrier,
    binary,
    constraint,
    mpi,
    multinode,
    ompss,
    task,
    wait_on,
    wait_on_file,
)
from hpcflow.errors import UsageError
from hpcflow.runtime import context
from hpcflow.runtime.session import local_session
from hpcflow.runtime.steps import StepSettings

HERE = Path(__file__).resolve().parent


@pytest.fixture
def local(tmp_path):
    """A local runtime (2 processes, 2 cores) whose step logs go to tmp_path/run."""
    session = local_session(str(HERE), workers=2, cpus=2)
    session.master.steps.configure(StepSettings.from_env(os.environ, False,
                                                         str(tmp_path / "run")))
    with context.installed(session.master):
        yield session.master
    session.close()


@binary(binary="head", args="-n {n} {infile}", stdout="out")
@task(infile=FILE_IN)
def head(infile, out, n):
    pass


@binary(binary="cp", args="{src} {dst}")
@task(src=FILE_IN, dst=FILE_OUT)
def copy(src, dst):
    pass


@binary(binary="sort", args="-r")
@task(text="FILE_IN_STDIN", out=FILE_OUT_STDOUT)
def sort_reverse(text, out):
    pass


@binary(binary="sh", args="-c 'echo to-log; exit {code}'", fail_by_exit_value=False)
@task(returns=int)
def exit_with(code):
    pass


@binary(binary="sh", args="-c 'echo attempt >> {marker}; echo boom on stderr >&2; exit 4'")
@task(retries=1)
def always_fails(marker):
    pass


@binary(binary="sh", args="-c 'sleep {secs} & echo $! > {pidfile}; wait'")
@task(time_out=1, on_failure="IGNORE")
def sleeps(secs, pidfile):
    pass


@constraint(computing_units=2)
@ompss(binary="sh", args="-c 'echo $OMP_NUM_THREADS $NX_ARGS'", stdout="out")
@task()
def threads(out):
    pass


@mpi(processes=2)
@task(returns=list)
def world():
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    return comm.Get_rank(), comm.Get_size(), comm.allreduce(comm.Get_rank() + 1)


@mpi(processes="{n}")
@task(returns=1)
def rank_zero(n):
    from mpi4py import MPI

    return MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()


@mpi(processes=2)
@task(returns=1, on_failure="CANCEL_SUCCESSORS")
def one_rank_raises():
    from mpi4py import MPI

    if MPI.COMM_WORLD.Get_rank() == 1:
        raise ValueError("rank one is unhappy")
    MPI.COMM_WORLD.Barrier()
    return 0


@mpi(binary="sleep", args="{secs}", processes=2)
@task(time_out=1.5, on_failure="IGNORE")
def mpi_sleeps(secs):
    pass


@multinode(computing_nodes=2, processes_per_node=3)
@task(returns=1)
def whole_nodes():
    return {k: v for k, v in os.environ.items() if k.startswith("HPCFLOW_")}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _processes_with(arg: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if arg.encode() in argv and _alive(int(entry.name)):
                pids.append(int(entry.name))
    return pids


def test_binary_with_files_placeholders_and_stdout(local, tmp_path):
    src = tmp_path / "in put.txt"  # a space: values are argv elements, never shell words
    src.write_text("".join(f"line {i}\n" for i in range(10)))
    head(str(src), str(tmp_path / "head.txt"), 3)
    copy(str(src), str(tmp_path / "copy.txt"))
    sort_reverse(str(tmp_path / "head.txt"), str(tmp_path / "sorted.txt"))
    assert Path(wait_on_file(str(tmp_path / "head.txt"))).read_text() == \
        "line 0\nline 1\nline 2\n"
    assert Path(wait_on_file(str(tmp_path / "copy.txt"))).read_text() == src.read_text()
    assert Path(wait_on_file(str(tmp_path / "sorted.txt"))).read_text() == \
        "line 2\nline 1\nline 0\n"
    assert not list(tmp_path.glob(".*.part"))


def test_exit_value_is_returned_and_output_lands_in_the_run_dir(local, tmp_path):
    assert wait_on(exit_with(3)) == 3
    assert wait_on(exit_with(0)) == 0
    record = next(r for r in local.records.values() if r.definition.spec.name == "exit_with")
    extra = record.result.extra
    assert extra["exit_code"] == "3" and extra["launcher"] == "direct"
    assert Path(extra["stdout"]).read_text() == "to-log\n"
    assert Path(extra["stdout"]).parent == tmp_path / "run" / "steps"
    assert Path(extra["stdout"]).name == f"exit_with-{record.id}.1.out"


def test_non_zero_exit_is_retried_then_fails_with_code_and_stderr(local, tmp_path):
    marker = tmp_path / "attempts"
    always_fails(str(marker))
    with pytest.raises(TaskFailed) as info:
        barrier()
    assert marker.read_text() == "attempt\nattempt\n"  # retries=1: two attempts
    assert "sh exited with code 4; stderr: boom on stderr" in info.value.reason
    assert "boom on stderr" in info.value.remote_traceback


def test_time_out_kills_the_whole_process_group(local, tmp_path):
    pidfile = tmp_path / "pid"
    started = time.monotonic()
    sleeps(37.5, str(pidfile))
    barrier()
    assert time.monotonic() - started < 10
    record = next(iter(local.records.values()))
    assert "time_out" in record.failure.reason
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), "the binary's background child survived the time_out"


def test_time_out_of_an_mpi_task_kills_mpiexec_and_its_ranks(local):
    mpi_sleeps(41.25)
    barrier()
    deadline = time.monotonic() + 5
    while _processes_with("41.25") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_with("41.25") == []


def test_ompss_gets_computing_units_threads(local, tmp_path):
    threads(str(tmp_path / "threads.txt"))
    assert Path(wait_on_file(str(tmp_path / "threads.txt"))).read_text().split() == \
        ["2", "--smp-workers=2"]


def test_mpi_function_runs_on_two_ranks_under_mpiexec(local):
    assert local.steps.settings.mpiexec, "the mpich wheel's mpiexec should be found"
    assert wait_on(world()) == [(0, 2, 3), (1, 2, 3)]
    assert wait_on(rank_zero(3)) == (0, 3)


def test_a_failing_rank_is_reported_with_rank_host_and_traceback(local):
    with pytest.raises(TaskFailed) as info:
        wait_on(one_rank_raises())
    assert "rank 1 on " in info.value.reason
    assert "ValueError: rank one is unhappy" in info.value.reason
    assert 'raise ValueError("rank one is unhappy")' in info.value.remote_traceback


def test_without_mpiexec_ranks_are_plain_processes_of_size_one(local):
    local.steps.configure(StepSettings(in_slurm=False))
    assert wait_on(world()) == [(0, 1, 1), (0, 1, 1)]


def test_multinode_locally_gets_this_node(local):
    env = wait_on(whole_nodes())
    assert env["HPCFLOW_NNODES"] == "1" and env["HPCFLOW_PROCESSES_PER_NODE"] == "3"


def test_missing_binary_is_an_error_at_the_call(local):
    @binary(binary="no-such-program-hpcflow")
    @task()
    def missing():
        pass

    with pytest.raises(UsageError, match="binary 'no-such-program-hpcflow' of task missing "
                                         "not found on PATH"):
        missing()
    assert not local.records


BAD_APPS = {
    "missing_binary.py": ("@binary(binary='./no-such.bin')\n@task()\ndef run_it():\n    pass\n"
                          "run_it()\n",
                          "binary './no-such.bin' of task run_it not found or not executable"),
    "bad_placeholder.py": ("@binary(binary='echo', args='-n {count}')\n@task()\n"
                           "def run_it(n):\n    pass\nrun_it(3)\n",
                           "placeholder {count} in @binary of task run_it names no parameter "
                           "(parameters: n)"),
}


@pytest.mark.parametrize("name", sorted(BAD_APPS))
def test_bad_input_is_one_line_from_hpcflow_run(tmp_path, name):
    source, message = BAD_APPS[name]
    app = tmp_path / name
    app.write_text("from hpcflow import binary, task\nprint('APP STARTED')\n" + source)
    done = subprocess.run([sys.executable, "-m", "hpcflow", "run", "--quiet", str(app)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"hpcflow: error: {message}"), lines
    assert "APP STARTED" in done.stdout  # the app ran up to the call; no task was launched
