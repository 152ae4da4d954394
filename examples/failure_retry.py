"""on_failure="RETRY" (the default): a flaky task fails on its first attempt(s) and
succeeds when the runtime retries it (``retries=2``: up to 3 attempts in all).

    hpcflow run examples/failure_retry.py -- MARKER_DIR [--fail-times N]

Every attempt leaves a marker file ``attempt-<n>`` in MARKER_DIR, so attempts are counted
across task processes; the first N attempts raise. ``flaky`` also appends to its
FILE_OUT MARKER_DIR/flaky.out: a failed attempt's private output is discarded, so the
file ends with the lines of the successful attempt only. With N <= 2 the app prints
``RESULT {"value": ..., "attempts": N + 1}``; with N > 2 the retries run out, the
application stops like under on_failure="FAIL" and exits non-zero.
(Under plain ``python`` tasks run in place without retries: the first failure raises.)
"""

from __future__ import annotations

import argparse
import json
import os

from hpcflow import FILE_OUT, task, wait_on


def record_attempt(marker_dir: str) -> int:
    """Create the next ``attempt-<n>`` marker atomically; return n (1-based)."""
    n = 1
    while True:
        try:
            fd = os.open(os.path.join(marker_dir, f"attempt-{n}"),
                         os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            n += 1
            continue
        os.write(fd, f"pid {os.getpid()}\n".encode())
        os.close(fd)
        return n


def attempts_made(marker_dir: str) -> int:
    return sum(1 for name in os.listdir(marker_dir) if name.startswith("attempt-"))


@task(returns=1, out=FILE_OUT, on_failure="RETRY", retries=2)  # the defaults, spelled out
def flaky(marker_dir, fail_times, x, out):
    attempt = record_attempt(marker_dir)
    with open(out, "a", encoding="utf-8") as fh:  # each attempt starts from a fresh file
        fh.write(f"attempt {attempt} started\n")
        if attempt <= fail_times:
            raise RuntimeError(f"flaky failure on attempt {attempt}")
        fh.write(f"attempt {attempt} succeeded: {x * x}\n")
    return x * x


@task(returns=1)
def add_one(y):
    return y + 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("marker_dir", help="directory for the attempt markers (created)")
    parser.add_argument("--fail-times", type=int, default=1,
                        help="how many attempts fail before one succeeds")
    parser.add_argument("--x", type=int, default=7)
    args = parser.parse_args(argv)

    os.makedirs(args.marker_dir, exist_ok=True)
    out = os.path.join(args.marker_dir, "flaky.out")
    value = flaky(args.marker_dir, args.fail_times, args.x, out)
    successor = add_one(value)
    value, after = wait_on(value, successor)
    print(f"flaky({args.x}) = {value} after {attempts_made(args.marker_dir)} attempt(s)")
    with open(out, encoding="utf-8") as fh:
        output = fh.read().splitlines()
    print("RESULT " + json.dumps({"value": value, "successor": after,
                                  "attempts": attempts_made(args.marker_dir),
                                  "output": output}))


if __name__ == "__main__":
    main()
