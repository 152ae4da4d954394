"""Elastic runs on the real testbed: grow through extension jobs, shrink, survive lost nodes.

Each test submits one ``hpcflow submit --elastic`` job with the testbed site (the user
config sets ``python`` to this interpreter), waits for it, and reads its event log. Other
work may hold testbed nodes at the same time, so no test needs more than three nodes and
the unsatisfiable grow asks for more nodes than the partition has. Every job a test
started (main and extension jobs) is cancelled and every node it set DOWN is resumed in a
``finally``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

APPS = Path(__file__).parent / "apps"
BURST = APPS / "elastic_burst.py"
TIMEOUT = 120.0


@pytest.fixture
def env(testbed, tmp_path):
    xdg = tmp_path / "xdg"
    (xdg / "hpcflow").mkdir(parents=True)
    (xdg / "hpcflow" / "config.toml").write_text(
        f'default_site = "testbed"\n\n[sites.testbed]\npython = {json.dumps(sys.executable)}\n')
    return {**testbed.env, "XDG_CONFIG_HOME": str(xdg)}


class Run:
    """One submitted elastic job: its id, run directory and what to clean up."""

    def __init__(self, testbed, env, tmp_path: Path, *args: str) -> None:
        self.testbed, self.env = testbed, env
        self.marks = tmp_path / "marks"
        self.marks.mkdir()
        proc = subprocess.run([sys.executable, "-m", "hpcflow", "submit", *args],
                              cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL)
        match = re.search(r"submitted job (\d+)\nrun directory (/.+)\n", proc.stdout)
        assert match, proc.stdout + proc.stderr
        self.job_id, self.run_dir = match.group(1), Path(match.group(2))

    def events(self, what: str | None = None) -> list[dict]:
        path = self.run_dir / "events.jsonl"
        if not path.exists():
            return []
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        if what is None:
            return rows
        return [e for e in rows if e["event"] == "elastic" and e["what"] == what]

    def wait_for(self, predicate, limit: float = 60.0) -> None:
        deadline = time.monotonic() + limit
        while not predicate():
            assert time.monotonic() < deadline, f"timed out; events: {self.events('decision')}"
            time.sleep(0.2)

    def wait(self) -> str:
        self.wait_for(lambda: not self._queued(self.job_id), TIMEOUT)
        return (self.run_dir / f"slurm-{self.job_id}.out").read_text()

    def extension_jobs(self) -> list[str]:
        return [e["job"] for e in self.events("grow")]

    def _queued(self, job_id: str) -> bool:
        out = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T"], env=self.env,
                             capture_output=True, text=True, timeout=10).stdout
        return out.strip() not in ("", "COMPLETED", "CANCELLED", "FAILED", "TIMEOUT")

    def cleanup(self) -> None:
        for job in [self.job_id, *self.extension_jobs()]:
            subprocess.run(["scancel", job], env=self.env, timeout=10, capture_output=True)

    def executions(self) -> Counter:
        return Counter(int(name.split(".")[0]) for name in os.listdir(self.marks))

    def status(self, cwd: Path) -> str:
        """What ``hpcflow status JOBID`` prints."""
        return subprocess.run([sys.executable, "-m", "hpcflow", "status", self.job_id],
                              cwd=cwd, env=self.env, capture_output=True, text=True,
                              timeout=30).stdout

    def nodes_of_started(self) -> set[str]:
        return {e["node"] for e in self.events() if e["event"] == "started"}


def check_results(out: str, n: int) -> None:
    expected = sum(i * i for i in range(n))
    assert f"SUM {expected} EXPECTED {expected}" in out, out


def test_a_burst_grows_to_max_then_shrinks_back(testbed, env, tmp_path):
    run = Run(testbed, env, tmp_path, "--nodes", "1", "--elastic", "1:3", "--idle-timeout",
              "2", str(BURST), "--", "60", "2", str(tmp_path / "marks"))
    try:
        out = run.wait()
        check_results(out, 60)
        assert "SHRUNK 1" in out, out
        grows = run.events("grow")
        assert sum(g["nodes"] for g in grows) == 2, run.events("decision")
        joined = {e["node"] for e in run.events("joined")}
        assert len(joined) == 2 and joined <= run.nodes_of_started()
        assert len(out.split("NODES ")[1].split()[0].split(",")) == 3
        released = run.events("released")
        assert {e["node"] for e in released} == joined
        assert any("cancelled" in e["reason"] for e in released)
        assert not run.events("cancelled"), "extension job outlived the burst"
        for job in run.extension_jobs():
            assert not run._queued(job)
        assert run.executions() == Counter(range(60))
        status = run.status(tmp_path)
        assert "elastic    released:" in status, status
    finally:
        run.cleanup()


def test_b_request_then_free_resources_from_the_app(testbed, env, tmp_path):
    run = Run(testbed, env, tmp_path, "--nodes", "1", "--elastic", "1:3", "--idle-timeout",
              "300", str(BURST), "--", "24", "0.5", str(tmp_path / "marks"), "request")
    try:
        out = run.wait()
        check_results(out, 24)
        assert "TARGET 3" in out and "GREW 3" in out and "TARGET 1" in out, out
        assert "SHRUNK 1" in out, out
        assert len(run.nodes_of_started()) == 3
        targets = [e["reason"] for e in run.events("target")]
        assert targets == ["the application requested 2 more node(s)",
                           "the application freed 2 node(s)"]
        assert len(run.events("released")) == 2
        assert run.executions() == Counter(range(24))
    finally:
        run.cleanup()


def test_e_idle_nodes_of_the_main_job_are_drained_and_given_back(testbed, env, tmp_path):
    run = Run(testbed, env, tmp_path, "--nodes", "2", "--elastic", "1:2", "--idle-timeout",
              "1", str(BURST), "--", "16", "0.5", str(tmp_path / "marks"))
    try:
        out = run.wait()
        check_results(out, 16)
        master = next(e["node"] for e in run.events() if e["event"] == "node_joined")
        assert "SHRUNK 1" in out and f"ALLOCATION {master}\n" in out, out
        released = run.events("released")
        assert [e["job"] for e in released] == [run.job_id]
        assert released[0]["node"] != master
        assert run.executions() == Counter(range(16))
        left = [e for e in run.events() if e["event"] == "node_left"]
        assert [e["reason"].split(":")[0] for e in left] == ["released"]
        status = json.loads((run.run_dir / "status.json").read_text())
        assert status["exit_status"] == 0
    finally:
        run.cleanup()


def test_f_hpcflow_cancel_also_cancels_the_extension_jobs(testbed, env, tmp_path):
    run = Run(testbed, env, tmp_path, "--nodes", "1", "--elastic", "1:2", str(BURST), "--",
              "40", "2", str(tmp_path / "marks"))
    try:
        run.wait_for(lambda: bool(run.events("joined")))
        extension = run.extension_jobs()[0]
        done = subprocess.run([sys.executable, "-m", "hpcflow", "cancel", run.job_id],
                              cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=30)
        assert done.returncode == 0, done.stderr
        assert f"cancelled its extension job {extension}" in done.stdout
        run.wait_for(lambda: not run._queued(run.job_id) and not run._queued(extension), 30)
    finally:
        run.cleanup()


def test_g_job_expansion_merges_the_nodes_into_the_main_job(testbed, env, tmp_path):
    # The testbed sets SchedulerParameters=permit_job_expansion; most sites do not.
    env = {**env, "HPCFLOW_ELASTIC_EXPAND": "1"}
    run = Run(testbed, env, tmp_path, "--nodes", "1", "--elastic", "1:2", "--idle-timeout",
              "2", str(BURST), "--", "60", "2", str(tmp_path / "marks"))
    try:
        out = run.wait()
        check_results(out, 60)
        grow = run.events("grow")
        assert grow and all(g["merged"] for g in grow), run.events("decision")
        merged = {e["node"] for e in run.events("joined")}
        assert merged and merged <= run.nodes_of_started()
        master = next(e["node"] for e in run.events() if e["event"] == "node_joined")
        assert "SHRUNK 1" in out and f"ALLOCATION {master}\n" in out, out
        assert {e["job"] for e in run.events("released")} == {run.job_id}
        assert not (run.run_dir / "elastic" / "jobs").exists()  # no extension job
        assert run.executions() == Counter(range(60))
    finally:
        run.cleanup()


def agent_pid(job_id: str, node: str) -> int:
    """The pid of the agent rank of ``job_id`` on ``node`` (every slurmd runs on this host)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        wanted = {f"SLURM_JOB_ID={job_id}".encode(), f"SLURMD_NODENAME={node}".encode(),
                  b"SLURM_STEP_ID=0"}
        if wanted <= set(environ) and b"hpcflow\0run" in cmdline:
            return int(pid)
    raise AssertionError(f"no agent of job {job_id} on {node}")


