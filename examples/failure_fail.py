"""on_failure="FAIL": one failing task stops the whole application.

    hpcflow run examples/failure_fail.py -- OUT_DIR [--slow SECONDS]

``explode`` fails (no retry under this policy). At that moment the runtime cancels
every task that has not started, kills the running ones, and the next synchronisation
(here ``barrier()``) raises TaskFailed, which the app does not catch: ``hpcflow run``
prints the task's traceback and ``hpcflow: error: task explode #2 failed ...`` on stderr
and exits with status 1. ``after`` (a successor writing OUT_DIR/after.txt, FILE_OUT) and
``slow`` (independent, but still running or waiting) never complete, so neither
OUT_DIR/after.txt nor OUT_DIR/slow.txt exists, and no RESULT line is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from hpcflow import FILE_OUT, barrier, task


@task(returns=1, on_failure="FAIL")
def explode(x):
    raise RuntimeError(f"explode refuses {x}")


@task(path=FILE_OUT)
def after(value, path):
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"{value}\n")


@task(path=FILE_OUT)
def slow(seconds, path):
    time.sleep(seconds)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("slow task finished\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", help="where the (never written) outputs would go")
    parser.add_argument("--slow", type=float, default=30.0,
                        help="how long the independent task runs")
    args = parser.parse_args(argv)

    os.makedirs(args.out_dir, exist_ok=True)
    slow(args.slow, os.path.join(args.out_dir, "slow.txt"))
    after(explode(42), os.path.join(args.out_dir, "after.txt"))
    barrier()  # raises TaskFailed: explode failed and the application stops
    print("RESULT " + json.dumps({"unreachable": True}))


if __name__ == "__main__":
    main()
