"""Other partitions of a site: what their nodes offer, for elastic grows.

A site config may list ``[[partitions]]`` tables besides its main ``partition``::

    [[partitions]]
    name = "gpu"              # the Slurm partition (required)
    cores_per_node = 64       # optional; unset: the site's cores_per_node
    mem_per_node = "512G"     # optional; unset: the site's mem_per_node
    gpus_per_node = 4         # optional; unset: 0
    features = ["a100"]       # optional: an extension job asks --constraint=a100
    software = ["cuda"]       # optional; unset: the site's software

An elastic run accepts a task no node of its allocation can run when one of these
partitions offers what it needs, and grows an extension job there for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hpcflow.errors import ConfigError

_FEATURE_RE = re.compile(r"[A-Za-z0-9_.\-]+")


@dataclass(frozen=True)
class Partition:
    """One declared partition; unset values are filled in from the site by :func:`fill`."""

    name: str
    cores_per_node: int | None = None
    mem_per_node: str | None = None
    gpus_per_node: int = 0
    features: tuple[str, ...] = ()
    software: tuple[str, ...] | None = None


#: The keys of one ``[[partitions]]`` table.
PARTITION_KEYS = ("cores_per_node", "features", "gpus_per_node", "mem_per_node", "name", "software")


def check_partitions(
    value: Any, where: str, checks: Mapping[str, Callable[[Any, str], Any]]
) -> tuple[Partition, ...]:
    """Validate a ``partitions`` list; ``checks`` are the site's validators of the keys
    shared with it (cores_per_node, mem_per_node, gpus_per_node, software)."""
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise ConfigError(
            f'{where} must be a list of tables like [[partitions]] name = "gpu", got {value!r}'
        )
    out: list[Partition] = []
    for i, table in enumerate(value):
        here = f"{where}[{i}]"
        for key in table:
            if key not in PARTITION_KEYS:
                raise ConfigError(
                    f"{here}: unknown key {key!r}; valid keys: {', '.join(PARTITION_KEYS)}"
                )
        name = table.get("name")
        if not isinstance(name, str) or not _FEATURE_RE.fullmatch(name):
            raise ConfigError(f"{here}: name must be a Slurm partition name, got {name!r}")
        if any(p.name == name for p in out):
            raise ConfigError(f"{here}: partition {name!r} is listed twice")
        values = {
            k: checks[k](table[k], f"{here}: {k}")
            for k in ("cores_per_node", "mem_per_node", "gpus_per_node", "software")
            if k in table
        }
        out.append(
            Partition(
                name, features=_features(table.get("features", []), f"{here}: features"), **values
            )
        )
    return tuple(out)


def _features(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(
        isinstance(f, str) and _FEATURE_RE.fullmatch(f) for f in value
    ):
        raise ConfigError(
            f'{where} must be a list of Slurm node features, e.g. ["bigmem"], got {value!r}'
        )
    return tuple(value)


def fill(
    partitions: tuple[Partition, ...],
    cores: int | None,
    memory: str | None,
    software: tuple[str, ...],
) -> tuple[Partition, ...]:
    """The partitions with unset cores, memory and software taken from the site."""
    return tuple(
        Partition(
            p.name,
            p.cores_per_node if p.cores_per_node is not None else cores,
            p.mem_per_node if p.mem_per_node is not None else memory,
            p.gpus_per_node,
            p.features,
            p.software if p.software is not None else software,
        )
        for p in partitions
    )
