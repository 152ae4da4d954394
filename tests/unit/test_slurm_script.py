"""Batch script rendering: recorded script, quoting of hostile values, rejected input."""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
from pathlib import Path

import pytest

from hpcflow.errors import UsageError
from hpcflow.slurm.script import RESERVED_OPTIONS, SbatchSpec, render_sbatch, sbatch_options
from hpcflow.slurm.srun import agents_step_argv

DATA = Path(__file__).parent / "data"

NASTY = "my job; rm -rf ~ $(whoami) `id` 'single' \"double\" #not-a-comment & | > * ?"


def basic_spec(**overrides: object) -> SbatchSpec:
    launch = agents_step_argv(
        2, "pmi2", "python3", ["-m", "hpcflow.agents", "--session", "/tmp/run dir/session.json"]
    )
    fields: dict[str, object] = dict(
        job_name="hpcflow-demo",
        nodes=2,
        time="00:10:00",
        launch=launch,
        partition="debug",
        cpus_per_node=4,
        mem_per_node="4000M",
        output="/tmp/run dir/hpcflow-%j.out",
        error="/tmp/run dir/hpcflow-%j.err",
        chdir="/tmp/run dir",
        extra={"exclusive": True, "mail-type": "END,FAIL", "requeue": False},
        modules=["gcc/12.2", "python/3.11"],
        env={"OMP_NUM_THREADS": "1", "GREETING": "it's $HOME"},
    )
    fields.update(overrides)
    return SbatchSpec(**fields)  # type: ignore[arg-type]


def sbatch_directive_args(script: str) -> list[str]:
    """Tokenize #SBATCH lines the way sbatch 22.05 does (src/sbatch/opt.c, _get_argument).

    Whitespace separates arguments; '...' and "..." group; a backslash escapes the next
    character everywhere (even inside quotes); an unquoted '#' starts a comment.
    Scanning stops at the first line that is not a comment.
    """
    args: list[str] = []
    for line in script.splitlines()[1:]:
        if not line.startswith("#"):
            break
        if not line.startswith("#SBATCH"):
            continue
        rest, i = line[len("#SBATCH") :], 0
        while i < len(rest):
            while i < len(rest) and rest[i].isspace():
                i += 1
            if i >= len(rest):
                break
            arg, quote, escape = [], "", False
            while i < len(rest) and (quote or not rest[i].isspace()):
                char = rest[i]
                i += 1
                if escape:
                    escape = False
                elif char == "\\":
                    escape = True
                    continue
                elif quote:
                    if char == quote:
                        quote = ""
                        continue
                elif char in "'\"":
                    quote = char
                    continue
                elif char == "#":
                    i = len(rest)
                    break
                arg.append(char)
            args.append("".join(arg))
    return args


def test_render_matches_recorded_script() -> None:
    expected = (DATA / "sbatch_basic.sh").read_text()
    assert render_sbatch(basic_spec()) == expected


def test_directives_sorted_and_flags_bare() -> None:
    script = render_sbatch(basic_spec())
    directives = [line for line in script.splitlines() if line.startswith("#SBATCH")]
    assert directives == sorted(directives)
    assert "#SBATCH --exclusive" in directives
    assert not any("requeue" in line for line in directives)  # False leaves it out


def test_one_agent_per_node_allocation() -> None:
    options = sbatch_options(basic_spec())
    assert options["nodes"] == "2"
    assert options["ntasks-per-node"] == "1"
    assert options["cpus-per-task"] == "4"
    assert options["mem"] == "4000M"


def test_optional_fields_left_out_when_unset() -> None:
    spec = SbatchSpec(job_name="j", nodes=1, time="5", launch=["srun", "true"])
    assert sbatch_options(spec) == {
        "job-name": "j",
        "nodes": "1",
        "ntasks-per-node": "1",
        "time": "5",
    }


def test_gpus_per_node_rendered_when_positive() -> None:
    assert sbatch_options(basic_spec(gpus_per_node=4))["gpus-per-node"] == "4"
    assert "gpus-per-node" not in sbatch_options(basic_spec(gpus_per_node=0))


