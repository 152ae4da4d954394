"""on_failure="IGNORE": a failed task counts as done with default results.

    hpcflow run examples/failure_ignore.py -- OUT_DIR [--rows R] [--capacity C]

``produce`` writes C of the R rows of OUT_DIR/data.txt (FILE_OUT) and then fails. Under IGNORE
(declared with ``@on_failure(management="IGNORE", returns=-1)``) it is not retried;
its half-written private file is discarded and OUT_DIR/data.txt is put in place
*empty*; its return value is the declared default, -1; and its successor ``consume``
runs as usual, reading the empty file. The last line on stdout is
``RESULT {"value": -1, "consumer": {"size": 0, "value": -1}, "file_size": 0}``; the
exit status is 0. (With C >= R nothing fails: the file has R rows and the value is R.)
"""

from __future__ import annotations

import argparse
import json
import os

from hpcflow import FILE_IN, FILE_OUT, on_failure, task, wait_on

DEFAULT = -1


@on_failure(management="IGNORE", returns=DEFAULT)
@task(returns=1, path=FILE_OUT)
def produce(path, rows, capacity):
    """Write ``rows`` rows; a (simulated) disk holds only ``capacity`` of them."""
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(rows):
            if i == capacity:
                raise OSError(f"disk full after {capacity} of {rows} rows (simulated)")
            fh.write(f"row {i}\n")
    return rows


@task(returns=1, path=FILE_IN)
def consume(path, value):
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    return {"size": len(text), "value": value}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", help="where data.txt is written")
    parser.add_argument("--rows", type=int, default=10)
    parser.add_argument("--capacity", type=int, default=5,
                        help="rows the simulated disk holds (>= ROWS: no failure)")
    args = parser.parse_args(argv)

    os.makedirs(args.out_dir, exist_ok=True)
    data = os.path.join(args.out_dir, "data.txt")
    value = produce(data, args.rows, args.capacity)
    consumer = consume(data, value)
    value, consumer = wait_on(value, consumer)
    size = os.path.getsize(data)
    print(f"produce returned {value}; consume saw {consumer}; {data} has {size} bytes")
    print("RESULT " + json.dumps({"value": value, "consumer": consumer, "file_size": size}))


if __name__ == "__main__":
    main()
