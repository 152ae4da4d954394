"""Pack files: many write-once blobs appended to one file.

A file per blob costs a file creation each (an inode, a directory entry, a rename): on a
parallel file system that is a round trip to the metadata server, the classic way to hurt
a Lustre or GPFS; on this project's local ext4 it cost as much CPU as hashing a 1 MiB blob.
A pack is created once and appended to; a reader finds a blob by its pack, offset and
length.

(Writing past the page cache with ``O_DIRECT`` was tried: it saves the copy into the cache,
but the disk then sets the pace and a backlog of values builds up in the master.)

A writer killed half-way leaves a blob that no entry names yet (entries are written after
their blobs), and readers check each blob against its hash anyway.
"""

from __future__ import annotations

import os
import threading
import uuid

#: A pack grows to about this size, then the next blob starts a new one.
PACK_MAX = 1 << 30


class PackWriter:
    """Appends blobs to pack files in ``folder`` (thread-safe; one pack open at a time)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._name = ""
        self._fd = -1
        self._end = 0

    def append(self, data: bytes | memoryview) -> tuple[str, int]:
        """Write ``data`` into a pack; return (pack name, offset)."""
        view = memoryview(data).cast("B")
        with self._lock:
            if self._fd < 0 or self._end >= PACK_MAX:
                self._open()
            offset = self._end
            while len(view):
                written = os.pwrite(self._fd, view, self._end)
                view, self._end = view[written:], self._end + written
            return self._name, offset

    def close(self) -> None:
        """Close the open pack (the next append starts a new one)."""
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
            self._fd = -1

    def _open(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        os.makedirs(self.folder, exist_ok=True)
        self._name = f"{uuid.uuid4().hex}.pack"
        self._fd = os.open(os.path.join(self.folder, self._name),
                           os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        self._end = 0


def read_blob(folder: str, name: str, offset: int, length: int) -> bytes | None:
    """The ``length`` bytes at ``offset`` of pack ``name``, or None if unreadable."""
    if os.sep in name or name.startswith("."):
        return None  # a damaged entry must not name a file outside the packs
    try:
        with open(os.path.join(folder, name), "rb") as fh:
            data = os.pread(fh.fileno(), length, offset)
    except (OSError, ValueError, OverflowError):
        return None
    return data if len(data) == length else None
