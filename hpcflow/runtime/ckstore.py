"""The checkpoint store in a run directory: content-addressed blobs and entry files.

Layout under ``<run dir>/checkpoints/``::

    packs/*.pack         pickled values over INLINE bytes, appended (packfile.py); an
                         entry names each one's pack, offset, length and sha256
    objects/ab/ab12...   output files and directory manifests, named by the sha256 of
                         their content
    entries/*.jsonl      finished tasks: signature, the sha256 of each returned value,
                         write-back and output file (values of up to INLINE bytes
                         inline, base64); a line holds one task, or a batch of them
                         (``{"batch": [row, ...]}``, see Entry.to_row); each line carries
                         a hash of itself
    staging/             hard links to outputs waiting to be hashed

Every other file is written to a temporary name and renamed into place, so a killed
writer leaves either nothing or a complete file; an entry is written after its blobs.
Nothing is trusted on reading: a blob whose content does not match its hash, or a line
whose hash does not match, is ignored and the task is computed again.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from typing import Any

from hpcflow.runtime import packfile
from hpcflow.runtime.packfile import PackWriter
from hpcflow.runtime.signature import blob_hash, digest

CHECKPOINT_DIR = "checkpoints"
PACKS = "packs"
#: Pickled values up to this size travel inside their entry line instead of a file.
INLINE = 2048
#: More entry files than this are merged into one when a run is resumed.
COMPACT_ABOVE = 64


@dataclass(frozen=True)
class Entry:
    """A finished task as stored: where to find its values and output files."""

    sig: str
    name: str
    values: tuple[str, ...]
    writes: tuple[str, ...]
    files: tuple[tuple[str, str, bool], ...]  # (final path, content hash, is a directory)
    inline: tuple[tuple[str, str], ...] = ()  # (sha256, base64) of small values
    packed: tuple[tuple[str, str, int, int], ...] = ()  # (sha256, pack, offset, length)

    def to_line(self) -> str:
        """The entry alone on a line (the format of earlier versions, still read)."""
        body = {"sig": self.sig, "name": self.name, "values": list(self.values),
                "writes": list(self.writes), "files": [list(f) for f in self.files],
                "inline": dict(self.inline)}
        text = json.dumps(body, sort_keys=True)  # the check: a hash of the rest, sorted
        return f'{text[:-1]}, "check": "{digest(text)}"}}\n'

    def to_row(self) -> list[Any]:
        """The entry in a batch line: ``[sig, name, values, writes, files, inline,
        packed]``."""
        return [self.sig, self.name, list(self.values), list(self.writes),
                [list(f) for f in self.files], [list(p) for p in self.inline],
                [list(p) for p in self.packed]]

    @classmethod
    def from_row(cls, row: list[Any]) -> Entry:
        sig, name, values, writes, files, inline, *rest = row
        packed = rest[0] if rest else ()  # rows of earlier versions have six fields
        return cls(str(sig), str(name), tuple(map(str, values)), tuple(map(str, writes)),
                   tuple((str(p), str(h), bool(d)) for p, h, d in files),
                   tuple((str(k), str(v)) for k, v in inline),
                   tuple((str(k), str(n), int(o), int(size)) for k, n, o, size in packed))

    @classmethod
    def from_line(cls, line: str) -> Entry | None:
        """The entry of a line, or None if the line is torn, altered or malformed."""
        try:
            doc = json.loads(line)
            check = doc.pop("check")
            if digest(json.dumps(doc, sort_keys=True)) != check:
                return None
            files = tuple((str(p), str(h), bool(d)) for p, h, d in doc["files"])
            inline = tuple((str(k), str(v)) for k, v in doc.get("inline", {}).items())
            return cls(str(doc["sig"]), str(doc["name"]), tuple(map(str, doc["values"])),
                       tuple(map(str, doc["writes"])), files, inline)
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


class CheckpointStore:
    """Reads and writes one run's checkpoints (the constructor does no I/O)."""

    def __init__(self, run_dir: str) -> None:
        self.root = os.path.join(run_dir, CHECKPOINT_DIR)
        self.entries: dict[str, Entry] = {}
        self.corrupt = 0
        self._known: set[str] = set()
        self._packs = PackWriter(os.path.join(self.root, PACKS))
        self._packed: dict[str, list[Any]] = {}  # sha256 -> [sha, pack, offset, length]

    # -- reading ---------------------------------------------------------------------
    def load(self, compact_above: int = COMPACT_ABOVE) -> int:
        """Read every entry file; return how many valid entries there are. Many files
        (one per write) are merged into one first; leftovers of a killed writer go."""
        folder = os.path.join(self.root, "entries")
        names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
        paths = [os.path.join(folder, n) for n in names if n.endswith(".jsonl")]
        for path in paths:
            with open(path, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    entries = entries_of_line(line)
                    if entries is None:
                        self.corrupt += 1
                    for entry in entries or ():
                        self.entries[entry.sig] = entry
                        self._packed.update((p[0], list(p)) for p in entry.packed)
        if len(paths) > compact_above:
            self.write_entries(list(self.entries.values()))  # complete before any removal
            for path in paths:
                os.unlink(path)
        shutil.rmtree(os.path.join(self.root, "staging"), ignore_errors=True)
        return len(self.entries)

    def value(self, entry: Entry, sha: str) -> bytes | None:
        """A value of ``entry`` (inline, packed or a blob) if intact, else None."""
        for key, text in entry.inline:
            if key == sha:
                try:
                    data = base64.b64decode(text, validate=True)
                except ValueError:
                    return None
                return data if blob_hash(data) == sha else None
        for key, pack, offset, length in entry.packed:
            if key == sha:
                found = packfile.read_blob(os.path.join(self.root, PACKS), pack, offset, length)
                return found if found is not None and blob_hash(found) == sha else None
        return self.read_blob(sha)

    def read_blob(self, sha: str) -> bytes | None:
        """A blob's bytes if present and intact, else None."""
        try:
            with open(self._object(sha), "rb") as fh:
                data = fh.read()
        except OSError:
            return None
        return data if blob_hash(data) == sha else None

    def restore_file(self, sha: str, target: str) -> bool:
        """Copy the blob ``sha`` to ``target`` if it is intact (checked while copying)."""
        os.makedirs(os.path.dirname(target), exist_ok=True)
        h = hashlib.sha256()
        try:
            with open(self._object(sha), "rb") as src, open(target, "wb") as dst:
                while block := src.read(1 << 20):
                    h.update(block)
                    dst.write(block)
        except OSError:
            return False
        return h.hexdigest() == sha

    def restore_tree(self, sha: str, target: str) -> bool:
        """Rebuild a directory from its manifest blob ``sha`` at ``target``."""
        manifest = self.read_blob(sha)
        if manifest is None:
            return False
        try:
            items: list[Any] = json.loads(manifest)
        except ValueError:
            return False
        os.makedirs(target, exist_ok=True)
        for kind, rel, file_sha in items:
            path = os.path.join(target, rel)
            if kind == "d":
                os.makedirs(path, exist_ok=True)
            elif not self.restore_file(file_sha, path):
                return False
        return True

    # -- writing ---------------------------------------------------------------------
    def stage(self, path: str, directory: bool) -> str:
        """A hard link (or copy) of a finished output, safe from later renames."""
        staged = os.path.join(self.root, "staging", uuid.uuid4().hex)
        os.makedirs(os.path.dirname(staged), exist_ok=True)
        if directory:
            shutil.copytree(path, staged, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(path, staged)
        return staged

    def put_value(self, data: bytes, inline: list[list[str]],
                  packed: list[list[Any]] | None = None) -> str:
        """A value: small ones into ``inline`` (``[sha256, base64]`` pairs for the entry),
        others into a pack, their places into ``packed`` (``[sha256, pack, offset,
        length]``; without ``packed``, a blob file of their own); its hash."""
        if len(data) <= INLINE:
            sha = blob_hash(data)
            inline.append([sha, base64.b64encode(data).decode()])
            return sha
        if packed is None:
            return self.put_blob(data)
        sha = blob_hash(data)
        place = self._packed.get(sha)
        if place is None:  # stored once, wherever many entries name it
            place = self._packed[sha] = [sha, *self._packs.append(data), len(data)]
        packed.append(place)
        return sha

    def close(self) -> None:
        """Close the open pack file."""
        self._packs.close()

    def put_blob(self, data: bytes) -> str:
        """Store ``data`` under its sha256 (once); return the hash."""
        sha = blob_hash(data)
        if sha not in self._known and not os.path.exists(self._object(sha)):
            self._atomic(self._object(sha), data)
        self._known.add(sha)
        return sha

    def put_staged(self, staged: str, directory: bool) -> str:
        """Move a staged output into the store; return its content hash (a manifest's for
        a directory)."""
        if not directory:  # copied, so later writes through the output's inode do not reach it
            temp = f"{staged}.copy"
            h = hashlib.sha256()
            with open(staged, "rb") as src, open(temp, "wb") as dst:
                while block := src.read(1 << 20):
                    h.update(block)
                    dst.write(block)
            sha = h.hexdigest()
            os.makedirs(os.path.dirname(self._object(sha)), exist_ok=True)
            os.replace(temp, self._object(sha))
            os.unlink(staged)
            self._known.add(sha)
            return sha
        items: list[list[str]] = []
        for here, dirs, names in os.walk(staged):
            dirs.sort()
            rel = os.path.relpath(here, staged)
            items.append(["d", rel, ""])
            items += [["f", os.path.join(rel, n),
                       self.put_staged(os.path.join(here, n), False)] for n in sorted(names)]
        shutil.rmtree(staged, ignore_errors=True)
        return self.put_blob(json.dumps(items).encode())

    def write_entries(self, entries: list[Entry]) -> None:
        """One new entry file holding ``entries``, renamed into place in one step."""
        self.write_rows([e.to_row() for e in entries])

    def write_rows(self, rows: list[list[Any]]) -> None:
        """One new entry file holding the entries ``rows`` (Entry.to_row) as one batch
        line (encoded in one call), renamed into place in one step."""
        if rows:
            text = json.dumps({"batch": rows})
            line = f'{text[:-1]}, "check": "{digest(text)}"}}\n'
            self._atomic(os.path.join(self.root, "entries", f"{uuid.uuid1().hex}.jsonl"),
                         line.encode())

    def _object(self, sha: str) -> str:
        return os.path.join(self.root, "objects", sha[:2], sha)

    @staticmethod
    def _atomic(path: str, data: bytes) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        temp = f"{path}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part"
        with open(temp, "wb") as fh:
            fh.write(data)
        os.replace(temp, path)


def entries_of_line(line: str) -> list[Entry] | None:
    """The entries of a line of an entry file (a batch or one), or None if the line is
    torn, altered or malformed."""
    if not line.startswith('{"batch": '):
        entry = Entry.from_line(line)
        return None if entry is None else [entry]
    try:
        doc = json.loads(line)
        check = doc.pop("check")
        if digest(json.dumps(doc)) != check:
            return None
        return [Entry.from_row(row) for row in doc["batch"]]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _link_or_copy(src: str, dst: str) -> str:
    try:
        os.link(src, dst)
    except OSError:  # another file system, or no hard links: copy
        shutil.copy2(src, dst)
    return dst

