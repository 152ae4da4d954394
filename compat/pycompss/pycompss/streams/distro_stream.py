"""``ObjectDistroStream`` and ``FileDistroStream`` on a shared file system.

PyCOMPSs runs a stream server (and Kafka for objects); here a stream is a directory that
every node sees (under ``$HPCFLOW_STREAMS_DIR``, else ``.hpcflow-streams`` in the working
directory of the app, which is where the cluster's shared file system is). Producers
(tasks with a ``STREAM_OUT`` parameter) and consumers (``STREAM_IN``, or the main program)
run at the same time: a stream parameter creates no dependency.

- ``publish``/``publish_list`` write each object as one pickle file, renamed into place.
- ``poll(timeout)`` returns what is new; with ``AT_MOST_ONCE`` (the default) each object or
  file goes to one consumer only (claimed by an atomic rename or exclusive create).
- Every task called with the stream as ``STREAM_OUT`` is registered as a writer when it
  is submitted; the stream is closed once each writer has called ``close()`` (or at
  once when the main program calls it).
"""

from __future__ import annotations

import os
import pickle
import time
import uuid
from typing import Any

FILE, OBJECT, PSCO = "FILE", "OBJECT", "PSCO"
AT_MOST_ONCE, AT_LEAST_ONCE = "AT_MOST_ONCE", "AT_LEAST_ONCE"
_POLL_STEP = 0.02  # seconds between looks while poll waits


class DistroStream:
    """What File and Object streams share: identity, writers and closing."""

    def __init__(self, alias: str | None, stream_type: str, access_mode: str) -> None:
        self.alias = alias
        self.stream_type = stream_type
        self.access_mode = access_mode
        self.id = str(uuid.uuid4())
        root = os.environ.get("HPCFLOW_STREAMS_DIR") or os.path.join(os.getcwd(),
                                                                      ".hpcflow-streams")
        self.path = os.path.join(os.path.abspath(root), alias or self.id)
        for part in ("items", "writers", "claimed"):
            os.makedirs(os.path.join(self.path, part), exist_ok=True)
        self._writer: str | None = None
        self._seen: set[str] = set()

    def get_stream_id(self) -> str:
        return self.id

    def get_stream_alias(self) -> str | None:
        return self.alias

    def get_stream_type(self) -> str:
        return self.stream_type

    def as_writer(self) -> DistroStream:
        """A copy for one producer task, registered now (at submission) as a writer."""
        token = uuid.uuid4().hex
        open(os.path.join(self.path, "writers", token), "w").close()
        copy = pickle.loads(pickle.dumps(self))
        copy._writer = token
        return copy

    def close(self) -> None:
        """A producer task: its part is over. The main program: the stream is closed."""
        name = f"{self._writer}.closed" if self._writer else "closed"
        folder = os.path.join(self.path, "writers") if self._writer else self.path
        open(os.path.join(folder, name), "w").close()

    def is_closed(self) -> bool:
        if os.path.exists(os.path.join(self.path, "closed")):
            return True
        names = set(os.listdir(os.path.join(self.path, "writers")))
        writers = {n for n in names if not n.endswith(".closed")}
        return bool(writers) and all(f"{w}.closed" in names for w in writers)

    def _claim(self, name: str) -> bool:
        """AT_MOST_ONCE: the first consumer to claim ``name`` gets it."""
        if self.access_mode != AT_MOST_ONCE:
            return name not in self._seen
        try:
            os.close(os.open(os.path.join(self.path, "claimed", name),
                             os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return False
        return True

    def _wait(self, look: Any, timeout_s: float) -> list[Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            found = look()
            if found or time.monotonic() >= deadline:
                return found
            time.sleep(_POLL_STEP)


class ObjectDistroStream(DistroStream):
    """Objects published by producers, polled by consumers."""

    def __init__(self, alias: str | None = None, access_mode: str = AT_MOST_ONCE) -> None:
        super().__init__(alias, OBJECT, access_mode)

    def publish(self, message: Any) -> None:
        items = os.path.join(self.path, "items")
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex}.pkl"
        with open(os.path.join(items, f".{name}.part"), "wb") as fh:
            pickle.dump(message, fh)
        os.replace(os.path.join(items, f".{name}.part"), os.path.join(items, name))

    def publish_list(self, messages: list[Any]) -> None:
        for message in messages:
            self.publish(message)

    def poll(self, timeout: int = 200) -> list[Any]:
        """New objects, waiting up to ``timeout`` milliseconds for the first one."""
        return self._wait(self._take, timeout / 1000)

    def _take(self) -> list[Any]:
        items = os.path.join(self.path, "items")
        taken = []
        for name in sorted(n for n in os.listdir(items) if n.endswith(".pkl")):
            if name in self._seen or not self._claim(name):
                continue
            self._seen.add(name)
            with open(os.path.join(items, name), "rb") as fh:
                taken.append(pickle.load(fh))
        return taken


class FileDistroStream(DistroStream):
    """Files written by producers into ``base_dir``, polled by consumers as paths."""

    def __init__(self, alias: str | None = None, base_dir: str | None = None,
                 access_mode: str = AT_MOST_ONCE) -> None:
        super().__init__(alias, FILE, access_mode)
        self.base_dir = os.path.abspath(base_dir or os.path.join(self.path, "files"))
        os.makedirs(self.base_dir, exist_ok=True)

    def publish(self, message: Any) -> None:
        """Nothing to do: files written into ``base_dir`` are the stream."""

    def publish_list(self, messages: list[Any]) -> None:
        """Nothing to do: files written into ``base_dir`` are the stream."""

    def poll(self, timeout: int = 0) -> list[str]:
        """Paths of files new in ``base_dir`` (hidden ``.name`` files are in progress)."""
        return self._wait(self._take, timeout / 1000)

    def _take(self) -> list[str]:
        found = []
        for name in sorted(os.listdir(self.base_dir)):
            if name.startswith(".") or name in self._seen or not self._claim(name):
                continue
            self._seen.add(name)
            found.append(os.path.join(self.base_dir, name))
        return found
