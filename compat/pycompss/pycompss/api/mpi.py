"""``@mpi``: hpcflow's launcher of the same name."""

from hpcflow.api.launchers import mpi

__all__ = ["mpi"]
