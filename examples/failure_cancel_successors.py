"""on_failure="CANCEL_SUCCESSORS": a failing task cancels the tasks that depend on it
(directly or not); independent tasks still run, and the application carries on.

    hpcflow run examples/failure_cancel_successors.py -- OUT_DIR [--independent N]

``broken`` fails (no retry under this policy); ``double`` reads its result, and
``write_report`` reads that and would write OUT_DIR/report.txt (FILE_OUT): both are
cancelled, so the report is never written; so is a ``double`` submitted after the
failure is known. N ``square`` tasks do not depend on
``broken`` and complete. ``wait_on`` of a cancelled task raises TaskFailed (with
``cancelled`` set); the app catches it and prints CANCELLED. The last line on stdout is
``RESULT {"broken": "FAILED", "double": "CANCELLED", "report": "CANCELLED",
"late": "CANCELLED", "independent": [...], "report_exists": false}``; the exit status is 0.
"""

from __future__ import annotations

import argparse
import json
import os

from hpcflow import FILE_OUT, TaskFailed, task, wait_on


@task(returns=1, on_failure="CANCEL_SUCCESSORS")
def broken(x):
    raise ValueError(f"broken cannot handle {x}")


@task(returns=1)
def double(y):
    return 2 * y


@task(returns=1, path=FILE_OUT)
def write_report(value, path):
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"{value}\n")
    return value


@task(returns=1)
def square(i):
    return i * i


def outcome(future) -> object:
    """The value, or FAILED / CANCELLED (printed with the reason)."""
    try:
        return wait_on(future)
    except TaskFailed as exc:
        state = "CANCELLED" if exc.cancelled else "FAILED"
        print(f"{state}: {exc}")
        return state


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", help="where the (never written) report would go")
    parser.add_argument("--independent", type=int, default=4)
    args = parser.parse_args(argv)

    os.makedirs(args.out_dir, exist_ok=True)
    report = os.path.join(args.out_dir, "report.txt")
    failed = broken(21)
    doubled = double(failed)
    reported = write_report(doubled, report)
    independent = [square(i) for i in range(args.independent)]

    result = {"broken": outcome(failed), "double": outcome(doubled),
              "report": outcome(reported)}
    # A successor submitted after the failure is known is cancelled at once, too.
    result["late"] = outcome(double(failed))
    result["independent"] = wait_on(independent)
    result["report_exists"] = os.path.exists(report)
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
