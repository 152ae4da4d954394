"""What the master lets go of: IN_DELETE values once read, COMMUTATIVE writers once their
group ends."""

from __future__ import annotations

import pytest

from hpcflow import barrier, task, wait_on
from hpcflow.errors import UsageError


@task(returns=1)
def make(n):
    return list(range(n))


@task(data="IN_DELETE", returns=1)
def total(data):
    return sum(data)


def test_in_delete_releases_the_value_once_read(runtime):
    produced = make(1000)
    out = total(produced)
    assert wait_on(out) == sum(range(1000))
    barrier()
    assert not [v for v in runtime._store if v.key == produced.key]  # the value is gone
    with pytest.raises(UsageError, match="deleted"):
        wait_on(produced)


@task(returns=1)
def total_in(data):
    return sum(data)


def test_a_plain_in_keeps_the_value(runtime):
    produced = make(10)
    assert wait_on(total_in(produced)) == 45
    barrier()
    assert [v for v in runtime._store if v.key == produced.key]
    assert wait_on(produced) == list(range(10))


def test_commutative_writers_leave_the_master_when_their_group_ends(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    app = Path(__file__).resolve().parent / "apps" / "commutative_release.py"
    done = subprocess.run([sys.executable, "-m", "hpcflow", "run", "--quiet", "--workers", "2",
                           "--run-dir", str(tmp_path / "run"), str(app)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    assert json.loads(line[7:]) == {"values": list(range(20)), "records": 0}
