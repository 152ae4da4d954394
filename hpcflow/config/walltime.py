"""Slurm time limits: parse, format and check against a site maximum (pure)."""

from __future__ import annotations

import re

from hpcflow.errors import UsageError

_DAY = 86400

# Slurm's accepted forms (sbatch --time): "M", "M:S", "H:M:S", "D-H", "D-H:M", "D-H:M:S".
_PLAIN = re.compile(r"([0-9]+)(?::([0-9]+))?(?::([0-9]+))?")
_DAYS = re.compile(r"([0-9]+)-([0-9]+)(?::([0-9]+))?(?::([0-9]+))?")


def parse_walltime(text: str) -> int:
    """Return the seconds in a Slurm time limit, read exactly as sbatch reads it.

    ``"HH:MM:SS"`` and ``"D-HH:MM:SS"`` are the usual forms; beware that, as in
    Slurm, ``"30"`` is 30 minutes and ``"10:00"`` is ten *minutes*.
    """
    value = text.strip() if isinstance(text, str) else ""
    days = _DAYS.fullmatch(value)
    if days:
        d, h, m, s = (int(part or 0) for part in days.groups())
        seconds = d * _DAY + h * 3600 + m * 60 + s
    else:
        plain = _PLAIN.fullmatch(value)
        if not plain:
            raise UsageError(f"bad time limit {text!r}: use HH:MM:SS or D-HH:MM:SS")
        seconds = _plain_seconds([int(part) for part in plain.groups() if part is not None])
    if seconds <= 0:
        raise UsageError(f"bad time limit {text!r}: must be longer than zero")
    return seconds


def _plain_seconds(parts: list[int]) -> int:
    if len(parts) == 1:  # minutes
        return parts[0] * 60
    if len(parts) == 2:  # minutes:seconds
        return parts[0] * 60 + parts[1]
    return parts[0] * 3600 + parts[1] * 60 + parts[2]


def format_walltime(seconds: int) -> str:
    """Format seconds as ``HH:MM:SS``, or ``D-HH:MM:SS`` from one day on."""
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
        raise UsageError(f"bad time limit {seconds!r} seconds: must be a positive integer")
    days, rest = divmod(seconds, _DAY)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}-{clock}" if days else clock


def normalize_walltime(text: str) -> str:
    """Canonical form of a time limit: ``"90"`` → ``"01:30:00"``, ``"1-0"`` → ``"1-00:00:00"``."""
    return format_walltime(parse_walltime(text))


def check_walltime(requested: str, max_walltime: str | None, *, site: str = "") -> str:
    """Return ``requested`` normalised; UsageError if it exceeds ``max_walltime`` (None: no max)."""
    wanted = parse_walltime(requested)
    if max_walltime is not None and wanted > parse_walltime(max_walltime):
        where = f" of site {site!r}" if site else ""
        raise UsageError(
            f"time limit {format_walltime(wanted)} exceeds the maximum "
            f"{normalize_walltime(max_walltime)}{where}"
        )
    return format_walltime(wanted)
