"""Elastic grows in the partition a waiting task needs: site ``[[partitions]]``, the
policy's choice of partition, the extension job's options, and acceptance at the call."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fake_slurm import FakeRunner, Result

from hpcflow import constraint, task
from hpcflow.config.partitions import Partition
from hpcflow.config.site import BUILTIN_DEFAULTS, resolve_site
from hpcflow.errors import ConfigError, UsageError
from hpcflow.runtime import context
from hpcflow.runtime.elastic import ElasticConfig, ElasticController
from hpcflow.runtime.elastic_io import memory_gb, partition_offers, settings_json
from hpcflow.runtime.master import Master
from hpcflow.scheduler.resources import NodeResources
from hpcflow.scheduler.scaling import (
    Action,
    NodeLoad,
    NodeShape,
    PartitionOffer,
    ScalingInput,
    ScalingPolicy,
    decide,
)
from hpcflow.slurm.client import SlurmClient
from hpcflow.slurm.extension import ExtensionSettings, extension_script

SITE = {
    "name": "t",
    "partition": "debug",
    "cores_per_node": 4,
    "mem_per_node": "4000M",
    "software": ["mpich"],
}
BIG = {"name": "big", "mem_per_node": "64G", "features": ["bigmem"], "software": ["bigtool"]}
GPU = {"name": "gpu", "cores_per_node": 8, "gpus_per_node": 2, "features": ["a100", "ib"]}


def site(*partitions: dict):
    return resolve_site(BUILTIN_DEFAULTS, {**SITE, "partitions": list(partitions)}, None, {})


# --------------------------------------------------------------------------- site config


def test_declared_partitions_take_unset_values_from_the_site():
    config = site(BIG, GPU)
    assert config.partitions == (
        Partition("big", 4, "64G", 0, ("bigmem",), ("bigtool",)),
        Partition("gpu", 8, "4000M", 2, ("a100", "ib"), ("mpich",)),
    )
    assert resolve_site(BUILTIN_DEFAULTS, SITE, None, {}).partitions == ()


@pytest.mark.parametrize(
    ("partitions", "message"),
    [
        (
            [{"name": "big", "cpus": 4}],
            "partitions[0]: unknown key 'cpus'; valid keys: "
            "cores_per_node, features, gpus_per_node, mem_per_node, name, software",
        ),
        ([{"cores_per_node": 4}], "partitions[0]: name must be a Slurm partition name"),
        ([{"name": "a b"}], "name must be a Slurm partition name"),
        ([BIG, BIG], "partitions[1]: partition 'big' is listed twice"),
        ([{"name": "big", "features": "bigmem"}], "features must be a list of Slurm node features"),
        ([{"name": "big", "features": ["a&b"]}], "features must be a list of Slurm node features"),
        (
            [{"name": "big", "cores_per_node": 0}],
            "partitions[0]: cores_per_node must be a positive",
        ),
        ([{"name": "big", "mem_per_node": "lots"}], "mem_per_node must be a size"),
        ({"name": "big"}, "partitions must be a list of tables"),
    ],
)
def test_bad_partitions_are_one_line_errors(partitions, message):
    with pytest.raises(
        ConfigError,
        match=".*" + message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\("),
    ) as err:
        site(*partitions) if isinstance(partitions, list) else resolve_site(
            BUILTIN_DEFAULTS, {**SITE, "partitions": partitions}, None, {}
        )
    assert "\n" not in str(err.value)


def test_the_main_partition_is_offered_first_then_the_declared_ones():
    settings = ExtensionSettings.from_json(json.loads(settings_json(site(BIG, GPU), "app")))
    offers = partition_offers(settings)
    assert offers == (
        PartitionOffer("debug", 4, pytest.approx(3.90625), 0, (), frozenset({"mpich"})),
        PartitionOffer("big", 4, 64.0, 0, ("bigmem",), frozenset({"bigtool"})),
        PartitionOffer("gpu", 8, pytest.approx(3.90625), 2, ("a100", "ib"), frozenset({"mpich"})),
    )
    assert memory_gb(None) == 0.0 and memory_gb("2T") == 2048.0


# --------------------------------------------------------------------------- policy

OFFERS = (
    PartitionOffer("debug", 4, 4.0, software=frozenset({"mpich"})),
    PartitionOffer("big", 4, 64.0, features=("bigmem",), software=frozenset({"bigtool"})),
    PartitionOffer("gpu", 8, 0.0, gpus=2, features=("a100", "ib")),
)
POLICY = ScalingPolicy(idle_timeout_s=10, startup_s=5, grow_margin_s=5, cooldown_s=5)


def _one_unplaceable(need: NodeShape, **fields: Any) -> ScalingInput:
    """The master's node alone, busy; one ready task it cannot place."""
    return ScalingInput(minimum=1, nodes=(NodeLoad("n1", 4, master=True),),
                        unplaceable=(need,), ready_tasks=1, offers=OFFERS, **fields)


