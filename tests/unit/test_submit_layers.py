"""What ``hpcflow submit`` added to the pure layers: slurm/ (default partition, job output
paths) and config/ (``--site-config FILE``, the user's ``default_site``)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pytest

from hpcflow.config.site import load_site_config, resolve_site, user_default_site
from hpcflow.errors import ConfigError, UsageError
from hpcflow.slurm.client import SlurmClient
from hpcflow.slurm.follow import FileTail
from hpcflow.slurm.parse import parse_default_partition, parse_scontrol_jobs
from hpcflow.slurm.srun import sinfo_partitions_argv

DATA = Path(__file__).parent / "data"
REPO_SITES = Path(__file__).resolve().parents[2] / "site-configs"
NO_HOME = {"HOME": "/nonexistent-home"}


@pytest.mark.parametrize(
    ("out", "expected"),
    [("debug*\n", "debug"), ("long\ndebug*\ngpu\n", "debug"), ("a\nb\n", None), ("", None),
     ("*\n", None), ("  big* \n", "big")],
)
def test_parse_default_partition(out: str, expected: str | None) -> None:
    assert parse_default_partition(out) == expected


@dataclass
class Done:
    returncode: int = 0
    stdout: str = ""
    stderr: str = ""


def test_client_default_partition() -> None:
    calls: list[list[str]] = []

    def runner(argv: list[str], timeout: float) -> Done:
        calls.append(argv)
        return Done(0, "other\ndebug*\n")

    assert SlurmClient(runner).default_partition() == "debug"
    assert calls == [sinfo_partitions_argv()] == [["sinfo", "-h", "-o", "%P"]]


def test_scontrol_job_info_has_output_paths() -> None:
    lines = [line for line in (DATA / "scontrol_show_job.txt").read_text().splitlines()
             if line and not line.startswith("#")]
    first = parse_scontrol_jobs(lines[0] + "\n")[0]
    assert first.stdout == "/tmp/hpcflow probe dir/o 1.out"
    assert first.stderr == "/tmp/hpcflow probe dir/o 1.out"
    line = ("JobId=5 JobName=x JobState=PENDING Reason=Priority ExitCode=0:0 "
            "WorkDir=/w StdErr=/w/r/slurm-5.err StdIn=/dev/null StdOut=/w/r/slurm-5.out Power=")
    info = parse_scontrol_jobs(line)[0]
    assert (info.stdout, info.stderr, info.workdir) == ("/w/r/slurm-5.out", "/w/r/slurm-5.err",
                                                        "/w")


def test_site_file_loads_a_file_directly(tmp_path: Path) -> None:
    path = tmp_path / "cluster-x.toml"
    path.write_text('partition = "p"\n')
    config = load_site_config(None, {"qos": "q"}, env=NO_HOME, site_file=path)
    assert (config.name, config.partition, config.qos) == ("cluster-x", "p", "q")
    with pytest.raises(ConfigError, match="config file not found"):
        load_site_config(None, {}, env=NO_HOME, site_file=tmp_path / "gone.toml")
    with pytest.raises(UsageError, match="not both"):
        load_site_config("testbed", {}, env=NO_HOME, site_file=path)


def test_user_default_site(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    assert user_default_site(env) is None
    user = tmp_path / ".config" / "hpcflow" / "config.toml"
    user.parent.mkdir(parents=True)
    user.write_text('qos = "q"\n')
    assert user_default_site(env) is None
    user.write_text('default_site = "testbed"\nqos = "q"\n')
    assert user_default_site(env) == "testbed"
    config = load_site_config("testbed", {}, env=env, search_dirs=[REPO_SITES])
    assert (config.name, config.qos) == ("testbed", "q")  # default_site is not a setting
    user.write_text('default_site = "../etc"\n')
    with pytest.raises(ConfigError, match="default_site must be a name"):
        user_default_site(env)
    with pytest.raises(ConfigError, match="default_site must be a name"):
        load_site_config(None, {}, env=env)


def test_default_site_is_only_valid_in_the_user_layer() -> None:
    with pytest.raises(ConfigError, match="unknown key 'default_site'"):
        resolve_site({}, {"default_site": "x"}, None, {})


def test_file_tail_decodes_split_utf8_and_waits_for_the_file(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    stream = io.StringIO()
    tail = FileTail(run_dir / "f", stream)
    tail.pump()  # no file yet: nothing
    (run_dir / "f").write_bytes("€".encode()[:2])
    tail.pump()
    assert stream.getvalue() == ""
    with open(run_dir / "f", "ab") as fh:
        fh.write("€".encode()[2:] + b"\xff")
    tail.pump(final=True)
    assert stream.getvalue() == "€\ufffd"
