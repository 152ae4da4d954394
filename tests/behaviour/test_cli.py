"""``hpcflow run`` end to end: apps, arguments, summary and one-line errors on bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

APPS = Path(__file__).parent / "apps"


def hpcflow(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hpcflow", *args], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def test_main_functions_closures_and_arguments():
    done = hpcflow("run", str(APPS / "closures.py"), "--workers", "2", "--", "x", "--y")
    assert done.returncode == 0, done.stderr
    assert "ITEMS [0, 3, 6] ARGS ['x', '--y']" in done.stdout
    assert "hpcflow summary" in done.stderr
    assert "scale" in done.stderr and "put" in done.stderr


def test_quiet_prints_no_summary():
    done = hpcflow("run", "--quiet", str(APPS / "closures.py"))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_same_script_runs_sequentially_with_plain_python():
    done = subprocess.run([sys.executable, str(APPS / "closures.py")], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "ITEMS [0, 3, 6]" in done.stdout


@pytest.mark.parametrize("app, message", [
    ("missing.py", "app file '{path}' not found"),
    ("bad_direction.py", "unknown direction 'SIDEWAYS' for parameter 'x' of f; valid: "),
    ("bad_constraint.py", "unknown constraint 'flux_capacitors' for task f; valid: "),
    ("unpicklable_arg.py", "an argument of task f cannot be serialized: TypeError"),
    ("fits_nowhere.py", "task huge needs computing_units=4096 but no node offers it"),
])
def test_bad_input_is_one_clear_line(app, message):
    path = str(APPS / app)
    done = hpcflow("run", "--quiet", path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("hpcflow: error: " + message.format(path=path))


def test_syntax_error_is_one_clear_line(tmp_path):
    app = tmp_path / "broken.py"
    app.write_text("x = 1\ndef f(:\n")
    done = hpcflow("run", str(app))
    assert done.returncode == 2
    assert done.stderr.strip() == f"hpcflow: error: syntax error in {app} line 2: invalid syntax"


def test_an_exception_in_the_app_shows_the_users_traceback():
    done = hpcflow("run", "--quiet", str(APPS / "app_raises.py"))
    assert done.returncode == 1
    assert "app_raises.py" in done.stderr and "in helper" in done.stderr
    assert "hpcflow/" not in done.stderr
    assert done.stderr.strip().endswith(
        "hpcflow: error: the app raised ValueError: the app itself is wrong")


def test_a_failed_task_reports_the_remote_traceback_and_host():
    done = hpcflow("run", "--quiet", str(APPS / "task_fails.py"))
    assert done.returncode == 1
    assert "ZeroDivisionError: no luck" in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("hpcflow: error: task boom #1 failed on ")
    assert " pid " in last


def test_progress_line_on_a_terminal(tmp_path):
    import os
    import pty

    app = tmp_path / "slow.py"
    app.write_text("import time\nfrom hpcflow import task, wait_on\n"
                   "@task(returns=1)\ndef nap(x):\n    time.sleep(0.3)\n    return x\n"
                   "print(sum(wait_on([nap(i) for i in range(8)])))\n")
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "hpcflow", "run", "--workers", "2", str(app)],
                            stdout=subprocess.PIPE, stderr=follower, stdin=subprocess.DEVNULL)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    proc.wait(timeout=60)
    os.close(leader)
    assert proc.stdout is not None and proc.stdout.read() == b"28\n"
    text = seen.decode(errors="replace")
    assert "[hpcflow] done" in text and "running" in text and "pending" in text
    assert "hpcflow summary" in text
