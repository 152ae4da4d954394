"""``python -S -m hpcflow.runtime.ckwriter RUN_DIR``: the process that turns finished
tasks with small values into checkpoint entries and writes them (runtime/ckstore.py).

The master's checkpointer sends it batches on its standard input: the length (8 bytes,
little-endian), then a pickled list of ``(signature, function name, values, writes)``,
the values being pickled bytes of up to INLINE bytes. For each batch it writes one
entry file and then answers one byte on its standard output (``.`` written, ``!`` not);
the checkpointer waits for that byte, so a flush means on disk. Hashing and encoding the
entries cost the master's process about as much as scheduling the tasks; here they run
beside it. It stops at the end of its input.
"""

from __future__ import annotations

import pickle
import sys
from typing import IO, Any

from hpcflow.runtime.ckstore import CheckpointStore

Finished = tuple[str, str, tuple[bytes, ...], tuple[bytes, ...]]


def rows_of(store: CheckpointStore, batch: list[Finished]) -> list[list[Any]]:
    """The entry rows (Entry.to_row) of finished tasks whose values all go inline."""
    rows = []
    put = store.put_value
    for sig, name, values, writes in batch:
        inline: list[list[str]] = []
        rows.append([sig, name, [put(b, inline) for b in values],
                     [put(b, inline) for b in writes], [], inline, []])
    return rows


def serve(source: IO[bytes], answers: IO[bytes], store: CheckpointStore) -> None:
    """Write every batch read from ``source``, answering each, until ``source`` ends."""
    while True:
        head = source.read(8)
        if len(head) < 8:
            return
        payload = source.read(int.from_bytes(head, "little"))
        try:
            store.write_rows(rows_of(store, pickle.loads(payload)))
            answer = b"."
        except (OSError, pickle.UnpicklingError, ValueError, TypeError) as exc:
            sys.stderr.write(f"hpcflow: warning: cannot write checkpoints: {exc}\n")
            answer = b"!"
        answers.write(answer)
        answers.flush()


def main(argv: list[str]) -> None:
    serve(sys.stdin.buffer, sys.stdout.buffer, CheckpointStore(argv[1]))


if __name__ == "__main__":
    main(sys.argv)
