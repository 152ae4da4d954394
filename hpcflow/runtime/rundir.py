"""Where a run leaves its records, and the software facts it notes for provenance."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import sys
from collections.abc import Iterable, Mapping
from datetime import datetime

#: Where runs leave their directories, under the current directory (as for submit).
RUNS_DIR = "hpcflow-runs"


def default_run_dir(app: str, now: datetime, pid: int, cwd: str) -> str:
    """``<cwd>/hpcflow-runs/<app stem>-<YYYYmmdd-HHMMSS>-<pid>`` (absolute)."""
    stem = re.sub(r"[^A-Za-z0-9._+-]", "_", os.path.splitext(os.path.basename(app))[0])
    return os.path.join(os.path.abspath(cwd), RUNS_DIR,
                        f"{stem or 'app'}-{now:%Y%m%d-%H%M%S}-{pid}")


def software_versions() -> dict[str, str]:
    """Python, hpcflow and the platform this process runs on."""
    system = f"{platform.system()} {platform.release()} {platform.machine()}"
    return {"python": platform.python_version(), "hpcflow": package_version("hpcflow"),
            "platform": system}


def package_version(distribution: str) -> str:
    """An installed distribution's version, or ``unknown``."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def imported_modules(modules: Iterable[str] | None = None) -> list[str]:
    """Top-level, non-standard-library modules imported so far (by the app and by us)."""
    names = {name.partition(".")[0] for name in (sys.modules if modules is None else modules)}
    standard = set(sys.stdlib_module_names) | set(sys.builtin_module_names) | {"__main__"}
    return sorted(n for n in names - standard if n and not n.startswith("_"))


def module_distributions(modules: Iterable[str],
                         table: Mapping[str, list[str]] | None = None) -> dict[str, str]:
    """``{distribution: version}`` of the installed distributions providing ``modules``."""
    table = importlib.metadata.packages_distributions() if table is None else table
    found: dict[str, str] = {}
    for module in modules:
        for distribution in table.get(module, []):
            found[distribution] = package_version(distribution)
    return dict(sorted(found.items()))
