"""``@implement(source_class=module, method=name)``: another version of a task; the
scheduler picks the one the free resources fit."""

from hpcflow import implement

__all__ = ["implement"]
