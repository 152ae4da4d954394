"""Site configuration: what hpcflow must know about a cluster, from layered TOML.

Layers, lowest first: built-in defaults < site TOML (``--site NAME``) < user TOML
(``~/.config/hpcflow/config.toml``) < command line.  :func:`resolve_site` merges
already-loaded layers and is pure; :func:`load_toml`, :func:`find_site` and
:func:`load_site_config` do the file work.  Every error is a one-line
:class:`~hpcflow.errors.ConfigError` naming the file (or layer) and the key.

In each layer, scalar keys and ``modules`` replace the lower layers' values,
while the tables ``env`` and ``sbatch_extra`` are merged key by key.  An empty
string unsets an optional text key (``partition = ""`` → Slurm's default).  A
user file may also hold ``[sites.NAME]`` tables, applied only to site NAME, and
``default_site = "NAME"``, the site used when a command names none.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hpcflow.config.partitions import Partition, check_partitions, fill
from hpcflow.config.walltime import check_walltime, normalize_walltime, parse_walltime
from hpcflow.errors import ConfigError, UsageError

#: MPI implementations hpcflow knows how to launch ("other": let srun do it all).
MPI_FLAVOURS = ("cray", "intelmpi", "mpich", "mvapich2", "none", "openmpi", "other")

#: ``srun_mpi`` value meaning "pass no --mpi, use the cluster's MpiDefault".
SRUN_MPI_DEFAULT = "default"

#: Built-in defaults: the lowest layer, complete (every key present).
BUILTIN_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        "name": "generic",
        "partition": None,
        "account": None,
        "qos": None,
        "modules": [],
        "env": {},
        "mpi_flavour": "mpich",
        "srun_mpi": SRUN_MPI_DEFAULT,
        "cores_per_node": None,
        "mem_per_node": None,
        "max_walltime": None,
        "default_walltime": "01:00:00",
        "python": "python3",
        "sbatch_extra": {},
        "gpus_per_node": 0,
        "checkpoint": "every",
        "walltime_lead": None,
        "software": [],
        "partitions": [],
    }
)

# sbatch options hpcflow renders itself (mirrors hpcflow.slurm.script.RESERVED_OPTIONS).
_RESERVED_SBATCH = frozenset(
    {"job-name", "nodes", "ntasks", "ntasks-per-node", "time", "partition", "account", "qos",
     "cpus-per-task", "mem", "mem-per-cpu", "gpus-per-node", "output", "error", "chdir",
     "workdir", "parsable", "wrap"}
)  # fmt: skip
_MAPPING_KEYS = ("env", "sbatch_extra")
_SITE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]*")
_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPTION_RE = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)+|[a-z][a-z0-9]+")
_MEM_RE = re.compile(r"[0-9]+[KMGT]?", re.IGNORECASE)


@dataclass(frozen=True)
class SiteConfig:
    """Resolved settings for one cluster; build it with :func:`resolve_site`."""

    name: str
    partition: str | None
    account: str | None
    qos: str | None
    modules: tuple[str, ...]
    env: Mapping[str, str] = field(hash=False)
    mpi_flavour: str
    srun_mpi: str | None  # None: pass no --mpi to srun (cluster MpiDefault)
    cores_per_node: int | None
    mem_per_node: str | None
    max_walltime: str | None
    default_walltime: str
    python: str
    sbatch_extra: Mapping[str, str | int | bool] = field(hash=False)
    gpus_per_node: int
    checkpoint: str  # every | periodic | off: when a job's finished tasks are persisted
    walltime_lead: int | None  # seconds of warning before the time limit (None: default)
    software: tuple[str, ...] = ()  # tags matched by @constraint(app_software=...)
    partitions: tuple[Partition, ...] = ()  # other partitions an elastic run may grow in

    def walltime(self, requested: str | None = None) -> str:
        """Normalised time limit for a job: ``requested`` or the default, within the max."""
        return check_walltime(requested or self.default_walltime, self.max_walltime, site=self.name)


def site_keys() -> list[str]:
    """The valid configuration keys, sorted."""
    return sorted(BUILTIN_DEFAULTS)


# --------------------------------------------------------------------------- validators

Check = Callable[[Any, str], Any]


def _fail(where: str, message: str) -> ConfigError:
    return ConfigError(f"{where} {message}")


def _opt_text(value: Any, where: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or any(c in value for c in "\n\r\0"):
        raise _fail(where, f"must be a one-line string, got {value!r}")
    return value


def _text(value: Any, where: str) -> str:
    text = _opt_text(value, where)
    if text is None:
        raise _fail(where, "must not be empty")
    return text


def _software(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(
            isinstance(t, str) and t.strip() and "," not in t for t in value):
        raise _fail(where, f'must be a list of software tags, e.g. ["gromacs", "numpy"], '
                    f"got {value!r}")
    return tuple(sorted({t.strip().lower() for t in value}))


def _site_name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _SITE_NAME_RE.fullmatch(value):
        raise _fail(where, f"must be a name of letters, digits, '.', '_' or '-', got {value!r}")
    return value


def _modules(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _fail(where, f'must be a list of module names, e.g. ["intel", "impi"], got {value!r}')
    for name in value:
        if not isinstance(name, str) or not name or name.startswith("-"):
            raise _fail(where, f"has a bad module name {name!r}")
        if any(c.isspace() for c in name):
            raise _fail(where, f"has {name!r}: list each module as its own string")
    return tuple(value)


def _env(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _fail(where, f"must be a table of NAME = value, got {value!r}")
    env: dict[str, str] = {}
    for name, item in value.items():
        if not _ENV_NAME_RE.fullmatch(name):
            raise _fail(where, f"has a bad environment variable name {name!r}")
        if isinstance(item, bool) or not isinstance(item, str | int) or "\0" in str(item):
            raise _fail(where, f"value of {name} must be a string, got {item!r}")
        env[name] = str(item)
    return env


def _sbatch_extra(value: Any, where: str) -> dict[str, str | int | bool]:
    if not isinstance(value, dict):
        raise _fail(where, f"must be a table of option = value, got {value!r}")
    for key, item in value.items():
        if not _OPTION_RE.fullmatch(key):
            raise _fail(where, f"has bad option {key!r}: use the long name without dashes")
        if key in _RESERVED_SBATCH:
            raise _fail(where, f"cannot set {key!r}: hpcflow sets it (use the matching key)")
        if not isinstance(item, str | int) or (isinstance(item, str) and "\n" in item):
            raise _fail(where, f"value of {key!r} must be a string, integer or boolean")
    return dict(value)


def _choice(choices: Iterable[str]) -> Check:
    allowed = tuple(choices)

    def check(value: Any, where: str) -> str:
        if value not in allowed:
            raise _fail(where, f"must be one of {', '.join(allowed)}; got {value!r}")
        return str(value)

    return check


def _srun_mpi(value: Any, where: str) -> str | None:
    if not isinstance(value, str) or not re.fullmatch(r"[a-z0-9_]+", value):
        raise _fail(
            where, f"must be an srun --mpi value (pmi2, pmix, none, default); got {value!r}"
        )
    return None if value == SRUN_MPI_DEFAULT else value


def _int_at_least(minimum: int, optional: bool) -> Check:
    def check(value: Any, where: str) -> int | None:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
            raise _fail(where, f"must be {kind}, got {value!r}")
        return value

    return check


def _memory(value: Any, where: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return f"{value}M"
    if not isinstance(value, str) or not _MEM_RE.fullmatch(value):
        raise _fail(where, f"must be a size like '4000M' or '256G', got {value!r}")
    return value.upper()


def _walltime(optional: bool) -> Check:
    def check(value: Any, where: str) -> str | None:
        if optional and (value is None or value == ""):
            return None
        try:
            return normalize_walltime(value)
        except UsageError:
            raise _fail(
                where, f"must be a time like 'HH:MM:SS' or 'D-HH:MM:SS', got {value!r}"
            ) from None

    return check


def _python(value: Any, where: str) -> str:
    text = _text(value, where)
    try:
        ok = bool(shlex.split(text))
    except ValueError:
        ok = False
    if not ok:
        raise _fail(where, f"must be an interpreter command like 'python3', got {value!r}")
    return text


_CHECKS: Mapping[str, Check] = MappingProxyType(
    {
        "name": _site_name,
        "partition": _opt_text,
        "account": _opt_text,
        "qos": _opt_text,
        "modules": _modules,
        "env": _env,
        "mpi_flavour": _choice(MPI_FLAVOURS),
        "srun_mpi": _srun_mpi,
        "cores_per_node": _int_at_least(1, optional=True),
        "mem_per_node": _memory,
        "max_walltime": _walltime(optional=True),
        "default_walltime": _walltime(optional=False),
        "python": _python,
        "sbatch_extra": _sbatch_extra,
        "gpus_per_node": _int_at_least(0, optional=False),
        "checkpoint": _choice(("every", "periodic", "off")),
        "walltime_lead": _int_at_least(1, optional=True),
        "software": _software,
        "partitions": lambda value, where: check_partitions(value, where, _CHECKS),
    }
)


# --------------------------------------------------------------------------- layering


def validate_layer(layer: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Check one layer's keys and values; return them normalised.  ``source`` names it."""
    if not isinstance(layer, Mapping):
        raise ConfigError(f"{source}: must be a table of settings, got {type(layer).__name__}")
    out: dict[str, Any] = {}
    for key, value in layer.items():
        if key not in _CHECKS:
            raise ConfigError(f"{source}: {_unknown_key(key, _CHECKS)}")
        out[key] = _CHECKS[key](value, f"{source}: {key}")
    return out


