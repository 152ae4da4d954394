"""``python -S -m hpcflow.runtime.ckwriter RUN_DIR``: the process that turns finished
tasks with small values into checkpoint entries and writes them (runtime/ckstore.py).

The master's checkpointer sends it batches on its standard input: the length (8 bytes,
little-endian), then a list of :data:`Finished` tasks (runtime/plain.py), their values being
pickled bytes of up to INLINE bytes; it signs those the master left unsigned. For each
batch it writes one entry file and then answers one byte on its standard output (``.``
written, ``!`` not); the checkpointer waits for that byte, so a flush means on disk.
Signing, hashing and encoding the entries cost the master's process about as much as
scheduling the tasks; here they run beside it. It stops at the end of its input.
"""

from __future__ import annotations

import gc
import pickle
import sys
from typing import IO, Any

from hpcflow.runtime import plain
from hpcflow.runtime.ckstore import CheckpointStore
from hpcflow.runtime.signature import FunctionHasher

#: A finished task whose values all go inline: ``(signature, function name, values,
#: writes, call, head)``. A task that reads no input may come unsigned (signature ``""``):
#: its signature is then that of its pickled ``call`` under its function's ``head``
#: (FunctionHasher.head); signed ones carry ``b""`` and ``None`` there.
Finished = tuple[str, str, tuple[bytes, ...], tuple[bytes, ...], bytes, tuple[str, str] | None]


def rows_of(store: CheckpointStore, batch: list[Finished],
            hashers: dict[tuple[str, str], FunctionHasher]) -> list[list[Any]]:
    """The entry rows (Entry.to_row) of ``batch``, signing the unsigned tasks with
    ``hashers`` (one per function head, made on the way)."""
    rows = []
    put = store.put_value
    for sig, name, values, writes, call, head in batch:
        if not sig:
            assert head is not None
            hasher = hashers.get(head)
            if hasher is None:
                hasher = hashers[head] = FunctionHasher(*head)
            sig = hasher.signature(call, ())
        inline: list[list[str]] = []
        rows.append([sig, name, [put(b, inline) for b in values],
                     [put(b, inline) for b in writes], [], inline, []])
    return rows


def serve(source: IO[bytes], answers: IO[bytes], store: CheckpointStore) -> None:
    """Write every batch read from ``source``, answering each, until ``source`` ends."""
    hashers: dict[tuple[str, str], FunctionHasher] = {}
    while True:
        head = source.read(8)
        if len(head) < 8:
            return
        payload = source.read(int.from_bytes(head, "little"))
        try:
            store.write_rows(rows_of(store, plain.loads(payload), hashers))
            answer = b"."
        except (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError) as exc:
            sys.stderr.write(f"hpcflow: warning: cannot write checkpoints: {exc}\n")
            answer = b"!"
        answers.write(answer)
        answers.flush()


def main(argv: list[str]) -> None:
    gc.disable()  # batches hold no cycles; collecting while they are alive doubled its CPU
    serve(sys.stdin.buffer, sys.stdout.buffer, CheckpointStore(argv[1]))


if __name__ == "__main__":
    main(sys.argv)
