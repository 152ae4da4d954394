"""Pure argv and environment building for launched tasks; the master's planner."""

import inspect
import os
import sys
import types

import pytest

from hpcflow import FILE_IN, FILE_OUT, binary, mpi, multinode, ompss, task
from hpcflow.agents.mpitask import rank_of
from hpcflow.agents.protocol import StepLaunch
from hpcflow.agents.steps import cancel_step, child_env, launch_argv, program_argv
from hpcflow.errors import UsageError
from hpcflow.runtime.futures import Future
from hpcflow.runtime.steps import StepPlanner, StepSettings
from hpcflow.scheduler.resources import NodeResources
from hpcflow.slurm.client import SlurmClient
from hpcflow.slurm.steps import (
    hosts_env,
    launcher_env,
    parse_squeue_steps,
    squeue_steps_argv,
)

NODES = [NodeResources(f"node{i}", cores=4, memory_gb=8) for i in range(1, 5)]
SLURM = StepSettings(in_slurm=True, srun_mpi="pmi2", run_dir="/runs/r1")


@mpi(binary="/opt/hello", args="--size {n}", processes="{p}", processes_per_node=2)
@task()
def hello(n, p):
    pass


@binary(binary="sh", args="-i {infile} -o {out} -n {n}")
@task(infile=FILE_IN, out=FILE_OUT, returns=int)
def tool(infile, out, n):
    pass


@mpi(processes=4)
@task(returns=list)
def ranks():
    return 0


def step(definition, args=(), kwargs=None, settings=SLURM, nodes=("node1", "node2"),
         task_id=7, attempt=2) -> StepLaunch:
    planner = StepPlanner(settings)
    planner._log_dir = "/runs/r1/steps"
    planner.token = "abc123"
    [shape] = planner.plan(definition, args, kwargs or {}, NODES)
    return planner.launch(definition.spec, shape, nodes, task_id, attempt)


def test_mpi_binary_under_slurm_is_a_nested_exact_overlapping_step(monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name, path=None: f"/usr/bin/{name}")
    monkeypatch.setattr(os.path, "isfile", lambda p: True)
    monkeypatch.setattr(os, "access", lambda p, mode: True)
    launch = step(hello, (10, 4))
    program = program_argv(launch, {"n": 10, "p": 4})
    assert program == ["/opt/hello", "--size", "10"]
    assert launch_argv(launch, program) == [
        "srun", "--nodes=2", "--ntasks=4", "--ntasks-per-node=2", "--cpus-per-task=1",
        "--exact", "--overlap", "--kill-on-bad-exit=1", "--job-name=hpcflow-abc123-7.2",
        "--nodelist=node1,node2", "--mpi=pmi2", "/opt/hello", "--size", "10"]
    assert launch.stdout_log == "/runs/r1/steps/hello-7.2.out"
    assert launch.stderr_log == "/runs/r1/steps/hello-7.2.err"


def test_mpi_function_locally_uses_mpiexec_or_plain_processes():
    local = StepSettings(in_slurm=False, mpiexec="/bin/mpiexec")
    launch = step(ranks, settings=local, nodes=("laptop",))
    assert launch.gather and launch.launcher == "mpiexec"
    program = program_argv(launch, {}, "/p/payload", "/p/result")
    assert program == [sys.executable, "-m", "hpcflow.agents.mpitask", "/p/payload",
                       "/p/result"]
    assert launch_argv(launch, program)[:3] == ["/bin/mpiexec", "-n", "4"]
    plain = step(ranks, settings=StepSettings(in_slurm=False), nodes=("laptop",))
    assert plain.launcher == "plain" and launch_argv(plain, program) == program


def test_binary_values_stay_single_arguments(monkeypatch):
    launch = step(tool, ("in.txt", "out.txt", "$(reboot); x"), nodes=("node3",))
    assert launch.launcher == "direct" and launch.binary_path.endswith("/sh")
    argv = launch_argv(launch, program_argv(launch, {"infile": "/d/in put", "out": "/d/o",
                                                     "n": "$(reboot); x"}))
    assert argv == [launch.binary_path, "-i", "/d/in put", "-o", "/d/o", "-n",
                    "$(reboot); x"]


@mpi(binary=sys.executable, processes="{p}", processes_per_node=2)
@task()
def scaled(n, p):
    pass


def test_planner_reads_counts_from_parameters_and_checks_them():
    planner = StepPlanner(SLURM)
    [shape] = planner.plan(scaled, (1, 4), {}, NODES)
    assert (shape.gang.nodes, shape.gang.ntasks, shape.gang.whole) == (2, 4, True)
    candidate = planner.candidate(1, [scaled.spec.constraints], [shape], {})
    assert candidate.whole == (2,) and candidate.versions[0].computing_units == 2
    with pytest.raises(UsageError, match=r"task scaled: needs 10 nodes .* has 4 such nodes"):
        planner.plan(scaled, (1, 20), {}, NODES)
    with pytest.raises(UsageError, match=r"processes='\{p\}': p is a future"):
        planner.plan(scaled, (1, Future("x")), {}, NODES)
    with pytest.raises(UsageError, match=r"processes='\{p\}': p='many' is not a positive"):
        planner.plan(scaled, (1, "many"), {}, NODES)
    local = StepPlanner(StepSettings(in_slurm=False)).plan(scaled, (1, 20), {}, NODES[:1])
    assert (local[0].gang.nodes, local[0].gang.ntasks) == (1, 20)  # a laptop oversubscribes


