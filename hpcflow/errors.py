"""Errors shared by every layer; this module imports nothing from hpcflow."""

from __future__ import annotations


class HpcflowError(Exception):
    """Base of every error hpcflow raises on purpose; its message is one readable line."""


class UsageError(HpcflowError):
    """The user's input (app, decorator, CLI flag, config) is invalid."""


class ConfigError(UsageError):
    """A site or user configuration file is invalid."""


class SlurmCommandError(HpcflowError):
    """A Slurm command failed; carries the argv, exit code and both streams."""

    def __init__(self, argv: list[str], returncode: int, stdout: str, stderr: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        detail = (stderr or stdout).strip().splitlines()
        reason = detail[-1] if detail else "no output"
        super().__init__(f"{argv[0]} failed (exit {returncode}): {reason}")


class StopGroup(Exception):
    """Raise in a task to stop its TaskGroup on purpose: the task is not retried, the
    group's other tasks are cancelled (running ones killed) and the failure reaches the
    caller at the group's end or at its barrier."""


class WallClockLimit(BaseException):
    """The run's wall clock limit was reached: raised in the app's thread to stop it."""


class TaskFailed(HpcflowError):
    """A task failed (or was cancelled because a task it depends on failed).

    Raised at ``wait_on`` and friends. Carries where it ran and the remote traceback.
    """

    def __init__(self, task: str, reason: str, host: str = "", pid: int = 0,
                 traceback: str = "", cancelled: bool = False) -> None:
        self.task = task
        self.reason = reason
        self.host = host
        self.pid = pid
        self.remote_traceback = traceback
        self.cancelled = cancelled
        where = f" on {host} pid {pid}" if host else ""
        verb = "was cancelled" if cancelled else "failed"
        super().__init__(f"task {task} {verb}{where}: {reason}")

    def __reduce__(self):  # keep every field across pickling
        return (TaskFailed, (self.task, self.reason, self.host, self.pid,
                             self.remote_traceback, self.cancelled))