def test_nasty_sbatch_values_survive_sbatch_parsing() -> None:
    spec = basic_spec(job_name=NASTY, output="/scratch/my dir/o'ut %j.log", account="a b")
    args = sbatch_directive_args(render_sbatch(spec))
    assert f"--job-name={NASTY}" in args
    assert "--output=/scratch/my dir/o'ut %j.log" in args
    assert "--account=a b" in args
    assert len(args) == len(sbatch_options(spec))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("two\nlines", "newline"),
        ("cr\rhere", "carriage return"),
        ("back\\slash", "backslash"),
        ("my-hetjob", "heterogeneous"),
        ("PackJob", "heterogeneous"),
        ("", "non-empty"),
    ],
)
def test_bad_directive_values_rejected(value: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        render_sbatch(basic_spec(job_name=value))


@pytest.mark.parametrize(
    "key",
    ["with space", "opt=val", "--constraint", "Constraint", "x", "", "trailing-", "a\nb"],
)
def test_bad_extra_option_names_rejected(key: str) -> None:
    with pytest.raises(UsageError, match="bad sbatch option name"):
        render_sbatch(basic_spec(extra={key: "v"}))


@pytest.mark.parametrize("key", sorted(RESERVED_OPTIONS))
def test_reserved_extra_options_rejected(key: str) -> None:
    with pytest.raises(UsageError, match="hpcflow sets it"):
        render_sbatch(basic_spec(extra={key: "1"}))


def test_extra_option_value_types() -> None:
    with pytest.raises(UsageError, match="bad value"):
        render_sbatch(basic_spec(extra={"constraint": 1.5}))
    options = sbatch_options(basic_spec(extra={"nice": 10, "constraint": "a&b"}))
    assert options["nice"] == "10"
    assert options["constraint"] == "a&b"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"nodes": 0}, "nodes"),
        ({"nodes": True}, "nodes"),
        ({"cpus_per_node": 0}, "cpus_per_node"),
        ({"gpus_per_node": -1}, "gpus_per_node"),
        ({"time": "ten minutes"}, "bad time"),
        ({"time": "1:00:00\n#SBATCH --x"}, "bad time"),
        ({"modules": ["intel impi"]}, "list each module separately"),
        ({"modules": ["-f"]}, "bad module name"),
        ({"env": {"BAD-NAME": "1"}}, "bad environment variable name"),
        ({"env": {"A": 1}}, "string value"),
        ({"launch": []}, "launch"),
        ({"partition": 5}, "non-empty value"),
    ],
)
def test_invalid_specs_rejected(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        render_sbatch(basic_spec(**overrides))


def test_spec_is_frozen_and_copies_inputs() -> None:
    env = {"A": "1"}
    spec = basic_spec(env=env)
    env["B"] = "2"
    assert dict(spec.env) == {"A": "1"}
    assert isinstance(spec.launch, tuple)
    with pytest.raises(AttributeError):
        spec.nodes = 3  # type: ignore[misc]


def test_body_runs_with_exact_values(tmp_path: Path) -> None:
    """Run the rendered body under bash with fake `module` and `srun` that record argv."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "log"
    for name in ("module", "srun"):
        tool = bindir / name
        tool.write_text(
            "#!/bin/bash\n"
            'printf "%s\\0" "${0##*/}" "$@" >> "$LOG"\n'
            'if [ "${0##*/}" = srun ]; then printf "%s\\0" "$GREETING" "$NASTY" >> "$LOG"; fi\n'
            'printf "\\036" >> "$LOG"\n'
        )
        tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    nasty_arg = NASTY + "\nsecond line"
    launch = ["srun", "--nodes=1", "prog", nasty_arg, f"$(touch {tmp_path}/pwned)"]
    spec = basic_spec(launch=launch, env={"GREETING": "it's $HOME", "NASTY": NASTY})
    script = tmp_path / "job.sh"
    script.write_text(render_sbatch(spec))
    env = {"PATH": f"{bindir}:{os.environ['PATH']}", "LOG": str(log), "HOME": "/home/x"}
    subprocess.run(["bash", str(script)], env=env, check=True, cwd=tmp_path)
    records = [rec.split("\0")[:-1] for rec in log.read_text().split("\x1e") if rec]
    assert records[:2] == [["module", "load", "gcc/12.2"], ["module", "load", "python/3.11"]]
    assert records[2] == [*launch, "it's $HOME", NASTY]
    assert len(records) == 3
    assert not (tmp_path / "pwned").exists()
    assert shlex.join(launch) in script.read_text()
