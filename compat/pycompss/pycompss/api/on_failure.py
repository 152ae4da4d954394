"""``@on_failure(management=..., returns=..., <file parameter>=default)``: RETRY,
CANCEL_SUCCESSORS, FAIL, IGNORE."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import hpcflow


def on_failure(management: str = "RETRY", returns: Any = None,
               **defaults: Any) -> Callable[[Any], Any]:
    """Failure policy; under IGNORE ``returns`` is the value the failed task's future takes
    and each ``<file parameter>=path`` is copied into place of that output."""
    return hpcflow.on_failure(management=management, returns=returns, **defaults)
