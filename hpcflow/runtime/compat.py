"""``hpcflow run --compat pycompss``: make a compatibility package importable by the app
(this process) and by the task processes (``PYTHONPATH``, which they inherit).

The shims live in ``compat/<name>/`` of an hpcflow checkout, or are installed with
``pip install ./compat/<name>``; they are never on the path unless asked for.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import MutableMapping
from pathlib import Path

from hpcflow.errors import UsageError

SHIMS = ("pycompss",)
_MARKER = "__hpcflow_shim__"


def shim_root(name: str) -> str:
    """The directory to put on ``sys.path`` for shim ``name``."""
    if name not in SHIMS:
        raise UsageError(f"unknown --compat {name!r}; valid: {', '.join(SHIMS)}")
    checkout = Path(__file__).resolve().parents[2] / "compat" / name
    if _is_shim(checkout / name / "__init__.py"):
        return str(checkout)
    spec = importlib.util.find_spec(name)
    if spec is not None and spec.origin and _is_shim(Path(spec.origin)):
        return str(Path(spec.origin).parents[1])
    raise UsageError(f"the {name} compatibility package is not installed: "
                     f"pip install '.[{name}-compat]' (from an hpcflow checkout)")


def _is_shim(init: Path) -> bool:
    try:
        return _MARKER in init.read_text()
    except OSError:
        return False


def activate(name: str, environ: MutableMapping[str, str] | None = None) -> str:
    """Put shim ``name`` first on ``sys.path`` and ``PYTHONPATH``; its directory."""
    environ = os.environ if environ is None else environ
    root = shim_root(name)
    if root not in sys.path:
        sys.path.insert(0, root)
    paths = [p for p in environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != root]
    environ["PYTHONPATH"] = os.pathsep.join([root, *paths])
    return root


# -- runcompss / enqueue_compss --------------------------------------------------------
#: PyCOMPSs launcher options with a value, and the hpcflow option each becomes
#: (``None``: handled specially). ``enqueue`` marks those meaningful only for submission.
_VALUED = {"num_nodes": "--nodes", "exec_time": "--time", "qos": "--qos",
           "queue": "--partition", "project_name": "--account", "pythonpath": None,
           "cpus_per_node": None, "lang": None, "log_level": None, "job_name": "--job-name",
           "wall_clock_limit": "--wall-clock-limit"}
_FLAGS = {"graph", "tracing", "summary", "debug", "g", "t", "d"}
_SUBMIT_ONLY = {"num_nodes", "exec_time", "qos", "queue", "project_name", "job_name"}


def compss_command(launcher: str, args: list[str], environ: dict[str, str],
                   python: str = sys.executable) -> tuple[list[str], dict[str, str], list[str]]:
    """``runcompss``/``enqueue_compss`` arguments as an ``hpcflow run``/``submit`` argv, its
    environment and notes for the user; unsupported options are a UsageError."""
    enqueue = launcher == "enqueue_compss"
    options, app, app_args = _split_compss(args, launcher)
    env = dict(environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [shim_root("pycompss"), *options.pop("pythonpath", "").split(":"),
         env.get("PYTHONPATH", "")]).strip(os.pathsep)
    notes = _flag_notes(options)
    if options.get("lang", "python") != "python":
        raise UsageError(f"{launcher}: only --lang=python is supported")
    if enqueue:
        argv = [python, "-m", "hpcflow", "submit", "--compat", "pycompss", app,
                *_submit_options(options)]
    else:
        argv = [python, "-m", "hpcflow", "run", "--compat", "pycompss", *_run_options(options,
                                                                                    launcher), app]
    return [*argv, "--", *app_args], env, notes


def _split_compss(args: list[str], launcher: str) -> tuple[dict[str, str], str, list[str]]:
    options: dict[str, str] = {}
    index = 0
    while index < len(args) and args[index].startswith("-"):
        name, _, value = args[index].lstrip("-").partition("=")
        if name in _VALUED:
            if not value:
                index += 1
                value = args[index] if index < len(args) else ""
            options[name] = value
        elif name in _FLAGS:
            options[name] = value or "true"
        else:
            names = sorted([*_VALUED, *_FLAGS])
            supported = ", ".join(("-" if len(n) == 1 else "--") + n for n in names)
            raise UsageError(f"{launcher}: option {args[index]} is not supported by hpcflow "
                             f"(supported: {supported})")
        index += 1
    if index >= len(args):
        raise UsageError(f"{launcher}: no application given")
    return options, args[index], args[index + 1:]


def _flag_notes(options: dict[str, str]) -> list[str]:
    notes = []
    if {"graph", "g"} & set(options):
        notes.append("the task graph: hpcflow graph <run directory> after the run")
    if {"tracing", "t"} & set(options):
        notes.append("the trace: hpcflow trace <run directory> after the run")
    for name in ("log_level", "debug", "d"):
        options.pop(name, None)
    return notes


def _run_options(options: dict[str, str], launcher: str) -> list[str]:
    submit_only = sorted(_SUBMIT_ONLY & set(options))
    if submit_only:
        raise UsageError(f"{launcher}: --{submit_only[0]} needs a batch job: use enqueue_compss")
    argv = []
    if "cpus_per_node" in options:
        argv += ["--cpus", options["cpus_per_node"]]
    if "wall_clock_limit" in options:
        argv += ["--wall-clock-limit", options["wall_clock_limit"]]
    if options.get("summary", "false") == "false":
        argv.append("--quiet")
    return argv


def _submit_options(options: dict[str, str]) -> list[str]:
    argv = ["--nodes", options.get("num_nodes", "1")]
    if "exec_time" in options:
        minutes = int(options["exec_time"])
        argv += ["--time", f"{minutes // 60:02d}:{minutes % 60:02d}:00"]
    for name in ("qos", "queue", "project_name", "job_name", "wall_clock_limit"):
        if name in options:
            argv += [str(_VALUED[name]), options[name]]
    if "cpus_per_node" in options:
        argv += ["--cpus-per-node", options["cpus_per_node"]]
    return argv
