"""A stand-in for the Slurm commands: answers by command name, records every call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Result:
    """What a command printed and returned (the CompletedProcess fields SlurmClient reads)."""

    returncode: int = 0
    stdout: str = ""
    stderr: str = ""


Answer = Result | BaseException | Callable[[list[str]], Result]


@dataclass
class FakeRunner:
    """A SlurmClient runner; an unknown command behaves like a missing binary."""

    answers: dict[str, Answer] = field(default_factory=dict)
    calls: list[list[str]] = field(default_factory=list)
    timeouts: list[float] = field(default_factory=list)

    def __call__(self, argv: list[str], timeout: float) -> Result:
        self.calls.append(argv)
        self.timeouts.append(timeout)
        answer = self.answers.get(argv[0], FileNotFoundError(2, "No such file", argv[0]))
        if isinstance(answer, BaseException):
            raise answer
        return answer(argv) if callable(answer) else answer

    def ran(self, command: str) -> bool:
        return any(argv[0] == command for argv in self.calls)
