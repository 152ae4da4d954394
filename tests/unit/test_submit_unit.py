"""``hpcflow submit``/``status``/``cancel``/``logs`` without Slurm: a fake command runner.

(Not named test_submit.py: tests/slurm/test_submit.py has that basename, and the test
directories are not packages.)

Recorded output: tests/unit/data/submit_dry_run.sh (regenerate with HPCFLOW_REGEN=1 after
checking the difference by eye).
"""

from __future__ import annotations

import io
import json
import os
import shlex
import stat
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_slurm import FakeRunner, Result

from hpcflow.cli.main import main
from hpcflow.errors import ConfigError, HpcflowError, UsageError
from hpcflow.runtime import submit as sub
from hpcflow.runtime.submit import Context, SubmitRequest
from hpcflow.slurm.client import SlurmClient, SlurmNotFoundError
from hpcflow.slurm.parse import JobInfo, JobState

DATA = Path(__file__).parent / "data"
REPO_SITES = Path(__file__).resolve().parents[2] / "site-configs"
NOW = datetime(2024, 5, 6, 7, 8, 9)
HOSTILE_ARGS = ("--input", "data file.txt", "$(rm -rf ~)", "it's", "a\nb")


# --------------------------------------------------------------------------- fakes


def sinfo(nodes: int = 4, partition: str = "debug") -> Callable[[list[str]], Result]:
    def answer(argv: list[str]) -> Result:
        if "-N" in argv:  # sinfo -h -N -p PART -o %N
            count = nodes if argv[argv.index("-p") + 1] == partition else 0
            return Result(0, "".join(f"node{i}\n" for i in range(1, count + 1)))
        return Result(0, f"{partition}*\nother\n")  # sinfo -h -o %P

    return answer


def scontrol_line(job_id: str, state: str, *, exit_code: str = "0:0", name: str = "hpcflow-app",
                  stdout: str = "/nowhere/slurm.out", workdir: str = "/nowhere",
                  reason: str = "None") -> str:
    return (f"JobId={job_id} JobName={name} UserId=u(1) JobState={state} Reason={reason} "
            f"ExitCode={exit_code} NodeList=node[1-2] NumNodes=2 WorkDir={workdir} "
            f"StdErr={stdout[:-4]}.err StdIn=/dev/null StdOut={stdout} Power=\n")


def make_ctx(tmp_path: Path, runner: FakeRunner | None = None, **overrides: object) -> Context:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    cwd = tmp_path / "project"
    cwd.mkdir(exist_ok=True)
    fields: dict[str, object] = dict(
        cwd=cwd, env={"HOME": str(home)}, client=SlurmClient(runner or FakeRunner(), timeout=5),
        out=io.StringIO(), err=io.StringIO(), now=lambda: NOW, sleep=lambda s: None,
        user="alice", search_dirs=[REPO_SITES],
    )
    fields.update(overrides)
    return Context(**fields)  # type: ignore[arg-type]


def write_app(ctx: Context, name: str = "app.py", text: str = "print('hello')\n") -> str:
    (ctx.cwd / name).write_text(text)
    return name


def out(ctx: Context) -> str:
    return ctx.out.getvalue()  # type: ignore[attr-defined]


def err(ctx: Context) -> str:
    return ctx.err.getvalue()  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- option resolution


