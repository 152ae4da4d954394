"""runcompss / enqueue_compss options as hpcflow argv (pure translation)."""

import os
import sys

import pytest

from hpcflow.errors import UsageError
from hpcflow.runtime.compat import activate, compss_command, shim_root


def test_runcompss_maps_to_hpcflow_run_with_the_shim():
    argv, env, notes = compss_command("runcompss", ["--summary", "-g", "--pythonpath=/x",
                                                    "--wall_clock_limit", "30", "app.py", "a",
                                                    "--b"], {}, python="py")
    assert argv == ["py", "-m", "hpcflow", "run", "--compat", "pycompss",
                    "--wall-clock-limit", "30", "app.py", "--", "a", "--b"]
    assert env["PYTHONPATH"].split(os.pathsep)[:2] == [shim_root("pycompss"), "/x"]
    assert notes and "hpcflow graph" in notes[0]


def test_enqueue_compss_maps_to_submit():
    argv, env, _ = compss_command("enqueue_compss", ["--num_nodes=4", "--exec_time=90",
                                                     "--qos", "debug", "--queue=gp",
                                                     "--project_name=bsc",
                                                     "--wall_clock_limit=600", "app.py", "7"],
                                  {"PYTHONPATH": "/old"}, python="py")
    assert argv == ["py", "-m", "hpcflow", "submit", "--compat", "pycompss", "app.py",
                    "--nodes", "4", "--time", "01:30:00", "--qos", "debug", "--partition",
                    "gp", "--account", "bsc", "--wall-clock-limit", "600", "--", "7"]
    assert env["PYTHONPATH"].endswith("/old")


@pytest.mark.parametrize("launcher, args, message", [
    ("runcompss", ["--storage_impl=redis", "a.py"], "option --storage_impl=redis is not"),
    ("runcompss", ["--num_nodes=2", "a.py"], "needs a batch job: use enqueue_compss"),
    ("runcompss", ["--lang=java", "a.py"], "only --lang=python"),
    ("enqueue_compss", ["--num_nodes=2"], "no application given"),
])
def test_unsupported_options_are_errors(launcher, args, message):
    with pytest.raises(UsageError, match=message):
        compss_command(launcher, args, {})


def test_activate_puts_the_shim_first(monkeypatch):
    env = {"PYTHONPATH": "/a"}
    monkeypatch.setattr(sys, "path", list(sys.path))
    root = activate("pycompss", env)
    assert sys.path[0] == root and env["PYTHONPATH"] == os.pathsep.join([root, "/a"])
    with pytest.raises(UsageError, match="unknown --compat 'dask'"):
        activate("dask", env)
