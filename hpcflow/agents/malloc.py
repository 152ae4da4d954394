"""glibc malloc settings for the processes that move task values.

Every value a task returns passes through fresh buffers: received, pickled, sent on.
With glibc's defaults a buffer of a few hundred KiB or more is its own ``mmap`` and is
given back to the kernel when freed, so the next one faults in and zeroes every page
again; on a virtual machine each of those faults also exits to the hypervisor. The
pairwise sum of 1,000 arrays of 1 MiB (benchmark W3) spent over a third of its time so.
Buffers up to ``MMAP_THRESHOLD`` come from the heap instead, and up to ``TRIM_THRESHOLD``
of freed heap is kept for the next ones: a process keeps at most that much more memory
than it uses, a price HPC nodes (GiBs per core) pay gladly.

A variable the user set (``MALLOC_MMAP_THRESHOLD_``, ...) wins over ours;
``HPCFLOW_MALLOC=system`` leaves glibc's defaults alone. A task process is started with
ours in its environment (glibc reads them at start-up) and takes them out again at once
(``forget_ours``), so that what its tasks run (a binary, an MPI program) sees the user's
environment.
"""

from __future__ import annotations

import ctypes
import os
import platform
from collections.abc import Mapping

MMAP_THRESHOLD = 16 << 20
TRIM_THRESHOLD = 128 << 20
TOP_PAD = 16 << 20
OFF_VARIABLE = "HPCFLOW_MALLOC"
#: Names the variables child_env added (for forget_ours).
ADDED_VARIABLE = "HPCFLOW_MALLOC_ADDED"

#: (glibc's environment variable, its mallopt parameter, our value)
SETTINGS = (
    ("MALLOC_MMAP_THRESHOLD_", -3, MMAP_THRESHOLD),  # M_MMAP_THRESHOLD
    ("MALLOC_TRIM_THRESHOLD_", -1, TRIM_THRESHOLD),  # M_TRIM_THRESHOLD
    ("MALLOC_TOP_PAD_", -2, TOP_PAD),  # M_TOP_PAD
)


def _wanted(env: Mapping[str, str]) -> list[tuple[str, int, int]]:
    if env.get(OFF_VARIABLE, "").lower() == "system" or platform.libc_ver()[0] != "glibc":
        return []
    return [setting for setting in SETTINGS if setting[0] not in env]


def child_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: ours) with our settings for a new process, the user's kept."""
    env = os.environ if env is None else env
    ours = {name: str(value) for name, _, value in _wanted(env)}
    return {**env, **ours, ADDED_VARIABLE: ",".join(ours)} if ours else dict(env)


def forget_ours(env: dict[str, str] | os._Environ[str] | None = None) -> None:
    """Take the variables child_env added out of ``env`` (default: this process's)."""
    env = os.environ if env is None else env
    for name in env.pop(ADDED_VARIABLE, "").split(","):
        if name:
            env.pop(name, None)


def tune_this_process(env: Mapping[str, str] | None = None) -> bool:
    """Apply our settings to the running process (mallopt); False if none applied."""
    wanted = _wanted(os.environ if env is None else env)
    if not wanted:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return all(mallopt(parameter, value) == 1 for _, parameter, value in wanted)
