"""``@on_failure(management=..., returns=...)``: RETRY, CANCEL_SUCCESSORS, FAIL, IGNORE."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import hpcflow


def on_failure(management: str = "RETRY", returns: Any = None,
               **defaults: Any) -> Callable[[Any], Any]:
    """Failure policy; ``returns`` is the value an ignored failure's future takes. Other
    keywords (defaults of file parameters) are not supported: an ignored FILE_OUT is empty."""
    return hpcflow.on_failure(management=management, returns=returns)
