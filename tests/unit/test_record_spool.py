"""The spool of retired tasks' rows: batches come back in order, whatever their values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hpcflow.runtime import retire
from hpcflow.runtime.retire import RecordSpool


def _row(task: int, launch: Any = None) -> tuple[Any, ...]:
    return (task, "f", "done", "n1", "h", 7, 1, 0, 1.0, 2.0, 3.0, None, ["n1"], launch)


def test_rows_come_back_in_order_plain_or_not(tmp_path: Path) -> None:
    spool = RecordSpool(str(tmp_path / retire.SPOOL_NAME))
    rows = [_row(i) for i in range(2 * retire._SPOOL_BATCH)]
    rows[700] = _row(700, {"log": Path("/logs/x.out")})  # not a plain value: pickled
    for row in rows:
        spool.add(row)
    back = list(spool.rows())
    assert [r["id"] for r in back] == list(range(len(rows))) and spool.count == len(rows)
    assert back[700]["launch"] == {"log": Path("/logs/x.out")}
    assert back[3] == dict(zip(retire._ROW_KEYS, _row(3), strict=True))
    spool.remove()
    assert list(spool.rows()) == [] and not (tmp_path / retire.SPOOL_NAME).exists()
