"""Making a distributed session elastic: the join file, the controller, and its end."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from hpcflow.agents.join import JoinInfo, elastic_dir, write_join_info
from hpcflow.agents.mpi import node_name
from hpcflow.errors import HpcflowError
from hpcflow.runtime.elastic import ElasticController
from hpcflow.runtime.elastic_io import (
    ElasticConfig,
    elastic_range,
    extension_settings,
    pending_timeout,
    policy_from_env,
)
from hpcflow.runtime.expansion import Expansion
from hpcflow.slurm.allocation import Allocation
from hpcflow.slurm.client import SlurmClient, cwd_runner

#: Variables of the main job's step that must not leak into an extension job's sbatch and
#: srun (the user's SBATCH_* defaults stay: the main job was submitted with them too).
_JOB_VARIABLES = ("SLURM_", "SRUN_", "SALLOC_", "PMI_", "PMIX_", "OMPI_COMM_")


def make_elastic(session: Any, agents: Any, hub: Any, run_dir: str, app_dir: str,
                 env: Mapping[str, str]) -> ElasticController:
    """Make the distributed ``session`` elastic: write the join file, start the controller,
    and stop it (cancelling every extension job) when the session closes."""
    span = elastic_range(env)
    allocation = Allocation.from_env(env)
    if span is None or allocation is None or not hasattr(hub, "authkey"):
        raise HpcflowError("an elastic run needs HPCFLOW_ELASTIC, a Slurm job and the TCP "
                           "transport (HPCFLOW_TRANSPORT=tcp)")
    assert hub.address is not None
    settings = extension_settings(run_dir, env, sys.executable)
    clean = {k: v for k, v in env.items()
             if k == "SLURM_CONF" or not k.startswith(_JOB_VARIABLES)}
    client = SlurmClient(runner=cwd_runner(str(elastic_dir(run_dir)), clean), timeout=20.0)
    expansion = None
    if env.get("HPCFLOW_ELASTIC_EXPAND") == "1":  # the site permits job expansion
        expansion = Expansion(client, settings, allocation.job_id, run_dir, clean)
    config = ElasticConfig(
        minimum=span[0], maximum=span[1], job_id=allocation.job_id, run_dir=run_dir,
        master_node=node_name(dict(env)), main_nodes=allocation.nodelist, settings=settings,
        policy=policy_from_env(env), pending_timeout=pending_timeout(env),
        expansion=expansion)
    write_join_info(run_dir, JoinInfo(hub.address[0], hub.address[1], hub.authkey, app_dir))
    controller = ElasticController(session.master, config, client, byes=lambda: {
        agents.names[r] for r in set(agents.byes) if r in agents.names})
    agents.admit = controller.admit
    session.master.elastic = controller
    session.on_close[:0] = [controller.stop]
    session.on_close.insert(len(session.on_close) - 1, controller.cancel_all)
    return controller.start()

