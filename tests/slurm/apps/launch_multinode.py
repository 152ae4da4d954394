"""A @multinode task owns 2 whole nodes; it starts one process per node on them with srun."""
import json
import os
import subprocess

from hpcflow import multinode, task, wait_on


@multinode(computing_nodes=2, processes_per_node=1)
@task(returns=1)
def owner():
    hosts = subprocess.run(["srun", f"--nodelist={os.environ['HPCFLOW_NODES']}",
                            "--nodes=2", "--ntasks=2", "hostname"],
                           capture_output=True, text=True, check=True).stdout.split()
    env = {k: v for k, v in os.environ.items() if k.startswith(("HPCFLOW_", "SLURM_NNODES",
                                                                "SLURM_NODELIST"))}
    return {"env": env, "srun_hosts": sorted(hosts), "me": os.environ["SLURMD_NODENAME"]}


print("MULTINODE " + json.dumps(wait_on(owner())))