def test_missing_binary_is_a_usage_error_at_the_call():
    missing = binary(binary="no-such-program-hpcflow")(task()(lambda: None))
    with pytest.raises(UsageError, match="binary 'no-such-program-hpcflow' of task <lambda> "
                                         "not found on PATH"):
        StepPlanner(SLURM).plan(missing, (), {}, NODES)
    relative = binary(binary="./nope.bin")(task()(lambda: None))
    with pytest.raises(UsageError, match="not found or not executable"):
        StepPlanner(SLURM).plan(relative, (), {}, NODES)


def test_serial_tasks_have_no_plan():
    plain = task(returns=1)(lambda x: x)
    planner = StepPlanner(SLURM)
    assert planner.plan(plain, (1,), {}, NODES) == ()
    assert planner.launch(plain.spec, None, ("node1",), 1, 1) is None


def test_child_env_drops_the_agents_step_and_sets_threads_and_hosts():
    env = {"PATH": "/bin", "SLURM_JOB_ID": "42", "SLURM_NTASKS_PER_NODE": "1",
           "SLURM_NTASKS": "4", "PMI_FD": "5", "PMI_RANK": "0", "SLURM_PROCID": "0",
           "SLURM_STEP_ID": "0", "SLURM_CPU_BIND": "none", "NX_ARGS": "--summary"}
    omp = step(ompss(binary="sh")(task()(lambda: None)), nodes=("node2",))
    out = child_env(omp, env)
    assert out == {"PATH": "/bin", "SLURM_JOB_ID": "42", "OMP_NUM_THREADS": "1",
                   "NX_ARGS": "--summary --smp-workers=1"}
    whole = step(multinode(computing_nodes=2)(task()(lambda: None)))
    out = child_env(whole, env)
    assert out["HPCFLOW_NODES"] == "node1,node2" and out["SLURM_NODELIST"] == "node1,node2"
    assert out["SLURM_NNODES"] == "2" and out["SLURM_TASKS_PER_NODE"] == "4(x2)"
    assert out["SLURM_OVERLAP"] == "1" and "PMI_FD" not in out


def test_launcher_env_and_hosts_env_locally():
    assert launcher_env({"HYDRA_LAUNCHER": "x", "PMIX_RANK": "1", "HOME": "/h"}) == \
        {"HOME": "/h"}
    assert hosts_env(["laptop"], 2, in_slurm=False) == {
        "HPCFLOW_NODES": "laptop", "HPCFLOW_NNODES": "1", "HPCFLOW_PROCESSES_PER_NODE": "2"}


@pytest.mark.parametrize("env, rank", [
    ({}, 0), ({"SLURM_PROCID": "3"}, 3), ({"PMI_RANK": "2", "SLURM_PROCID": "0"}, 2),
    ({"HPCFLOW_RANK": "1", "PMI_RANK": "0"}, 1), ({"OMPI_COMM_WORLD_RANK": "5"}, 5),
])
def test_rank_of(env, rank):
    assert rank_of(env) == rank


def test_squeue_steps():
    assert squeue_steps_argv("42") == ["squeue", "-h", "-s", "-j", "42", "-o", "%i|%j"]
    with pytest.raises(UsageError):
        squeue_steps_argv("42; rm")
    out = "42.0|hpcflow-agents\n42.3|hpcflow-abc-7.1\n42.4|hpcflow-abc-8.1\n"
    assert parse_squeue_steps(out)[1] == ("42.3", "hpcflow-abc-7.1")


def test_cancel_step_cancels_the_named_step_and_waits_until_it_is_gone():
    calls = []
    listings = iter(["42.0|hpcflow-agents\n42.3|hpcflow-abc-7.1\n", "42.3|hpcflow-abc-7.1\n",
                     "42.0|hpcflow-agents\n"])

    def runner(argv, timeout):
        calls.append(argv)
        out = next(listings) if argv[0] == "squeue" else ""
        return types.SimpleNamespace(returncode=0, stdout=out, stderr="")

    cancelled = cancel_step("hpcflow-abc-7.1", {"SLURM_JOB_ID": "42"}, SlurmClient(runner))
    assert cancelled == ["42.3"]
    assert ["scancel", "42.3"] in calls and sum(c[0] == "squeue" for c in calls) == 3
    assert cancel_step("x", {}, SlurmClient(runner)) == []  # not under Slurm


def test_named_values_binds_parameters_and_makes_paths_absolute(tmp_path, monkeypatch):
    from hpcflow.agents.steps import named_values

    monkeypatch.chdir(tmp_path)
    launch = step(tool, ("in.txt", "out.txt", 1), nodes=("node3",))
    values = named_values(tool.__wrapped__, ("in.txt", "/abs/out", 3), {}, launch)
    assert values == {"infile": str(tmp_path / "in.txt"), "out": "/abs/out", "n": 3}
    assert list(inspect.signature(tool.__wrapped__).parameters) == ["infile", "out", "n"]


@pytest.mark.parametrize("env, expected", [
    ({"HPCFLOW_SRUN_MPI": "pmix", "SLURM_MPI_TYPE": "pmi2"}, "pmix"),  # the site config wins
    ({"SLURM_MPI_TYPE": "pmi2"}, "pmi2"),  # else what the agents' step was started with
    ({"HPCFLOW_SRUN_MPI": "default", "SLURM_MPI_TYPE": "pmi2"}, None),  # cluster default
    ({}, None),
])
def test_srun_mpi_comes_from_the_site_then_the_agents_step(env, expected):
    settings = StepSettings.from_env({**env, "PATH": "/nonexistent"}, in_slurm=True)
    assert settings.srun_mpi == expected and settings.in_slurm


def test_run_dir_from_the_option_or_the_environment():
    assert StepSettings.from_env({"HPCFLOW_RUN_DIR": "/r"}, False).run_dir == "/r"
    assert StepSettings.from_env({"HPCFLOW_RUN_DIR": "/r"}, False, "/o").run_dir == "/o"
