"""``python -S -m hpcflow.runtime.eventwriter PATH``: the process that encodes a run's
events as JSON lines and appends them to PATH.

The master's event log sends it batches of events on its standard input: a kind byte
(``V``: the batch as runtime/plain.py writes it; ``T``: already encoded text, when a value
does not pickle), the length (8 bytes, little-endian), the payload.
Encoding costs the master's process more than the tasks it schedules; here it runs beside
it. It stops at the end of its input.
"""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Callable
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import IO, Any

from hpcflow.runtime import plain

#: The fields of the events emitted for every task, in order: these travel as tuples (a
#: third of the cost of a dict to make and send), and become the same JSON objects.
ROWS = {"submitted": ("task", "name", "deps", "reads", "writes", "group"),
        "started": ("task", "node", "attempt", "version", "cores"),
        "finished": ("task", "node", "attempt", "host", "pid", "started", "ended")}

#: (time, name, fields): a dict, or a tuple in the order ROWS gives for that name.
Event = tuple[float, str, dict[str, Any] | tuple[Any, ...]]


def encoder() -> Callable[[Any, int], tuple[str, ...]]:
    """``json.dumps(obj, default=str)`` without its per-call set-up: the C encoder."""
    if c_make_encoder is None:  # no C accelerator: the same text, slower
        dumps = json.JSONEncoder(default=str).encode
        return lambda obj, _: (dumps(obj),)
    return c_make_encoder(None, str, encode_basestring_ascii, None, ": ", ", ", False, False,
                          True)


def encode_events(batch: list[Event], encode: Callable[[Any, int], tuple[str, ...]]) -> str:
    """The JSON lines of ``batch``: time and name, then the fields (encoded alone and
    spliced in: a third cheaper than encoding a merged copy)."""
    lines = []
    for when, event, fields in batch:
        if type(fields) is tuple:
            fields = dict(zip(ROWS[event], fields, strict=True))
        head = f'{{"t": {when:.6f}, "event": {encode_basestring_ascii(event)}'
        lines.append(f"{head}, {encode(fields, 0)[0][1:]}\n" if fields else f"{head}}}\n")
    return "".join(lines)


def serve(source: IO[bytes], out: IO[str]) -> None:
    """Append every batch read from ``source`` to ``out`` until ``source`` ends."""
    encode = encoder()
    while True:
        head = source.read(9)
        if len(head) < 9:
            return
        payload = source.read(int.from_bytes(head[1:], "little"))
        if head[:1] == b"T":
            text = payload.decode("utf-8")
        else:
            try:
                text = encode_events(plain.loads(payload), encode)
            except Exception as exc:  # an event whose value cannot be read back here
                text = encode({"event": "event_log_error",
                               "error": f"{type(exc).__name__}: {exc}"}, 0)[0] + "\n"
        out.write(text)
        out.flush()


def main(argv: list[str]) -> None:
    gc.disable()  # batches hold no cycles; collecting while they are alive doubled its CPU
    with open(argv[1], "a", encoding="utf-8") as out:
        serve(sys.stdin.buffer, out)


if __name__ == "__main__":
    main(sys.argv)