def lose_a_node(testbed, env, tmp_path, how) -> None:
    """A two-node elastic run loses its second node while tasks run there."""
    run = Run(testbed, env, tmp_path, "--nodes", "2", "--elastic", "2:3", "--idle-timeout",
              "2", str(BURST), "--", "40", "1", str(tmp_path / "marks"), "nowait")
    victim = None
    try:
        run.wait_for(lambda: len(run.nodes_of_started()) == 2)
        master = next(e["node"] for e in run.events() if e["event"] == "node_joined")
        victim = next(n for n in sorted(run.nodes_of_started()) if n != master)
        how(run, victim)
        out = run.wait()
        check_results(out, 40)
        assert [e["node"] for e in run.events("quarantined")] == [victim]
        lost = Counter(e["task"] for e in run.events() if e["event"] == "retrying"
                       and e["node"] == victim and "was lost" in (e.get("error") or ""))
        assert lost, "no task was running on the lost node"
        runs = run.executions()  # task ids are 1 + the app's index
        assert set(runs) == set(range(40))
        for index, count in runs.items():  # only attempts on the lost node ran again
            assert 1 <= count <= 1 + lost[index + 1], (index, count)
        done = [e["task"] for e in run.events() if e["event"] == "finished"]
        assert sorted(done) == list(range(1, 41))  # one result per task
        replace = [e for e in run.events("decision") if e["action"] == "grow"]
        assert any("replacing a lost node" in e["reason"] for e in replace), replace
        assert victim not in {e["node"] for e in run.events("joined")}
        # the replacement joined, or (testbed busy with other work) was cancelled at the end
        extension = run.extension_jobs()[0]
        assert any(e["job"] == extension for e in run.events("joined") + run.events("cancelled"))
        status = run.status(tmp_path)
        assert f"quarantine {victim}" in status, status
    finally:
        run.cleanup()
        if how is set_down and victim is not None:
            subprocess.run(["scontrol", "update", f"NodeName={victim}", "State=RESUME"],
                           env=env, capture_output=True, timeout=10)


