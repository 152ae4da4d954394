"""Growth by merging nodes into the main job, where the site sets ``permit_job_expansion``.

Opt-in (``HPCFLOW_ELASTIC_EXPAND=1``): instead of an extension job, ``salloc --no-shell
--dependency=expand:MAIN`` gets the nodes, ``scontrol update`` hands them to the main job
(``NumNodes=0`` on the helper allocation, ``scancel`` it, ``NumNodes=ALL`` on the main
job), and a step of the main job (``srun --jobid=MAIN --overlap --nodelist=...``) starts
one joining agent per new node. The nodes are then released like any node of the main
job (``scontrol update JobId=MAIN NodeList=<kept>``). Most sites leave job expansion off;
extension jobs are the portable default.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from hpcflow.slurm.client import SlurmClient
from hpcflow.slurm.extension import ExtensionSettings, expand_argv, merged_agents_argv

IMMEDIATE_S = 10  # salloc gives up when the nodes are not free within this many seconds


class Expansion:
    """Merges nodes into the main job and runs the agent steps on them."""

    def __init__(self, client: SlurmClient, settings: ExtensionSettings, main_job: str,
                 run_dir: str, env: Mapping[str, str]) -> None:
        self.client, self.settings, self.main_job = client, settings, main_job
        self.run_dir, self.env = run_dir, dict(env)
        self.steps: dict[str, subprocess.Popen[bytes]] = {}

    def grow(self, count: int, exclude: Sequence[str], known: Sequence[str]
             ) -> tuple[str, list[str]]:
        """Merge ``count`` nodes and start their agents; the block id and the new nodes."""
        salloc = expand_argv(self.settings, nodes=count, main_job=self.main_job,
                             exclude=exclude, immediate=IMMEDIATE_S)
        block = self.client.expand(self.main_job, salloc, timeout=IMMEDIATE_S + 20.0)
        info = self.client.job_info(self.main_job)
        nodes = [n for n in (info.nodes if info else ()) if n not in known]
        if nodes:
            log = Path(self.run_dir) / "elastic" / f"merged-{block}.out"
            with open(log, "ab") as out:
                self.steps[block] = subprocess.Popen(
                    merged_agents_argv(self.settings, self.main_job, nodes, self.run_dir),
                    env={**self.env, "HPCFLOW_JOIN_BLOCK": block}, stdout=out,
                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True)
        return block, nodes

    def running(self, block: str) -> bool:
        step = self.steps.get(block)
        return step is not None and step.poll() is None

    def stop(self, block: str) -> None:
        """End the agents step of ``block`` (its agents were told to stop already)."""
        step = self.steps.get(block)
        if step is None or step.poll() is not None:
            return
        step.terminate()
        try:
            step.wait(timeout=5)
        except subprocess.TimeoutExpired:
            step.kill()
