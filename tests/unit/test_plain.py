"""runtime/plain.py: plain data marshalled, anything else pickled, and back."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from hpcflow.runtime import plain


def test_plain_values_are_marshalled_others_pickled_and_both_come_back() -> None:
    values = [(1.5, "started", (3, "n1", None, [b"x"], {"k": "v"}))]
    assert plain.dumps(values)[:1] == b"M" and plain.loads(plain.dumps(values)) == values
    other = [{"log": Path("/logs/a.out")}]
    assert plain.dumps(other)[:1] == b"P" and plain.loads(plain.dumps(other)) == other


@pytest.mark.parametrize("data", [b"M\x00junk", b"Pjunk", b""])
def test_damaged_data_raises(data: bytes) -> None:
    with pytest.raises((ValueError, EOFError, pickle.UnpicklingError)):
        plain.loads(data)
