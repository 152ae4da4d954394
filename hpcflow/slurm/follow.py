"""Follow a job: copy its output files to streams as they grow until Slurm says it ended."""

from __future__ import annotations

import codecs
import os
import time
from collections.abc import Callable, Sequence
from typing import TextIO

from hpcflow.slurm.client import SlurmClient
from hpcflow.slurm.parse import JobInfo


class FileTail:
    """Copies what is appended to a file onto a text stream (UTF-8, bad bytes replaced).

    A file that does not exist yet counts as empty (the job has not started).
    """

    def __init__(self, path: str | os.PathLike[str], stream: TextIO) -> None:
        """Tail ``path`` from its beginning onto ``stream``; reads nothing yet."""
        self.path, self.stream, self.offset = path, stream, 0
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def pump(self, final: bool = False) -> None:
        """Copy the new bytes (and, if ``final``, an incomplete last character)."""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except FileNotFoundError:
            data = b""
        self.offset += len(data)
        text = self.decoder.decode(data, final=final)
        if text:
            self.stream.write(text)
            self.stream.flush()


def follow(
    client: SlurmClient,
    job_id: str,
    tails: Sequence[FileTail],
    *,
    poll: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> JobInfo | None:
    """Pump ``tails`` every ``poll`` seconds until the job is final (or Slurm forgot it).

    The files are read after each state query, so everything a final job wrote is
    copied before this returns the job's last :class:`JobInfo` (None: unknown job).
    """
    while True:
        info = client.job_info(job_id)
        final = info is None or info.is_final
        for tail in tails:
            tail.pump(final=final)
        if final:
            return info
        sleep(poll)
