"""Pack files: many write-once blobs appended to one file.

A file per blob costs a file creation each (an inode, a directory entry, a rename): on a
parallel file system that is a metadata server's round trip, the classic way to hurt a
Lustre or GPFS; on a local ext4 it still costs as much CPU as hashing a 1 MiB blob. A pack
is created once and appended to; a reader finds a blob by its pack, offset and length.

Large blobs are written past the page cache (``O_DIRECT``): they are written once and read
back only when a run is resumed, and through the cache each byte would be copied into a
fresh cache page that crowds out the data the tasks use. Such a blob starts at a block
boundary (the gap before it is a hole); its last partial block is written buffered. A file
system that refuses ``O_DIRECT`` (tmpfs, some network file systems) gets buffered writes.

A writer killed half-way leaves a blob that no entry names yet (entries are written after
their blobs), and readers check each blob against its hash anyway.
"""

from __future__ import annotations

import errno
import mmap
import os
import threading
import uuid

#: Blobs of at least this many bytes are written direct (block-aligned).
DIRECT_MIN = 256 << 10
#: O_DIRECT needs addresses, lengths and offsets in multiples of the device's block.
ALIGN = 4096
#: The aligned buffer the data passes through, this many bytes at a time.
CHUNK = 1 << 20
#: A pack grows to about this size, then the next blob starts a new one.
PACK_MAX = 1 << 30

_O_DIRECT = getattr(os, "O_DIRECT", 0)


class PackWriter:
    """Appends blobs to pack files in ``folder`` (thread-safe; one pack open at a time)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._name = ""
        self._fd = -1  # buffered
        self._direct_fd = -1  # O_DIRECT, -1 when refused
        self._end = 0
        self._buffer: mmap.mmap | None = None

    def append(self, data: bytes | memoryview) -> tuple[str, int]:
        """Write ``data`` into a pack; return (pack name, offset)."""
        view = memoryview(data).cast("B")
        with self._lock:
            if self._fd < 0 or self._end >= PACK_MAX:
                self._open()
            offset = self._end
            if len(view) >= DIRECT_MIN and self._direct_fd >= 0:
                offset = -(-offset // ALIGN) * ALIGN
                self._write_direct(view, offset)
            else:
                _pwrite_all(self._fd, view, offset)
            self._end = offset + len(view)
            return self._name, offset

    def close(self) -> None:
        """Close the open pack (the next append starts a new one)."""
        with self._lock:
            self._close()

    def _open(self) -> None:
        self._close()
        os.makedirs(self.folder, exist_ok=True)
        self._name = f"{uuid.uuid4().hex}.pack"
        path = os.path.join(self.folder, self._name)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        self._end = 0
        if _O_DIRECT:
            try:
                self._direct_fd = os.open(path, os.O_WRONLY | _O_DIRECT)
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise

    def _close(self) -> None:
        for fd in (self._fd, self._direct_fd):
            if fd >= 0:
                os.close(fd)
        self._fd = self._direct_fd = -1

    def _write_direct(self, view: memoryview, offset: int) -> None:
        whole = len(view) - len(view) % ALIGN
        if self._buffer is None:
            self._buffer = mmap.mmap(-1, CHUNK)  # anonymous maps are page-aligned
        buffer = self._buffer
        try:
            for start in range(0, whole, CHUNK):
                size = min(CHUNK, whole - start)
                buffer[:size] = view[start:start + size]
                _pwrite_all(self._direct_fd, memoryview(buffer)[:size], offset + start)
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            os.close(self._direct_fd)  # refused after all: buffered from now on
            self._direct_fd = -1
            _pwrite_all(self._fd, view, offset)
            return
        if whole < len(view):  # the tail, shorter than a block
            _pwrite_all(self._fd, view[whole:], offset + whole)


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


def _pwrite_all(fd: int, view: memoryview, offset: int) -> None:
    while len(view):
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written