def _unknown_key(key: str, valid: Iterable[str]) -> str:
    names = sorted(valid)
    close = difflib.get_close_matches(str(key), names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key {key!r}{hint}; valid keys: {', '.join(names)}"


def _merge(base: dict[str, Any], layer: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in layer.items():
        if key in _MAPPING_KEYS:
            merged[key] = {**merged.get(key, {}), **value}
        else:
            merged[key] = value
    return merged


def _user_layers(user: Mapping[str, Any] | None, source: str) -> tuple[dict[str, Any], Any]:
    """Split a user file into its top-level settings and its ``[sites.NAME]`` tables.

    ``default_site`` (see :func:`user_default_site`) is checked and left out.
    """
    if user is None:
        return {}, {}
    top = dict(user)
    if "default_site" in top:
        _site_name(top.pop("default_site"), f"{source}: default_site")
    sites = top.pop("sites", {})
    if not isinstance(sites, dict) or not all(isinstance(t, dict) for t in sites.values()):
        raise ConfigError(f"{source}: sites must hold tables like [sites.NAME]")
    return top, sites


def resolve_site(
    builtin: Mapping[str, Any],
    site: Mapping[str, Any] | None,
    user: Mapping[str, Any] | None,
    cli: Mapping[str, Any],
    *,
    site_source: str = "site config",
    user_source: str = "user config",
) -> SiteConfig:
    """Merge the layers (built-in < site < user < CLI) into a checked :class:`SiteConfig`.

    ``cli`` values of None mean "option not given".  ``site_source``/``user_source``
    name the files in error messages.
    """
    user_top, user_sites = _user_layers(user, user_source)
    merged = validate_layer(builtin, "built-in defaults")
    merged = _merge(merged, validate_layer(site or {}, site_source))
    merged = _merge(merged, validate_layer(user_top, user_source))
    name = merged.get("name", "")
    per_site = user_sites.get(name, {})
    merged = _merge(merged, validate_layer(per_site, f"{user_source} [sites.{name}]"))
    given = {key: value for key, value in cli.items() if value is not None}
    merged = _merge(merged, validate_layer(given, "command line"))
    missing = [key for key in _CHECKS if key not in merged]
    if missing:
        raise ConfigError(f"built-in defaults: missing keys {', '.join(missing)}")
    return _build(merged)


def _build(values: dict[str, Any]) -> SiteConfig:
    software = {"HPCFLOW_SOFTWARE": ",".join(values["software"])} if values["software"] else {}
    values["env"] = MappingProxyType({**software, **values["env"]})  # jobs see the tags
    values["sbatch_extra"] = MappingProxyType(dict(values["sbatch_extra"]))
    values["partitions"] = fill(values["partitions"], values["cores_per_node"],
                                values["mem_per_node"], values["software"])
    config = SiteConfig(**values)
    if config.max_walltime is not None:
        if parse_walltime(config.default_walltime) > parse_walltime(config.max_walltime):
            raise ConfigError(
                f"site {config.name!r}: default_walltime {config.default_walltime} "
                f"exceeds max_walltime {config.max_walltime}"
            )
    return config


# --------------------------------------------------------------------------- files


def load_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a TOML file; ConfigError (one line) if it is missing, unreadable or invalid."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"invalid TOML in {path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else "syntax error"
        raise ConfigError(f"invalid TOML in {path}: {reason}") from None


def find_site(name: str, search_dirs: Iterable[str | os.PathLike[str]]) -> Path:
    """Path of site ``name`` (``NAME.toml`` in the first dir holding it), or of a .toml path."""
    if name.endswith(".toml") or os.sep in name:
        if not Path(name).is_file():
            raise ConfigError(f"config file not found: {name}")
        return Path(name)
    dirs = [Path(d) for d in search_dirs]
    if _SITE_NAME_RE.fullmatch(name):
        for directory in dirs:
            candidate = directory / f"{name}.toml"
            if candidate.is_file():
                return candidate
    available = sorted({p.stem for d in dirs if d.is_dir() for p in d.glob("*.toml")})
    close = difflib.get_close_matches(name, available, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    listed = ", ".join(available) if available else "none"
    searched = ", ".join(str(d) for d in dirs) or "no directories"
    raise ConfigError(f"unknown site {name!r}{hint}; available: {listed} (searched {searched})")


def user_config_path(env: Mapping[str, str]) -> Path:
    """``$XDG_CONFIG_HOME/hpcflow/config.toml``, by default ``~/.config/hpcflow/config.toml``."""
    base = env.get("XDG_CONFIG_HOME") or os.path.join(
        env.get("HOME") or str(Path.home()), ".config"
    )
    return Path(base) / "hpcflow" / "config.toml"


def default_site_dirs(env: Mapping[str, str]) -> list[Path]:
    """Where ``--site NAME`` looks, in order.

    ``$HPCFLOW_SITE_DIRS`` (os.pathsep-separated), the user's
    ``~/.config/hpcflow/sites``, ``/etc/hpcflow/sites``, then the ``site-configs``
    directory shipped next to the hpcflow package (source checkouts).
    """
    dirs = [Path(p) for p in env.get("HPCFLOW_SITE_DIRS", "").split(os.pathsep) if p]
    dirs.append(user_config_path(env).parent / "sites")
    dirs.append(Path("/etc/hpcflow/sites"))
    dirs.append(Path(__file__).resolve().parent.parent.parent / "site-configs")
    return dirs


def user_default_site(env: Mapping[str, str]) -> str | None:
    """The ``default_site`` named in the user file (``default_site = "NAME"``), or None.

    None when the file does not exist or does not name one; ConfigError if it is invalid.
    """
    path = user_config_path(env)
    if not path.is_file():
        return None
    value = load_toml(path).get("default_site")
    return None if value is None else _site_name(value, f"{path}: default_site")


def load_site_config(
    site: str | None,
    cli: Mapping[str, Any],
    *,
    env: Mapping[str, str],
    search_dirs: Iterable[str | os.PathLike[str]] | None = None,
    site_file: str | os.PathLike[str] | None = None,
) -> SiteConfig:
    """Find and read the site file (none if ``site`` is None) and the user file, then resolve.

    ``site_file`` names a site TOML file directly (``--site-config FILE``), instead
    of ``site``.  The user file is read only if it exists; ``env`` supplies HOME and friends.
    """
    if site is not None and site_file is not None:
        raise UsageError("give a site name or a site config file, not both")
    site_layer, site_source = None, "site config"
    if site is not None or site_file is not None:
        dirs = default_site_dirs(env) if search_dirs is None else search_dirs
        path = Path(site_file) if site_file is not None else find_site(str(site), dirs)
        site_layer, site_source = load_toml(path), str(path)
        site_layer.setdefault("name", path.stem)
    user_path = user_config_path(env)
    user_layer = load_toml(user_path) if user_path.is_file() else None
    return resolve_site(
        BUILTIN_DEFAULTS,
        site_layer,
        user_layer,
        cli,
        site_source=site_source,
        user_source=str(user_path),
    )
