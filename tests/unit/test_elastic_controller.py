"""The elastic controller against a real master with stand-in agents and a fake Slurm."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest
from fake_slurm import FakeRunner, Result

from hpcflow import constraint, task
from hpcflow.agents.join import extension_rank
from hpcflow.runtime import context
from hpcflow.runtime.elastic import ElasticConfig, ElasticController
from hpcflow.runtime.elastic_io import sample
from hpcflow.runtime.events import EventLog
from hpcflow.runtime.master import Master
from hpcflow.runtime.report import FunctionStats
from hpcflow.scheduler.resources import NodeResources
from hpcflow.scheduler.scaling import Action, NodeShape, ScalingPolicy
from hpcflow.slurm.client import SlurmClient
from hpcflow.slurm.extension import ExtensionSettings

POLICY = ScalingPolicy(idle_timeout_s=2, startup_s=1, grow_margin_s=1, cooldown_s=0,
                       backoff_s=4, backoff_max_s=60)


class Agent:
    def __init__(self, name: str) -> None:
        self.resources = NodeResources(name, 4, 8.0)
        self.stopped = False

    def dispatch(self, assignment) -> None:
        raise AssertionError("no task is submitted in these tests")

    def kill(self, task_id, reason) -> None:
        pass

    def shutdown(self) -> None:
        self.stopped = True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Recorder(EventLog):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict] = []

    def emit(self, event: str, **fields) -> None:
        self.rows.append({"event": event, **fields})

    def elastic(self, what: str) -> list[dict]:
        return [r for r in self.rows if r["event"] == "elastic" and r["what"] == what]


def squeue_row(job: str, state: str, reason: str = "None") -> str:
    return f"{job}|{state}|1|debug||{reason}|app-ext\n"


@pytest.fixture
def world(tmp_path):
    events = Recorder()
    master = Master(events=events)
    agents = {name: Agent(name) for name in ("n1", "n2")}
    for agent in agents.values():
        master.add_agent(agent)
    runner = FakeRunner({"sbatch": Result(0, "200\n"), "scancel": Result(),
                         "scontrol": Result(), "squeue": Result(0, ""),
                         "sinfo": Result(0, "n1|mixed\nn2|allocated\n")})
    clock = Clock()
    byes: set[str] = set()
    config = ElasticConfig(minimum=1, maximum=3, job_id="100", run_dir=str(tmp_path),
                           master_node="n1", main_nodes=("n1", "n2"),
                           settings=ExtensionSettings("app", partition="debug",
                                                      cpus_per_node=4),
                           policy=POLICY, pending_timeout=10)
    controller = ElasticController(master, config, SlurmClient(runner), byes=lambda: byes,
                                   clock=clock)
    return SimpleNamespace(controller=controller, master=master, agents=agents,
                           runner=runner, clock=clock, events=events, byes=byes)


def commands(runner: FakeRunner, name: str) -> list[list[str]]:
    return [argv for argv in runner.calls if argv[0] == name]


def test_an_idle_node_is_drained_stopped_then_given_back(world):
    controller = world.controller
    master = world.master
    agents = world.agents
    runner = world.runner
    clock = world.clock
    byes = world.byes
    assert controller.tick().action is Action.NOTHING  # idle clocks start
    clock.now += 3
    decision = controller.tick()
    assert decision.action is Action.RELEASE and decision.release == ("n2",)
    assert master._ledgers["n2"].draining and not agents["n1"].stopped
    clock.now += 1
    byes.add("n2")
    controller.tick()
    assert agents["n2"].stopped and not master._ledgers["n2"].alive
    assert commands(runner, "scontrol") == [["scontrol", "update", "JobId=100",
                                             "NodeList=n1"]]
    assert controller.number() == 1
    clock.now += 10
    assert controller.tick().action is Action.NOTHING  # never the master's node


def test_a_failed_grow_backs_off_then_asks_for_half(world):
    controller = world.controller
    runner = world.runner
    clock = world.clock
    events = world.events
    runner.answers["sbatch"] = Result(1, "", "sbatch: error: Node count specification invalid")
    assert controller.request(1) == 3  # two held + one more
    controller.tick()
    assert len(commands(runner, "sbatch")) == 1
    failed = events.elastic("grow_failed")
    assert "Node count specification invalid" in failed[0]["reason"]
    assert failed[0]["retry_in"] == 4
    clock.now += 2
    controller.tick()
    assert len(commands(runner, "sbatch")) == 1  # backing off
    runner.answers["sbatch"] = Result(0, "200\n")
    clock.now += 3
    controller.tick()
    assert len(commands(runner, "sbatch")) == 2
    assert events.elastic("grow")[0]["nodes"] == 1


def test_a_grow_pending_too_long_is_cancelled_and_counts_as_failed(world):
    controller = world.controller
    runner = world.runner
    clock = world.clock
    events = world.events
    controller.request(1)
    controller.tick()
    assert events.elastic("grow")[0]["job"] == "200"
    runner.answers["squeue"] = Result(0, squeue_row("200", "PENDING", "Resources"))
    clock.now += 11
    controller.tick()
    assert ["scancel", "200"] in runner.calls
    assert "pending after 11 s (Resources); cancelled" in \
        events.elastic("grow_failed")[0]["reason"]


def test_an_extension_job_running_without_all_its_agents_stops_being_waited_for(world):
    controller, runner, clock, events = (world.controller, world.runner, world.clock,
                                         world.events)
    controller.request(1)  # target 3: one more node
    controller.tick()
    runner.answers["squeue"] = Result(0, squeue_row("200", "RUNNING"))
    clock.now += 11
    controller.tick()
    assert "RUNNING, agents missing after 11 s" in events.elastic("grow_failed")[0]["reason"]
    assert controller.blocks["200"].waiting == 0


def test_extension_agents_join_and_every_extension_job_is_cancelled_at_the_end(world):
    controller = world.controller
    runner = world.runner
    events = world.events
    controller.request(2)
    controller.tick()
    assert controller.admit(extension_rank("200", 0), NodeResources("n3", 4, 8.0))
    assert not controller.admit(extension_rank("999", 0), NodeResources("n4", 4, 8.0))
    controller.tick()  # books the join
    assert events.elastic("joined")[0]["node"] == "n3"
    controller.cancel_all()
    assert ["scancel", "200"] in runner.calls
    assert events.elastic("cancelled")[0]["job"] == "200"


def test_a_lost_node_is_quarantined_released_and_excluded_from_later_grows(world, tmp_path):
    controller = world.controller
    master = world.master
    runner = world.runner
    events = world.events
    master.on_agent_lost("n2", "agent silent")
    controller.request(1)
    controller.tick()
    assert controller.quarantined == {"n2"}
    assert ["scontrol", "update", "JobId=100", "NodeList=n1"] in runner.calls
    script = (tmp_path / "elastic" / "extension-1.sbatch").read_text()
    assert "#SBATCH --exclude=n2" in script
    assert not controller.admit(extension_rank("200", 0), NodeResources("n2", 4, 8.0))
    assert events.elastic("refused")


def test_a_node_slurm_reports_down_is_lost_even_if_its_agent_answers(world):
    controller, master, agents, runner = (world.controller, world.master, world.agents,
                                          world.runner)
    runner.answers["sinfo"] = Result(0, "n1|mixed\nn2|down*\n")
    controller.tick()
    assert ["sinfo", "-h", "-N", "-n", "n1,n2", "-o", "%N|%T"] in runner.calls
    assert not master._ledgers["n2"].alive and agents["n2"].stopped
    assert controller.quarantined == {"n2"}
    assert world.events.elastic("quarantined")[0]["node"] == "n2"


def test_a_node_an_administrator_drains_is_released_gently(world):
    controller, master, runner = world.controller, world.master, world.runner
    runner.answers["sinfo"] = Result(0, "n1|mixed\nn2|draining\n")
    controller.tick()
    assert master._ledgers["n2"].draining  # nothing runs there: stopped at once
    assert world.agents["n2"].stopped and not master._ledgers["n2"].alive
    world.clock.now += 1
    world.byes.add("n2")
    controller.tick()
    assert ["scontrol", "update", "JobId=100", "NodeList=n1"] in runner.calls
    assert not controller.quarantined


def test_a_join_ends_the_backoff(world):
    controller, runner, clock = world.controller, world.runner, world.clock
    runner.answers["sbatch"] = Result(1, "", "sbatch: error: QOSMaxNodePerUserLimit")
    controller.request(1)
    controller.tick()
    runner.answers["sbatch"] = Result(0, "200\n")
    clock.now += 5
    controller.tick()
    assert controller.admit(extension_rank("200", 0), NodeResources("n3", 4, 8.0))
    controller.tick()
    assert controller._failed == 0 and controller._grow_cap is None


@task(returns=1)
def _short(x):
    return x


@constraint(computing_units=8)
@task(returns=1)
def _wide(x):
    return x


def test_demand_is_weighed_by_measured_means_and_names_unplaceable_shapes():
    master = Master()
    for name in ("n1", "n2"):
        master.add_agent(Agent(name))
        master._ledgers[name].free_cores = 0  # busy: calls stay ready
    with context.installed(master):
        for i in range(3):
            _short(i)
    master.stats["_short"] = FunctionStats(count=2, total=5.0)
    with master._cond:
        demand = sample(master, unknown_s=1.0)
        assert demand.ready_tasks == 3 and demand.ready_core_s == pytest.approx(7.5)
        assert demand.unplaceable == () and demand.free_cores == 0
        master._ready[999] = None  # a call no live node can run (its node was lost)
        master.records[999] = SimpleNamespace(definition=_wide)
        demand = sample(master, unknown_s=1.0)
    assert demand.ready_core_s == pytest.approx(7.5 + 8.0)
    assert demand.unplaceable == (NodeShape(8),)


class FakeExpansion:
    def __init__(self) -> None:
        self.grown: list[int] = []
        self.stopped: list[str] = []

    def grow(self, count, exclude, known):
        self.grown.append(count)
        return "300", ["n3"]

    def running(self, block):
        return block not in self.stopped

    def stop(self, block):
        self.stopped.append(block)


def test_job_expansion_merges_nodes_into_the_main_job_and_releases_them_from_it(world):
    controller, runner, clock, byes = world.controller, world.runner, world.clock, world.byes
    expansion = FakeExpansion()
    controller.config = dataclasses.replace(controller.config, expansion=expansion)
    controller.request(1)
    controller.tick()
    assert expansion.grown == [1] and not commands(runner, "sbatch")
    assert world.events.elastic("grow")[0]["merged"] is True
    assert controller.admit(extension_rank("300", 0), NodeResources("n3", 4, 8.0))
    world.master.add_agent(Agent("n3"))
    controller.tick()
    controller.free(2)
    clock.now += 1
    controller.tick()
    byes.update({"n2", "n3"})
    clock.now += 1
    controller.tick()
    resizes = [argv for argv in commands(runner, "scontrol")]
    assert ["scontrol", "update", "JobId=100", "NodeList=n1"] in resizes
    assert not commands(runner, "scancel")
    controller.cancel_all()
    assert expansion.stopped == ["300"]


def test_an_extension_jobs_batch_host_is_held_until_the_rest_of_it_goes(world):
    controller, runner = world.controller, world.runner
    controller.request(2)
    controller.tick()
    for name in ("n3", "n4"):
        assert controller.admit(extension_rank("200", int(name[1])), NodeResources(name, 4, 8))
        world.master.add_agent(Agent(name))
    controller.tick()
    runner.answers["scontrol"] = Result(1, "", "Invalid node name specified for job 200")
    controller._give_back(["n3"], "released")
    assert world.events.elastic("held") and not world.events.elastic("released")
    controller._give_back(["n4"], "released")
    assert ["scancel", "200"] in runner.calls
    assert [e["node"] for e in world.events.elastic("released")] == ["n3", "n4"]