def test_cli_flags_beat_user_config_beat_site(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    user = Path(ctx.env["HOME"]) / ".config" / "hpcflow"
    user.mkdir(parents=True)
    (user / "config.toml").write_text('account = "mine"\nqos = "low"\n'
                                      '[sites.testbed]\nqos = "testq"\n')
    site = sub.resolve_config(SubmitRequest("a.py", 1, site="testbed", qos="cli-q"), ctx)
    assert (site.name, site.partition, site.account, site.qos) == ("testbed", "debug", "mine",
                                                                   "cli-q")
    site = sub.resolve_config(SubmitRequest("a.py", 1, site="testbed", cpus_per_node=2,
                                            mem_per_node="1G", partition="big"), ctx)
    assert (site.cores_per_node, site.mem_per_node, site.partition, site.qos) == (
        2, "1G", "big", "testq")


def test_default_site_is_generic_unless_the_user_names_one(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    assert sub.resolve_config(SubmitRequest("a.py", 1), ctx).name == "generic"
    user = Path(ctx.env["HOME"]) / ".config" / "hpcflow"
    user.mkdir(parents=True)
    (user / "config.toml").write_text('default_site = "testbed"\n')
    assert sub.resolve_config(SubmitRequest("a.py", 1), ctx).name == "testbed"
    assert sub.resolve_config(SubmitRequest("a.py", 1, site="generic"), ctx).name == "generic"


def test_without_a_generic_toml_the_builtin_defaults_apply(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, search_dirs=[tmp_path / "no-sites"])
    site = sub.resolve_config(SubmitRequest("a.py", 1, qos="q"), ctx)
    assert (site.name, site.partition, site.qos, site.srun_mpi) == ("generic", None, "q", None)
    (tmp_path / "no-sites").mkdir()
    (tmp_path / "no-sites" / "generic.toml").write_text('partition = "admin-set"\n')
    assert sub.resolve_config(SubmitRequest("a.py", 1), ctx).partition == "admin-set"


def test_xdg_config_home_locates_the_user_file(tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    (xdg / "hpcflow").mkdir(parents=True)
    (xdg / "hpcflow" / "config.toml").write_text('default_site = "testbed"\n')
    ctx = make_ctx(tmp_path, env={"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(xdg)})
    assert sub.resolve_config(SubmitRequest("a.py", 1), ctx).name == "testbed"


def test_site_config_file_is_relative_to_cwd(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    (ctx.cwd / "mine.toml").write_text('partition = "p1"\n')
    site = sub.resolve_config(SubmitRequest("a.py", 1, site_config="mine.toml"), ctx)
    assert (site.name, site.partition) == ("mine", "p1")


@pytest.mark.parametrize(
    ("request_fields", "files", "message"),
    [
        ({"site": "nope"}, {}, "unknown site 'nope'; available: generic, marenostrum5-gpp, "
                               "testbed"),
        ({"site_config": "bad.toml"}, {"bad.toml": "x = \n"}, "invalid TOML in "),
        ({"site_config": "gone.toml"}, {}, "config file not found: "),
        ({"site_config": "keys.toml"}, {"keys.toml": "partiton = 'x'\n"},
         "unknown key 'partiton' (did you mean 'partition'?)"),
        ({"site": "testbed", "site_config": "x.toml"}, {}, "not both"),
        ({"mem_per_node": "lots"}, {}, "mem_per_node must be a size"),
    ],
)
def test_config_errors_are_one_line(tmp_path: Path, request_fields: dict[str, str],
                                    files: dict[str, str], message: str) -> None:
    ctx = make_ctx(tmp_path)
    for name, text in files.items():
        (ctx.cwd / name).write_text(text)
    with pytest.raises(UsageError, match=None) as info:
        sub.resolve_config(SubmitRequest("a.py", 1, **request_fields), ctx)  # type: ignore[arg-type]
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_invalid_user_toml_is_an_error(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    user = Path(ctx.env["HOME"]) / ".config" / "hpcflow"
    user.mkdir(parents=True)
    (user / "config.toml").write_text("default_site = \n")
    with pytest.raises(ConfigError, match=r"invalid TOML in .*config\.toml"):
        sub.resolve_config(SubmitRequest("a.py", 1), ctx)


# --------------------------------------------------------------------------- pure pieces


@pytest.mark.parametrize(
    ("text", "nodes", "expected"),
    [(None, 2, None), ("1:4", 2, (1, 4)), ("2:2", 2, (2, 2)), (" 1:8 ", 1, (1, 8))],
)
def test_parse_elastic(text: str | None, nodes: int, expected: object) -> None:
    assert sub.parse_elastic(text, nodes) == expected


@pytest.mark.parametrize(
    ("text", "nodes"),
    [("0:4", 2), ("3:4", 2), ("1:1", 2), ("4:2", 3), ("x", 1), ("1-4", 2), ("1:", 1), ("", 1)],
)
def test_parse_elastic_rejects(text: str, nodes: int) -> None:
    with pytest.raises(UsageError, match="bad --elastic"):
        sub.parse_elastic(text, nodes)


@pytest.mark.parametrize(
    ("requested", "app", "expected"),
    [(None, "/p/my app.py", "hpcflow-my_app"), (None, "/p/run.v2.py", "hpcflow-run.v2"),
     ("exp-1_a.b+c", "/p/x.py", "exp-1_a.b+c")],
)
def test_job_name_for(requested: str | None, app: str, expected: str) -> None:
    assert sub.job_name_for(requested, app) == expected


@pytest.mark.parametrize("bad", ["a/b", "", "-x", "a b", "50%", "x" * 129, "$(id)"])
def test_job_name_rejected(bad: str) -> None:
    with pytest.raises(UsageError, match="bad --job-name"):
        sub.job_name_for(bad, "/p/a.py")


def test_run_dir_for() -> None:
    cwd = Path("/home/alice/project")
    assert sub.run_dir_for("j", NOW, cwd, None) == cwd / "hpcflow-runs/j-20240506-070809"
    assert sub.run_dir_for("j", NOW, cwd, "out/../runs") == cwd / "runs/j-20240506-070809"
    assert sub.run_dir_for("j", NOW, cwd, "/scratch", 2) == Path("/scratch/j-20240506-070809-3")
    with pytest.raises(UsageError, match="contains '%'"):
        sub.run_dir_for("j", NOW, Path("/home/50%"), None)


def test_launch_line_runs_hpcflow_run_once_per_node() -> None:
    site = sub.resolve_config(SubmitRequest("a.py", 1, site="testbed"), _bare_ctx())
    argv = sub.launch_argv(site, 3, Path("/r d"), "/p/app.py", ["--", "-x"])
    assert argv[:4] == ["srun", "--nodes=3", "--ntasks=3", "--ntasks-per-node=1"]
    assert "--mpi=pmi2" in argv
    assert argv[argv.index("python3"):] == ["python3", "-m", "hpcflow", "run", "--run-dir",
                                            "/r d", "/p/app.py", "--", "--", "-x"]
    from hpcflow.runtime.continuation import job_run_flags

    passed = job_run_flags(SubmitRequest("a.py", 1, compat="pycompss", wall_clock_limit=90),
                           Path("/r"))
    assert passed[-2:] == ["--compat=pycompss", "--wall-clock-limit=90"]
    generic = sub.resolve_config(SubmitRequest("a.py", 1), _bare_ctx())
    assert not any(a.startswith("--mpi") for a in sub.launch_argv(generic, 1, Path("/r"),
                                                                   "/a.py", []))


def _bare_ctx() -> Context:
    return Context(Path("/nonexistent"), {"HOME": "/nonexistent"}, SlurmClient(FakeRunner()),
                   io.StringIO(), io.StringIO(), search_dirs=[REPO_SITES])


# --------------------------------------------------------------------------- script rendering


def recorded_plan() -> sub.SubmitPlan:
    request = SubmitRequest("app.py", 2, args=HOSTILE_ARGS[:4], time="02:00:00",
                            elastic="1:4", site_config=str(DATA / "submit_site.toml"),
                            job_name="wordcount")
    site = sub.resolve_config(request, _bare_ctx())
    return sub.build_plan(request, site, "/home/alice/project/app.py",
                          cwd=Path("/home/alice/project"), now=NOW)


def test_dry_run_script_matches_recorded_output() -> None:
    script = recorded_plan().script
    recorded = DATA / "submit_dry_run.sh"
    if os.environ.get("HPCFLOW_REGEN"):
        recorded.write_text(script)
    assert script == recorded.read_text()


def test_script_launch_line_round_trips_through_the_shell() -> None:
    plan = recorded_plan()
    launch = next(line for line in plan.script.splitlines() if line.startswith("srun "))
    words = shlex.split(launch.removesuffix(" &"))  # in the background: USR1 is forwarded
    assert words[-6:] == ["/home/alice/project/app.py", "--", *HOSTILE_ARGS[:4]]
    assert words[words.index("run") + 1: words.index("run") + 3] == ["--resume",
                                                                      str(plan.run_dir)]
    assert "/opt/py 3/bin/python3" in words


def test_script_exports_run_dir_and_elastic() -> None:
    lines = recorded_plan().script.splitlines()
    run_dir = "/home/alice/project/hpcflow-runs/wordcount-20240506-070809"
    assert f"export HPCFLOW_RUN_DIR={run_dir}" in lines
    assert "export HPCFLOW_ELASTIC=1:4" in lines
    assert f"#SBATCH --output={run_dir}/slurm-%j.out" in lines
    assert f"#SBATCH --error={run_dir}/slurm-%j.err" in lines
    assert "#SBATCH --chdir=/home/alice/project" in lines
    assert "module load gcc/12.2" in lines


def test_newline_in_an_app_argument_survives_quoting() -> None:
    request = SubmitRequest("app.py", 1, args=HOSTILE_ARGS, site="testbed")
    site = sub.resolve_config(request, _bare_ctx())
    plan = sub.build_plan(request, site, "/p/app.py", cwd=Path("/p"), now=NOW)
    words = shlex.split("srun " + plan.script.split("\nsrun ", 1)[1])
    assert words[:words.index("&")][-5:] == list(HOSTILE_ARGS)


# --------------------------------------------------------------------------- submit


def test_dry_run_prints_the_script_and_touches_nothing(tmp_path: Path) -> None:
    runner = FakeRunner()
    ctx = make_ctx(tmp_path, runner)
    app = write_app(ctx)
    request = SubmitRequest(app, 2, site="testbed", dry_run=True, args=("x",))
    assert sub.submit_app(request, ctx) == 0
    script = out(ctx)
    assert script.startswith("#!/bin/bash\n")
    assert f"{ctx.cwd}/hpcflow-runs/hpcflow-app-20240506-070809" in script
    assert runner.calls == []
    assert list(ctx.cwd.iterdir()) == [ctx.cwd / app]


def test_submit_creates_the_run_dir_and_prints_two_lines(tmp_path: Path) -> None:
    runner = FakeRunner({"sinfo": sinfo(), "sbatch": Result(0, "42\n")})
    ctx = make_ctx(tmp_path, runner)
    app = write_app(ctx)
    assert sub.submit_app(SubmitRequest(app, 2, site="testbed", args=("a", "b c")), ctx) == 0
    run_dir = ctx.cwd / "hpcflow-runs" / "hpcflow-app-20240506-070809"
    assert out(ctx) == f"submitted job 42\nrun directory {run_dir}\n"
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700
    script = (run_dir / "job.sbatch").read_text()
    assert runner.calls[-1] == ["sbatch", "--parsable", str(run_dir / "job.sbatch")]
    assert f"--resume {run_dir} {ctx.cwd / app} -- a 'b c' &" in script
    record = json.loads((run_dir / "job.json").read_text())
    assert record["job_id"] == "42" and record["app"] == str(ctx.cwd / app)
    assert (record["args"], record["nodes"], record["site"]) == (["a", "b c"], 2, "testbed")
    assert record["submitted"] == "2024-05-06T07:08:09"
    assert stat.S_IMODE((run_dir / "job.json").stat().st_mode) == 0o600


def test_taken_run_dir_name_gets_a_suffix(tmp_path: Path) -> None:
    runner = FakeRunner({"sinfo": sinfo(), "sbatch": Result(0, "43\n")})
    ctx = make_ctx(tmp_path, runner)
    app = write_app(ctx)
    taken = ctx.cwd / "runs" / "hpcflow-app-20240506-070809"
    taken.mkdir(parents=True)
    sub.submit_app(SubmitRequest(app, 1, site="testbed", output="runs"), ctx)
    run_dir = taken.with_name(taken.name + "-2")
    assert f"run directory {run_dir}\n" in out(ctx)
    assert str(run_dir / "slurm-%j.out") in (run_dir / "job.sbatch").read_text()


def test_failed_sbatch_leaves_no_run_dir(tmp_path: Path) -> None:
    stderr = "sbatch: error: Batch job submission failed: Invalid account\n"
    runner = FakeRunner({"sinfo": sinfo(), "sbatch": Result(1, "", stderr)})
    ctx = make_ctx(tmp_path, runner)
    app = write_app(ctx)
    with pytest.raises(HpcflowError, match="Invalid account"):
        sub.submit_app(SubmitRequest(app, 1, site="testbed"), ctx)
    assert not (ctx.cwd / "hpcflow-runs").exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"nodes": 0}, "--nodes must be at least 1, got 0"),
        ({"nodes": 5}, "--nodes 5 but partition 'debug' has only 4 nodes"),
        ({"partition": "gpu"}, "partition 'gpu' has no nodes"),
        ({"site": "nope"}, "unknown site 'nope'"),
        ({"app": "missing.py"}, "missing.py' not found"),
        ({"app": "syntax.py"}, "syntax error in "),
        ({"time": "03:00:00"}, "exceeds the maximum 02:00:00 of site 'testbed'"),
        ({"time": "soon"}, "bad time limit 'soon'"),
        ({"elastic": "3:4", "nodes": 2}, "bad --elastic 3:4"),
        ({"cpus_per_node": 0}, "--cpus-per-node must be at least 1"),
        ({"job_name": "a b"}, "bad --job-name"),
    ],
)
def test_bad_input_submits_nothing(tmp_path: Path, fields: dict[str, object],
                                   message: str) -> None:
    runner = FakeRunner({"sinfo": sinfo(), "sbatch": Result(0, "1\n")})
    ctx = make_ctx(tmp_path, runner)
    write_app(ctx)
    write_app(ctx, "syntax.py", "def f(:\n")
    request = replace(SubmitRequest("app.py", 1, site="testbed"), **fields)  # type: ignore[arg-type]
    with pytest.raises(UsageError) as info:
        sub.submit_app(request, ctx)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert not runner.ran("sbatch")
    assert not (ctx.cwd / "hpcflow-runs").exists()


def test_no_slurm_on_path(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, FakeRunner())
    app = write_app(ctx)
    with pytest.raises(SlurmNotFoundError, match="sinfo not found on PATH"):
        sub.submit_app(SubmitRequest(app, 1), ctx)
    assert not (ctx.cwd / "hpcflow-runs").exists()


def test_generic_site_asks_slurm_for_the_default_partition(tmp_path: Path) -> None:
    runner = FakeRunner({"sinfo": sinfo(2, "batch"), "sbatch": Result(0, "7\n")})
    ctx = make_ctx(tmp_path, runner)
    app = write_app(ctx)
    with pytest.raises(UsageError, match="partition 'batch' has only 2 nodes"):
        sub.submit_app(SubmitRequest(app, 3), ctx)
    assert sub.submit_app(SubmitRequest(app, 2), ctx) == 0
    assert ["sinfo", "-h", "-o", "%P"] in runner.calls


# --------------------------------------------------------------------------- following a job


class JobScript:
    """A fake scontrol that walks through states, appending output to the job's files."""

    def __init__(self, run_dir: Path, steps: list[tuple[str, str, str, str]]) -> None:
        self.run_dir, self.steps, self.index = run_dir, steps, 0

    def __call__(self, argv: list[str]) -> Result:
        state, exit_code, text_out, text_err = self.steps[min(self.index, len(self.steps) - 1)]
        if self.index < len(self.steps):
            with open(self.run_dir / "slurm-9.out", "ab") as fh:
                fh.write(text_out.encode())
            with open(self.run_dir / "slurm-9.err", "ab") as fh:
                fh.write(text_err.encode())
        self.index += 1
        if state == "GONE":
            return Result(1, "", "slurm_load_jobs error: Invalid job id specified\n")
        return Result(0, scontrol_line("9", state, exit_code=exit_code,
                                       stdout=str(self.run_dir / "slurm-9.out")))


def follow(tmp_path: Path, steps: list[tuple[str, str, str, str]],
           status: dict[str, object] | None = None) -> tuple[int, Context]:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    if status is not None:
        (run_dir / "status.json").write_text(json.dumps(status))
    sleeps: list[float] = []
    ctx = make_ctx(tmp_path, FakeRunner({"scontrol": JobScript(run_dir, steps)}),
                   sleep=sleeps.append)
    code = sub.wait_for_job(ctx, "9", run_dir)
    assert sleeps == [0.5] * (len(steps) - 1)
    return code, ctx


def test_wait_streams_output_as_it_grows_and_returns_the_app_status(tmp_path: Path) -> None:
    steps = [("PENDING", "0:0", "", ""), ("RUNNING", "0:0", "hel", "warn\n"),
             ("RUNNING", "0:0", "lo €", ""), ("COMPLETING", "0:0", "\n", ""),
             ("COMPLETED", "0:0", "bye\n", "")]
    code, ctx = follow(tmp_path, steps, status={"exit_status": 0})
    assert code == 0
    assert (out(ctx), err(ctx)) == ("hello €\nbye\n", "warn\n")


def test_app_status_from_status_json_wins(tmp_path: Path) -> None:
    code, ctx = follow(tmp_path, [("RUNNING", "0:0", "x\n", ""), ("FAILED", "1:0", "", "")],
                       status={"exit_status": 3, "message": "boom"})
    assert code == 3
    assert "hpcflow: job 9 FAILED, exit status 3; run directory" in err(ctx)


def test_slurm_exit_code_without_status_json(tmp_path: Path) -> None:
    code, _ = follow(tmp_path, [("RUNNING", "0:0", "", ""), ("FAILED", "4:0", "", "")])
    assert code == 4


def test_cancelled_job_is_an_error_naming_the_state(tmp_path: Path) -> None:
    code, ctx = follow(tmp_path, [("RUNNING", "0:0", "", ""), ("CANCELLED", "0:15", "", "")])
    assert code == 1
    assert err(ctx).startswith("hpcflow: error: job 9 ended CANCELLED; run directory ")
    assert err(ctx).count("\n") == 1


def test_job_forgotten_by_slurm(tmp_path: Path) -> None:
    code, ctx = follow(tmp_path, [("GONE", "", "", "")], status={"exit_status": 0})
    assert code == 0 and err(ctx) == ""


@pytest.mark.parametrize(
    ("state", "exit_code", "status_doc", "expected"),
    [
        ("COMPLETED", "0:0", None, (0, "")),
        ("COMPLETED", "0:0", {"exit_status": 2}, (2, "job 9 COMPLETED, exit status 2")),
        ("FAILED", "0:9", None, (137, "job 9 FAILED, exit status 137")),
        ("FAILED", "0:0", None, (1, "job 9 FAILED, exit status 1")),
        ("TIMEOUT", "0:1", None, (1, "error: job 9 ended TIMEOUT")),
        ("OUT_OF_MEMORY", "0:125", {"exit_status": 5}, (5, "error: job 9 ended OUT_OF_MEMORY")),
        ("NODE_FAIL", "0:0", {"exit_status": 0}, (1, "error: job 9 ended NODE_FAIL")),
    ],
)
def test_final_status_table(state: str, exit_code: str, status_doc: dict[str, int] | None,
                            expected: tuple[int, str]) -> None:
    code, signal = (int(x) for x in exit_code.split(":"))
    info = JobInfo("9", JobState(state), exit_code=code, exit_signal=signal)
    assert sub.final_status("9", info, status_doc) == expected


def test_final_status_of_unknown_job() -> None:
    assert sub.final_status("9", None, None)[0] == 1
    assert sub.final_status("9", None, {"exit_status": 4}) == (4, "job 9 ended, exit status 4")


def test_read_status_ignores_broken_files(tmp_path: Path) -> None:
    assert sub.read_status(tmp_path) is None
    for text in ("{", "[]", '{"exit_status": "0"}', '{"exit_status": true}'):
        (tmp_path / "status.json").write_text(text)
        assert sub.read_status(tmp_path) is None
    (tmp_path / "status.json").write_text('{"exit_status": 0, "message": ""}')
    assert sub.read_status(tmp_path) == {"exit_status": 0, "message": ""}


# --------------------------------------------------------------------------- status/cancel/logs


def submitted(tmp_path: Path, runner: FakeRunner, job_id: str = "42") -> tuple[Context, Path]:
    ctx = make_ctx(tmp_path, runner)
    run_dir = ctx.cwd / "hpcflow-runs" / "hpcflow-app-20240506-070809"
    run_dir.mkdir(parents=True)
    (run_dir / "job.json").write_text(json.dumps({"job_id": job_id}))
    (run_dir / f"slurm-{job_id}.out").write_text("hello\n")
    (run_dir / f"slurm-{job_id}.err").write_text("a warning\n")
    return ctx, run_dir


def test_status_lists_hpcflow_jobs(tmp_path: Path) -> None:
    queue = ("42|RUNNING|2|debug|node[1-2]|None|hpcflow-app\n"
             "43|PENDING|1|debug||Resources|other\n"
             "44|PENDING|1|debug||Priority|mine-local\n")
    runner = FakeRunner({"squeue": Result(0, queue)})
    ctx, _ = submitted(tmp_path, runner, job_id="44")
    assert sub.show_status(None, ctx) == 0
    assert out(ctx) == ("42  hpcflow-app  RUNNING  2 (node1,node2)\n"
                        "44  mine-local  PENDING  1 (Priority)\n")
    assert runner.calls[0][-2:] == ["-u", "alice"]


def test_status_of_no_jobs(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, FakeRunner({"squeue": Result(0, "")}))
    sub.show_status(None, ctx)
    assert out(ctx) == "no hpcflow jobs in the queue\n"


def test_status_of_one_job(tmp_path: Path) -> None:
    runner = FakeRunner({"scontrol": Result(0, scontrol_line("42", "COMPLETED"))})
    ctx, run_dir = submitted(tmp_path, runner)
    (run_dir / "status.json").write_text('{"exit_status": 0}')
    assert sub.show_status("42", ctx) == 0
    assert out(ctx).splitlines() == [
        "job        42 (hpcflow-app)", "state      COMPLETED", "nodes      2 (node1,node2)",
        f"run dir    {run_dir}", "exit code  0"]


def test_status_finds_the_run_dir_from_slurm_stdout(tmp_path: Path) -> None:
    elsewhere = tmp_path / "scratch" / "r1"
    elsewhere.mkdir(parents=True)
    (elsewhere / "job.json").write_text('{"job_id": "42"}')
    line = scontrol_line("42", "RUNNING", stdout=str(elsewhere / "slurm-42.out"))
    ctx = make_ctx(tmp_path, FakeRunner({"scontrol": Result(0, line)}))
    sub.show_status("42", ctx)
    assert f"run dir    {elsewhere}" in out(ctx) and "exit code  -" in out(ctx)


def test_status_of_unknown_job(tmp_path: Path) -> None:
    gone = Result(1, "", "slurm_load_jobs error: Invalid job id specified\n")
    ctx = make_ctx(tmp_path, FakeRunner({"scontrol": gone, "sacct": gone}))
    with pytest.raises(UsageError, match="job 77 is unknown to Slurm"):
        sub.show_status("77", ctx)
    with pytest.raises(UsageError, match="bad Slurm job id"):
        sub.show_status("1; rm", ctx)


def test_cancel_running_job(tmp_path: Path) -> None:
    runner = FakeRunner({"scontrol": Result(0, scontrol_line("42", "RUNNING")),
                         "scancel": Result(0)})
    ctx = make_ctx(tmp_path, runner)
    assert sub.cancel_job("42", ctx) == 0
    assert out(ctx) == "cancelled job 42 (was RUNNING)\n"
    assert ["scancel", "42"] in runner.calls


def test_cancel_finished_or_unknown_job(tmp_path: Path) -> None:
    runner = FakeRunner({"scontrol": Result(0, scontrol_line("42", "COMPLETED"))})
    ctx = make_ctx(tmp_path, runner)
    sub.cancel_job("42", ctx)
    assert out(ctx) == "job 42 had already ended (COMPLETED): nothing to cancel\n"
    assert not runner.ran("scancel")
    gone = Result(1, "", "slurm_load_jobs error: Invalid job id specified\n")
    with pytest.raises(UsageError, match="job 5 is unknown to Slurm"):
        sub.cancel_job("5", make_ctx(tmp_path, FakeRunner({"scontrol": gone})))


def test_logs_print_out_and_err(tmp_path: Path) -> None:
    gone = Result(1, "", "slurm_load_jobs error: Invalid job id specified\n")
    ctx, _ = submitted(tmp_path, FakeRunner({"scontrol": gone}))
    assert sub.show_logs("42", ctx=ctx) == 0
    assert (out(ctx), err(ctx)) == ("hello\n", "a warning\n")


def test_logs_follow_until_the_job_ends(tmp_path: Path) -> None:
    states = iter(["RUNNING", "RUNNING", "COMPLETED"])
    ctx, run_dir = submitted(tmp_path, FakeRunner())

    def scontrol(argv: list[str]) -> Result:
        with open(run_dir / "slurm-42.out", "a") as fh:
            fh.write("more\n")
        return Result(0, scontrol_line("42", next(states)))

    ctx.client.runner.answers["scontrol"] = scontrol  # type: ignore[attr-defined]
    assert sub.show_logs("42", follow=True, ctx=ctx) == 0
    assert out(ctx) == "hello\n" + "more\n" * 3


def test_logs_without_a_run_dir(tmp_path: Path) -> None:
    gone = Result(1, "", "slurm_load_jobs error: Invalid job id specified\n")
    ctx = make_ctx(tmp_path, FakeRunner({"scontrol": gone}))
    with pytest.raises(UsageError, match="cannot find the run directory of job 42"):
        sub.show_logs("42", ctx=ctx)


# --------------------------------------------------------------------------- the CLI


def test_cli_dry_run_and_one_line_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    (tmp_path / "app.py").write_text("print('hi')\n")
    runner = CliRunner()
    result = runner.invoke(main, ["submit", "app.py", "--nodes", "2", "--site", "testbed",
                                  "--dry-run", "--", "--flag", "x"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("#!/bin/bash\n")
    assert f"{tmp_path}/app.py -- --flag x &\n" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.py"]
    for argv, message in [
        (["app.py", "--nodes", "0", "--dry-run"], "--nodes must be at least 1, got 0"),
        (["app.py", "-N", "1", "--elastic", "2:3", "--dry-run"], "bad --elastic 2:3"),
        (["nope.py", "-N", "1", "--dry-run"], "app file"),
    ]:
        result = runner.invoke(main, ["submit", *argv])
        assert result.exit_code == 2
        assert result.output.startswith("hpcflow: error: ") and message in result.output
        assert result.output.count("\n") == 1


def test_cli_commands_are_listed() -> None:
    result = CliRunner().invoke(main, ["--help"])
    for command in ("submit", "status", "cancel", "logs", "run"):
        assert command in result.output
