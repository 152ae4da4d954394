"""``@binary``: hpcflow's launcher of the same name."""

from hpcflow.api.launchers import binary

__all__ = ["binary"]
