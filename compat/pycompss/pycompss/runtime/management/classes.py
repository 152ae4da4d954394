"""``Future``: the class of the placeholders a task call returns."""

from hpcflow.runtime.futures import Future

__all__ = ["Future"]
