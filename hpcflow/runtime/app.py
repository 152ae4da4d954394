"""Run a user's script under a runtime and turn its outcome into an exit status."""

from __future__ import annotations

import os
import runpy
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from hpcflow.errors import HpcflowError, TaskFailed, UsageError, WallClockLimit


@dataclass(frozen=True)
class AppOutcome:
    """How the app ended: the exit status and a one-line message (or none)."""

    status: int
    message: str = ""
    detail: str = ""


def check_app(path: str) -> str:
    """The app's absolute path, after checking it exists and compiles (one-line errors)."""
    if not os.path.exists(path):
        raise UsageError(f"app file {path!r} not found")
    if not os.path.isfile(path):
        raise UsageError(f"app {path!r} is not a file")
    try:
        with open(path, "rb") as fh:
            source = fh.read()
        compile(source, path, "exec")
    except SyntaxError as exc:
        raise UsageError(f"syntax error in {path} line {exc.lineno}: {exc.msg}") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read app {path}: {exc}") from None
    return os.path.abspath(path)


def run_app(path: str, args: Sequence[str]) -> AppOutcome:
    """Execute ``path`` as ``__main__`` with ``args``; never lets an exception escape."""
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    sys.argv = [path, *args]
    sys.path.insert(0, os.path.dirname(path))
    try:
        runpy.run_path(path, run_name="__main__")
    except SystemExit as exc:
        code = exc.code
        status = code if isinstance(code, int) else (0 if code is None else 1)
        return AppOutcome(status, "" if code is None or isinstance(code, int) else str(code))
    except TaskFailed as exc:
        return AppOutcome(1, str(exc), exc.remote_traceback)
    except HpcflowError as exc:
        return AppOutcome(2, str(exc))
    except KeyboardInterrupt:
        return AppOutcome(130, "interrupted")
    except WallClockLimit as exc:
        return AppOutcome(124, str(exc))
    except BaseException as exc:
        return AppOutcome(1, f"the app raised {type(exc).__name__}: {exc}", _user_traceback(exc))
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
    return AppOutcome(0)


def _user_traceback(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    user = [f for f in frames if "runpy" not in f.filename and "/hpcflow/" not in f.filename]
    lines = traceback.format_list(user or frames)
    return "Traceback (most recent call last):\n" + "".join(lines) + \
        "".join(traceback.format_exception_only(type(exc), exc))


def report(outcome: AppOutcome, stream: TextIO = sys.stderr) -> None:
    """Print the outcome's message (one line) and its detail, if any."""
    if outcome.detail:
        stream.write(outcome.detail.rstrip() + "\n")
    if outcome.message:
        stream.write(f"hpcflow: error: {outcome.message}\n")
