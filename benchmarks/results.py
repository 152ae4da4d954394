"""What one run of the suite measured, and its round trip through the report."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

RAW_BEGIN = "<!-- raw results (python -m benchmarks.run --from-report re-renders them):"
RAW_END = "-->"


@dataclass
class Results:
    """Every measured value, by (system, metric); failures by (system, workload)."""

    values: dict[tuple[str, str], list[float]] = field(default_factory=lambda: defaultdict(list))
    failures: dict[tuple[str, str], str] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    w6_info: list[dict[str, Any]] = field(default_factory=list)
    hpcflow_from: set[str] = field(default_factory=set)  # where the apps imported it from
    background: list[float] = field(default_factory=list)  # % CPU busy before each launch
    stopped: dict[tuple[str, str], float] = field(default_factory=dict)  # stopped at limit (s)

    def add(self, system: str, metric: str, value: float) -> None:
        self.values[(system, metric)].append(float(value))

    def failed(self, system: str, workload: str) -> bool:
        return (system, workload) in self.failures

    def to_dict(self) -> dict[str, Any]:
        return {"values": [[s, m, v] for (s, m), v in self.values.items()],
                "failures": [[s, w, why] for (s, w), why in self.failures.items()],
                "unavailable": self.unavailable, "w6_info": self.w6_info,
                "hpcflow_from": sorted(self.hpcflow_from), "background": self.background,
                "stopped": [[s, w, limit] for (s, w), limit in self.stopped.items()]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Results:
        results = cls()
        for system, metric, values in data["values"]:
            results.values[(system, metric)] = list(values)
        results.failures = {(s, w): why for s, w, why in data["failures"]}
        results.unavailable = dict(data["unavailable"])
        results.w6_info = list(data["w6_info"])
        results.hpcflow_from = set(data["hpcflow_from"])
        results.background = list(data["background"])
        results.stopped = {(s, w): limit for s, w, limit in data.get("stopped", [])}
        return results


def embed(payload: dict[str, Any]) -> str:
    return RAW_BEGIN + "\n" + json.dumps(payload, indent=None, sort_keys=True) + "\n" + RAW_END


def extract(text: str) -> dict[str, Any]:
    start = text.index(RAW_BEGIN) + len(RAW_BEGIN)
    end = text.index(RAW_END, start)
    return json.loads(text[start:end])
