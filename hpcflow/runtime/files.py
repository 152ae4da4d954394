"""Committing file and directory outputs in place: atomic renames, never half-written.

A task writes an output ``dir/name`` as ``dir/.name.hpcflow-<id>.part/name``: private to
the attempt, on the same file system, and still ending with the original name.
"""

from __future__ import annotations

import os
import shutil


def commit_output(temp: str, path: str, directory: bool, _fallback: str | None = None) -> None:
    """Move a task's private output ``temp`` to ``path`` in one step."""
    if not directory:
        os.replace(temp, path)
        _drop_private(temp)
        return
    trash = None
    if os.path.lexists(path):
        trash = f"{temp}.old"
        os.replace(path, trash)
    os.replace(temp, path)
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)
    _drop_private(temp)


def _private_dir(temp: str) -> str | None:
    parent = os.path.dirname(temp)
    return parent if os.path.basename(parent).endswith(".part") else None


def _drop_private(temp: str) -> None:
    parent = _private_dir(temp)
    if parent is not None:
        shutil.rmtree(parent, ignore_errors=True)


def commit_empty(temp: str, path: str, directory: bool) -> None:
    """IGNORE policy: the output exists but is empty; the private copy is discarded."""
    discard(temp)
    if directory:
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path, exist_ok=True)
    else:
        with open(path, "wb"):
            pass


def commit_ignored(temp: str, path: str, directory: bool, fallback: str | None) -> None:
    """IGNORE: the output is a copy of its ``@on_failure`` default, else empty."""
    commit_empty(temp, path, directory)
    if fallback and directory:
        shutil.copytree(fallback, path, symlinks=True, dirs_exist_ok=True)
    elif fallback:
        shutil.copyfile(fallback, path)


def discard(temp: str) -> None:
    """Remove a private output left by a failed or cancelled attempt."""
    if os.path.isdir(temp) and not os.path.islink(temp):
        shutil.rmtree(temp, ignore_errors=True)
    elif os.path.lexists(temp):
        os.unlink(temp)
    _drop_private(temp)


def output_missing(temp: str, directory: bool) -> bool:
    """Did the task fail to produce its declared output?"""
    return not (os.path.isdir(temp) if directory else os.path.lexists(temp))