def kill_agent(run: Run, node: str) -> None:
    os.kill(agent_pid(run.job_id, node), signal.SIGKILL)


def set_down(run: Run, node: str) -> None:
    subprocess.run(["scontrol", "update", f"NodeName={node}", "State=DOWN",
                    "Reason=hpcflow-elastic-test"], env=run.env, check=True, timeout=10)


def test_c1_a_killed_agent_is_survived_and_its_node_quarantined(testbed, env, tmp_path):
    lose_a_node(testbed, env, tmp_path, kill_agent)


def test_c2_a_node_set_down_is_survived_and_quarantined(testbed, env, tmp_path):
    lose_a_node(testbed, env, tmp_path, set_down)


def test_c3_an_extension_job_that_ends_early_is_survived(testbed, env, tmp_path):
    run = Run(testbed, env, tmp_path, "--nodes", "1", "--elastic", "1:2", "--idle-timeout",
              "2", str(BURST), "--", "40", "2", str(tmp_path / "marks"))
    try:
        run.wait_for(lambda: bool(run.events("joined")))
        victim = run.events("joined")[0]["node"]
        run.wait_for(lambda: victim in run.nodes_of_started())
        extension = run.extension_jobs()[0]
        subprocess.run(["scancel", extension], env=env, check=True, timeout=10)
        out = run.wait()
        check_results(out, 40)
        assert victim in {e["node"] for e in run.events("quarantined")}
        assert [e["node"] for e in run.events("released") if e["job"] == extension] == [victim]
        assert set(run.executions()) == set(range(40))
        done = [e["task"] for e in run.events() if e["event"] == "finished"]
        assert sorted(done) == list(range(1, 41))
        assert victim not in {e["node"] for e in run.events("joined")[1:]}
    finally:
        run.cleanup()


