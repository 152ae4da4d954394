"""Data for the master's helper processes and spool files, to bytes and back (pure).

marshal when every value is of a built-in type (it costs half of pickle), pickle
otherwise; the first byte says which. marshal needs the same Python at both ends: the
master and the helper processes it starts (``sys.executable``), or the master alone.
"""

from __future__ import annotations

import marshal
import pickle
from typing import Any


def dumps(obj: Any) -> bytes:
    """``obj`` as bytes (pickle's errors, if it does not pickle either)."""
    try:
        return b"M" + marshal.dumps(obj)
    except ValueError:  # a value of another type
        return b"P" + pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def loads(data: bytes) -> Any:
    """What :func:`dumps` made ``data`` of (ValueError, EOFError or pickle's errors if
    ``data`` is damaged)."""
    body = memoryview(data)[1:]
    return marshal.loads(body) if data[:1] == b"M" else pickle.loads(body)
