"""``@multinode``: hpcflow's launcher of the same name."""

from hpcflow.api.launchers import multinode

__all__ = ["multinode"]