@pytest.mark.parametrize(
    ("need", "partition", "constraint"),
    [
        (NodeShape(2, software=frozenset({"bigtool"})), "big", "bigmem"),
        (NodeShape(1, memory_gb=32.0), "big", "bigmem"),
        (NodeShape(1, gpus=1), "gpu", "a100&ib"),
        (NodeShape(6), "gpu", "a100&ib"),  # more cores than debug's and big's nodes
        (NodeShape(2, software=frozenset({"mpich"})), "debug", None),  # the main one first
        (NodeShape(16), None, None),  # none fits: the task's shape in the main job's partition
        (NodeShape(1, gpus=1, software=frozenset({"bigtool"})), None, None),
    ],
)
def test_an_unplaceable_task_grows_in_the_first_partition_that_offers_what_it_needs(
    need, partition, constraint
):
    inp = _one_unplaceable(need, maximum=3, default_shape=NodeShape(4, partition="debug"))
    decision = decide(inp, POLICY)
    assert decision.action is Action.GROW and decision.count == 1
    assert decision.shape is not None
    assert (decision.shape.partition, decision.shape.constraint) == (partition, constraint)
    assert decision.shape.cores == need.cores and decision.shape.gpus == need.gpus
    assert (f"in partition {partition}" in decision.reason) == (partition is not None)


# --------------------------------------------------------------------------- extension job


def test_an_extension_job_in_a_declared_partition_asks_for_its_nodes():
    settings = ExtensionSettings.from_json(json.loads(settings_json(site(BIG, GPU), "app")))
    assert settings.in_partition("debug") is settings
    assert settings.in_partition(None) is settings
    big = settings.in_partition("big")
    script = extension_script(
        big, nodes=1, seconds=120, run_dir="/r", constraint="bigmem", partition="big"
    ).splitlines()
    for line in (
        "#SBATCH --partition=big",
        "#SBATCH --constraint=bigmem",
        "#SBATCH --mem=64G",
        "#SBATCH --cpus-per-task=4",
        "export HPCFLOW_SOFTWARE=bigtool",
    ):
        assert line in script, line
    gpu = extension_script(
        settings.in_partition("gpu").at_least(8, 1),
        nodes=1,
        seconds=120,
        run_dir="/r",
        constraint="a100&ib",
        partition="gpu",
    )
    assert "#SBATCH --gpus-per-node=2" in gpu and "#SBATCH --cpus-per-task=8" in gpu
    assert "#SBATCH --constraint='a100&ib'" in gpu
    assert "HPCFLOW_SOFTWARE=mpich" in gpu


# --------------------------------------------------------------------------- the runtime


class Agent:
    def __init__(self, name: str) -> None:
        self.resources = NodeResources(name, 4, 8.0, software=frozenset({"mpich"}))

    def dispatch(self, assignment) -> None:
        raise AssertionError("nothing may run on this node")

    def kill(self, task_id, reason) -> None:
        pass

    def shutdown(self) -> None:
        pass


@constraint(app_software="bigtool")
@task(returns=1)
def _big(x):
    return x


@constraint(app_software="nowhere")
@task(returns=1)
def _nowhere(x):
    return x


def elastic_master(tmp_path: Path, *partitions: dict):
    master = Master()
    master.add_agent(Agent("n1"))
    runner = FakeRunner(
        {"sbatch": Result(0, "200\n"), "squeue": Result(0, ""), "sinfo": Result(0, "n1|mixed\n")}
    )
    settings = ExtensionSettings.from_json(json.loads(settings_json(site(*partitions), "app")))
    config = ElasticConfig(
        minimum=1,
        maximum=2,
        job_id="100",
        run_dir=str(tmp_path),
        master_node="n1",
        main_nodes=("n1",),
        settings=settings,
        policy=POLICY,
        pending_timeout=10,
    )
    master.elastic = ElasticController(master, config, SlurmClient(runner), clock=lambda: 0.0)
    return SimpleNamespace(master=master, runner=runner)


def test_a_task_only_a_declared_partition_offers_waits_for_a_grow_there(tmp_path):
    world = elastic_master(tmp_path, BIG)
    with context.installed(world.master):
        _big(1)  # accepted: partition big offers bigtool
        with pytest.raises(UsageError, match="needs software nowhere"):
            _nowhere(1)
    decision = world.master.elastic.tick()
    assert decision.action is Action.GROW and decision.shape.partition == "big"
    sbatch = [argv for argv in world.runner.calls if argv[0] == "sbatch"]
    assert len(sbatch) == 1
    script = Path(sbatch[0][-1]).read_text().splitlines()
    assert "#SBATCH --partition=big" in script and "#SBATCH --constraint=bigmem" in script
    assert "export HPCFLOW_SOFTWARE=bigtool" in script


def test_without_a_partition_offering_it_the_call_is_refused(tmp_path):
    for master in (elastic_master(tmp_path).master, Master()):
        if master.elastic is None:
            master.add_agent(Agent("n1"))
        with (
            context.installed(master),
            pytest.raises(UsageError, match="needs software bigtool, which no node has"),
        ):
            _big(1)


def test_a_waiting_task_asks_for_one_node_not_one_per_tick():
    need = NodeShape(1, software=frozenset({"bigtool"}))
    inp = _one_unplaceable(need, maximum=8, pending_nodes=1)
    assert decide(inp, POLICY).action is Action.NOTHING
    two = decide(replace(inp, unplaceable=(need, need)), POLICY)
    assert two.action is Action.GROW and two.count == 1 and two.shape.partition == "big"
