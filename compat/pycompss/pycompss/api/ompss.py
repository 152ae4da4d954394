"""``@ompss``: hpcflow's launcher of the same name."""

from hpcflow.api.launchers import ompss

__all__ = ["ompss"]