def test_d_an_unsatisfiable_grow_is_logged_and_retried_with_backoff(testbed, env, tmp_path):
    # The app asks for 8 more nodes (MAX 9) on a 4-node partition: sbatch refuses it, or
    # it pends and is cancelled after 3 s; the retry asks for half as many, which cannot
    # start while we hold a node. The burst runs on regardless.
    env = {**env, "HPCFLOW_ELASTIC_PENDING_TIMEOUT": "3"}
    run = Run(testbed, env, tmp_path, "--nodes", "1", "--elastic", "1:9", str(BURST), "--",
              "48", "1", str(tmp_path / "marks"), "ask8")
    try:
        out = run.wait()
        check_results(out, 48)
        assert "TARGET 9" in out
        failed = run.events("grow_failed")
        assert failed, run.events("decision")
        assert re.search(r"sbatch failed|pending after [0-9]+ s", failed[0]["reason"]), failed
        first = failed[0]
        attempts = [e for e in run.events() if e["event"] == "elastic"
                    and e["what"] in ("grow", "grow_failed") and e["t"] > first["t"]]
        assert attempts, "the grow was never retried"
        assert attempts[0]["t"] - first["t"] >= first["retry_in"] - 1.5
        assert attempts[0].get("nodes", 4) <= 4  # half of what failed
        backing = [e for e in run.events("decision") if "backing off" in e["reason"]]
        assert backing, run.events("decision")
        assert run.executions() == Counter(range(48))
        for job in run.extension_jobs():
            assert not run._queued(job), f"extension job {job} left behind"
    finally:
        run.cleanup()


def test_h_a_task_only_partition_big_offers_grows_an_extension_job_there(
        testbed, env, tmp_path):
    """The main job holds node1 of "debug"; a task needing "bigtool" (declared only for
    partition "big", node4) is accepted, grows a job in "big" and runs on node4."""
    config = Path(env["XDG_CONFIG_HOME"]) / "hpcflow" / "config.toml"
    config.write_text(config.read_text() + '\n[sites.testbed.sbatch_extra]\nnodelist = "node1"\n')
    run = Run(testbed, env, tmp_path, "--nodes", "1", "--elastic", "1:2", "--idle-timeout",
              "1", str(APPS / "elastic_partition.py"), "--", "8")
    try:
        out = run.wait()
        check_results(out, 8)
        assert "MAIN node1 BIG node4" in out, out
        assert "SHRUNK 1" in out, out
        grows = run.events("grow")
        assert len(grows) == 1 and "in partition big" in grows[0]["reason"], grows
        script = (run.run_dir / "elastic" / "extension-1.sbatch").read_text().splitlines()
        assert "#SBATCH --partition=big" in script and "#SBATCH --constraint=bigmem" in script
        assert {e["node"] for e in run.events("joined")} == {"node4"}
        assert {e["node"] for e in run.events("released")} == {"node4"}
        assert not run._queued(grows[0]["job"])
    finally:
        run.cleanup()
