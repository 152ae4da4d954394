"""``pip install '.[pycompss-compat]'``: the extra's metadata points at compat/pycompss of
the checkout being built, and the hpcflow distribution itself holds no ``pycompss``.
(A real install in a fresh venv was checked by hand: see docs/pycompss.md.)"""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _metadata(tmp_path: Path, with_shim: bool) -> str:
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "hpcflow").mkdir()
    (tmp_path / "hpcflow" / "__init__.py").write_text("")
    if with_shim:
        (tmp_path / "compat" / "pycompss").mkdir(parents=True)
        shutil.copy(ROOT / "compat" / "pycompss" / "pyproject.toml",
                    tmp_path / "compat" / "pycompss" / "pyproject.toml")
    (tmp_path / "out").mkdir()
    done = subprocess.run([sys.executable, "setup.py", "-q", "egg_info", "--egg-base", "out"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return (tmp_path / "out" / "hpcflow.egg-info" / "requires.txt").read_text()


def _extra(requires: str, name: str) -> list[str]:
    section = requires.split(f"[{name}]\n", 1)[1].split("\n\n", 1)[0]
    return [line.replace(" ", "") for line in section.splitlines() if line]


def test_extra_points_at_the_checkouts_shim(tmp_path):
    requires = _metadata(tmp_path, with_shim=True)
    shim = (tmp_path / "compat" / "pycompss").resolve().as_uri()
    assert _extra(requires, "pycompss-compat") == [f"hpcflow-pycompss-compat@{shim}"]
    assert _extra(requires, "examples") == ["numpy>=1.24"]
    assert "pycompss" not in requires.split("[", 1)[0]  # not a dependency of plain hpcflow


def test_without_the_directory_the_extra_names_the_distribution(tmp_path):
    assert _extra(_metadata(tmp_path, with_shim=False), "pycompss-compat") == [
        "hpcflow-pycompss-compat"]


def test_the_shim_is_a_separate_distribution():
    text = (ROOT / "compat" / "pycompss" / "pyproject.toml").read_text()
    assert 'name = "hpcflow-pycompss-compat"' in text and 'include = ["pycompss*"]' in text
    assert 'include = ["hpcflow*"]' in (ROOT / "pyproject.toml").read_text()
