"""Site configuration: layers, validation, TOML files, site lookup, time limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hpcflow.config.site import (
    _RESERVED_SBATCH,
    BUILTIN_DEFAULTS,
    SiteConfig,
    default_site_dirs,
    find_site,
    load_site_config,
    load_toml,
    resolve_site,
    site_keys,
    user_config_path,
)
from hpcflow.config.walltime import (
    check_walltime,
    format_walltime,
    normalize_walltime,
    parse_walltime,
)
from hpcflow.errors import ConfigError, UsageError
from hpcflow.slurm.script import RESERVED_OPTIONS

REPO_SITES = Path(__file__).resolve().parents[2] / "site-configs"
NO_HOME = {"HOME": "/nonexistent-hpcflow-home"}


def resolve(
    site: dict[str, Any] | None = None,
    user: dict[str, Any] | None = None,
    cli: dict[str, Any] | None = None,
) -> SiteConfig:
    return resolve_site(
        BUILTIN_DEFAULTS, site, user, cli or {}, site_source="s.toml", user_source="u.toml"
    )


# --------------------------------------------------------------------------- layering


def test_builtin_defaults_alone() -> None:
    config = resolve()
    assert config.name == "generic"
    assert config.partition is None
    assert config.srun_mpi is None  # "default": no --mpi, the cluster's MpiDefault
    assert config.python == "python3"
    assert config.default_walltime == "01:00:00"
    assert config.modules == ()


def test_layer_precedence() -> None:
    site = {"name": "s", "partition": "site-p", "qos": "site-q", "account": "site-a"}
    user = {"qos": "user-q", "account": "user-a"}
    cli = {"account": "cli-a", "partition": None, "qos": None}
    config = resolve(site, user, cli)
    assert (config.partition, config.qos, config.account) == ("site-p", "user-q", "cli-a")


def test_mapping_keys_merge_and_lists_replace() -> None:
    site = {"env": {"A": "site", "B": "site"}, "modules": ["a", "b"], "sbatch_extra": {"x-y": 1}}
    user = {"env": {"B": "user", "C": 3}, "modules": ["c"], "sbatch_extra": {"exclusive": True}}
    config = resolve(site, user)
    assert dict(config.env) == {"A": "site", "B": "user", "C": "3"}
    assert config.modules == ("c",)
    assert dict(config.sbatch_extra) == {"x-y": 1, "exclusive": True}


def test_user_per_site_tables() -> None:
    user = {"account": "everywhere", "sites": {"mn5": {"account": "bsc99"}, "x": {"qos": "q"}}}
    assert resolve({"name": "mn5"}, user).account == "bsc99"
    other = resolve({"name": "other"}, user)
    assert other.account == "everywhere" and other.qos is None
    with pytest.raises(ConfigError, match=r"u\.toml \[sites\.mn5\]: unknown key 'acount'"):
        resolve({"name": "mn5"}, {"sites": {"mn5": {"acount": "x"}}})
    with pytest.raises(ConfigError, match="sites must hold tables"):
        resolve(None, {"sites": {"mn5": "bsc99"}})


def test_empty_string_unsets_optional_text() -> None:
    assert resolve({"partition": "p"}, {"partition": ""}).partition is None


def test_config_is_frozen() -> None:
    config = resolve()
    with pytest.raises(AttributeError):
        config.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.env["X"] = "1"  # type: ignore[index]


# --------------------------------------------------------------------------- validation


def test_unknown_key_lists_valid_keys_sorted() -> None:
    with pytest.raises(ConfigError) as info:
        resolve({"cores_per_nodes": 4})
    message = str(info.value)
    assert message.startswith("s.toml: unknown key 'cores_per_nodes'")
    assert "(did you mean 'cores_per_node'?)" in message
    assert message.endswith("valid keys: " + ", ".join(sorted(BUILTIN_DEFAULTS)))
    assert site_keys() == sorted(BUILTIN_DEFAULTS)
    assert "\n" not in message


def test_unknown_cli_key_names_command_line() -> None:
    with pytest.raises(ConfigError, match=r"^command line: unknown key 'nodes'"):
        resolve(cli={"nodes": 3})


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("cores_per_node", 0, "must be a positive integer, got 0"),
        ("cores_per_node", "four", "must be a positive integer, got 'four'"),
        ("cores_per_node", True, "must be a positive integer"),
        ("gpus_per_node", -1, "must be an integer >= 0"),
        ("mem_per_node", "4 GB", "must be a size like"),
        ("max_walltime", "forever", "must be a time like"),
        ("default_walltime", "", "must be a time like"),
        ("mpi_flavour", "lam", "must be one of cray, intelmpi, mpich"),
        ("srun_mpi", "pmi2 --x", "must be an srun --mpi value"),
        ("modules", "intel impi", "must be a list of module names"),
        ("modules", ["intel impi"], "list each module as its own string"),
        ("env", {"BAD-NAME": "1"}, "bad environment variable name"),
        ("env", {"A": ["x"]}, "value of A must be a string"),
        ("env", "A=1", "must be a table"),
        ("sbatch_extra", {"--constraint": "x"}, "bad option '--constraint'"),
        ("sbatch_extra", {"time": "1:00:00"}, "cannot set 'time'"),
        ("sbatch_extra", {"constraint": 1.5}, "must be a string, integer or boolean"),
        ("partition", "a\nb", "must be a one-line string"),
        ("partition", 5, "must be a one-line string"),
        ("name", "my site", "must be a name"),
        ("python", "'unterminated", "interpreter command"),
        ("python", "", "must not be empty"),
    ],
)
def test_bad_values_name_file_and_key(key: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve({key: value})
    text = str(info.value)
    assert text.startswith(f"s.toml: {key} ")
    assert message in text
    assert "\n" not in text


def test_value_normalisation() -> None:
    config = resolve({"mem_per_node": "256g", "max_walltime": "72:00:00", "srun_mpi": "pmix"})
    assert config.mem_per_node == "256G"
    assert config.max_walltime == "3-00:00:00"
    assert config.srun_mpi == "pmix"
    assert resolve({"mem_per_node": 4000}).mem_per_node == "4000M"


def test_default_walltime_over_max_is_rejected() -> None:
    with pytest.raises(ConfigError, match="default_walltime 04:00:00 exceeds max_walltime"):
        resolve({"name": "s", "default_walltime": "4:00:00", "max_walltime": "2:00:00"})


def test_reserved_sbatch_options_match_renderer() -> None:
    assert set(RESERVED_OPTIONS) == _RESERVED_SBATCH


# --------------------------------------------------------------------------- files


def test_load_toml(tmp_path: Path) -> None:
    path = tmp_path / "ok.toml"
    path.write_text('name = "x"\n[env]\nA = "1"\n')
    assert load_toml(path) == {"name": "x", "env": {"A": "1"}}


def test_load_toml_invalid_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('name = "x"\ncores_per_node = \n')
    with pytest.raises(ConfigError) as info:
        load_toml(path)
    message = str(info.value)
    assert message.startswith(f"invalid TOML in {path}: ")
    assert "line 2" in message
    assert "\n" not in message


def test_load_toml_missing_and_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^config file not found: .*nope\.toml$"):
        load_toml(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_toml(tmp_path)
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_toml(binary)


def test_find_site(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (second / "alpha.toml").write_text("")
    (first / "beta.toml").write_text("")
    (second / "beta.toml").write_text("")
    assert find_site("alpha", [first, second]) == second / "alpha.toml"
    assert find_site("beta", [first, second]) == first / "beta.toml"
    assert find_site(str(second / "alpha.toml"), []) == second / "alpha.toml"


def test_find_site_unknown_lists_available(tmp_path: Path) -> None:
    (tmp_path / "testbed.toml").write_text("")
    (tmp_path / "generic.toml").write_text("")
    with pytest.raises(ConfigError) as info:
        find_site("testbd", [tmp_path, tmp_path / "missing"])
    message = str(info.value)
    assert message.startswith("unknown site 'testbd' (did you mean 'testbed'?); ")
    assert "available: generic, testbed (searched " in message
    with pytest.raises(ConfigError, match="available: none"):
        find_site("x", [tmp_path / "missing"])
    with pytest.raises(ConfigError, match="config file not found"):
        find_site("./nope.toml", [tmp_path])


def test_user_config_path_and_site_dirs() -> None:
    assert user_config_path({"HOME": "/h"}) == Path("/h/.config/hpcflow/config.toml")
    env = {"HOME": "/h", "XDG_CONFIG_HOME": "/x"}
    assert user_config_path(env) == Path("/x/hpcflow/config.toml")
    dirs = default_site_dirs({"HOME": "/h", "HPCFLOW_SITE_DIRS": "/s1:/s2"})
    assert dirs[:4] == [
        Path("/s1"),
        Path("/s2"),
        Path("/h/.config/hpcflow/sites"),
        Path("/etc/hpcflow/sites"),
    ]
    assert dirs[-1] == REPO_SITES


@pytest.mark.parametrize("name", ["generic", "testbed", "marenostrum5-gpp"])
def test_shipped_site_configs_load(name: str) -> None:
    config = load_site_config(name, {}, env=NO_HOME, search_dirs=[REPO_SITES])
    assert config.name == name


def test_testbed_site_values() -> None:
    config = load_site_config("testbed", {}, env=NO_HOME, search_dirs=[REPO_SITES])
    assert (config.partition, config.cores_per_node, config.mem_per_node) == ("debug", 4, "4000M")
    assert (config.mpi_flavour, config.srun_mpi) == ("mpich", "pmi2")


def test_marenostrum_site_values() -> None:
    config = load_site_config("marenostrum5-gpp", {}, env=NO_HOME, search_dirs=[REPO_SITES])
    assert config.cores_per_node == 112
    assert config.mpi_flavour == "intelmpi" and config.srun_mpi == "pmi2"
    assert config.max_walltime == "3-00:00:00"
    assert config.walltime("72:00:00") == "3-00:00:00"
    with pytest.raises(UsageError, match="exceeds the maximum 3-00:00:00"):
        config.walltime("73:00:00")


def test_load_site_config_reads_user_file(tmp_path: Path) -> None:
    user_dir = tmp_path / ".config" / "hpcflow"
    user_dir.mkdir(parents=True)
    (user_dir / "config.toml").write_text('[sites.testbed]\nqos = "mine"\n')
    env = {"HOME": str(tmp_path)}
    config = load_site_config("testbed", {"account": "acct"}, env=env, search_dirs=[REPO_SITES])
    assert (config.qos, config.account) == ("mine", "acct")
    (user_dir / "config.toml").write_text("qos = \n")
    with pytest.raises(ConfigError, match=f"invalid TOML in {user_dir / 'config.toml'}"):
        load_site_config("testbed", {}, env=env, search_dirs=[REPO_SITES])


def test_site_file_errors_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "mysite.toml").write_text("cores_per_node = -2\n")
    with pytest.raises(ConfigError) as info:
        load_site_config("mysite", {}, env=NO_HOME, search_dirs=[tmp_path])
    assert str(info.value).startswith(f"{tmp_path / 'mysite.toml'}: cores_per_node ")
    # without a name key, the file's stem names the site
    (tmp_path / "mysite.toml").write_text("cores_per_node = 2\n")
    assert load_site_config("mysite", {}, env=NO_HOME, search_dirs=[tmp_path]).name == "mysite"


def test_no_site_means_builtin_plus_user() -> None:
    config = load_site_config(None, {"qos": "q"}, env=NO_HOME)
    assert config.name == "generic" and config.qos == "q"


# --------------------------------------------------------------------------- walltime


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("00:10:00", 600),
        ("1:00:00", 3600),
        ("72:00:00", 259200),
        ("1-00:00:00", 86400),
        ("2-12:30:15", 2 * 86400 + 12 * 3600 + 30 * 60 + 15),
        ("30", 1800),  # Slurm: plain number = minutes
        ("10:00", 600),  # Slurm: MM:SS
        ("1-12", 86400 + 12 * 3600),  # D-HH
        ("1-12:30", 86400 + 12 * 3600 + 1800),  # D-HH:MM
        (" 5 ", 300),
    ],
)
def test_parse_walltime(text: str, seconds: int) -> None:
    assert parse_walltime(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "00:00:00", "1h", "1:2:3:4", "-1", "1-", "UNLIMITED"])
def test_parse_walltime_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="bad time limit"):
        parse_walltime(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(1, "00:00:01"), (600, "00:10:00"), (86399, "23:59:59"), (86400, "1-00:00:00"),
     (259200, "3-00:00:00"), (90061, "1-01:01:01")],
)  # fmt: skip
def test_format_walltime(seconds: int, text: str) -> None:
    assert format_walltime(seconds) == text
    assert parse_walltime(text) == seconds


def test_format_walltime_rejects() -> None:
    for bad in (0, -5, True):
        with pytest.raises(UsageError):
            format_walltime(bad)  # type: ignore[arg-type]


def test_check_walltime() -> None:
    assert normalize_walltime("90") == "01:30:00"
    assert check_walltime("48:00:00", "72:00:00") == "2-00:00:00"
    assert check_walltime("72:00:00", "3-00:00:00") == "3-00:00:00"
    assert check_walltime("100:00:00", None) == "4-04:00:00"
    with pytest.raises(UsageError) as info:
        check_walltime("3-00:00:01", "72:00:00", site="mn5")
    assert str(info.value) == ("time limit 3-00:00:01 exceeds the maximum 3-00:00:00 of site 'mn5'")


def test_site_walltime_uses_default() -> None:
    config = resolve({"name": "s", "default_walltime": "00:20:00", "max_walltime": "01:00:00"})
    assert config.walltime() == "00:20:00"
    assert config.walltime("45") == "00:45:00"
    with pytest.raises(UsageError, match="of site 's'"):
        config.walltime("2:00:00")
