"""Task-process messages: data travel as out-of-band buffers and arrive as bytes."""

import dataclasses
import pickle
import socket
import threading
from multiprocessing.connection import Connection

import pytest

from hpcflow.agents.protocol import Assignment, Result, recv_message, send_message
from hpcflow.runtime import trim


def pipe() -> tuple[Connection, Connection]:
    a, b = socket.socketpair()
    return Connection(a.detach()), Connection(b.detach())


def through(sender: Connection, receiver: Connection, message: object) -> object:
    thread = threading.Thread(target=send_message, args=(sender, message))
    thread.start()  # a socket holds less than 1 MiB: send while the other end reads
    got = recv_message(receiver)
    thread.join(timeout=10)
    return got


def test_results_and_assignments_keep_their_data():
    left, right = pipe()
    big = pickle.dumps(bytes(range(256)) * 4096, protocol=5)  # 1 MiB value
    result = Result(7, 1, True, "h", 1, 0.0, 1.0, values=(big, b"x"), writes=(b"w",))
    got = through(left, right, result)
    assert got == result and all(type(v) is bytes for v in got.values + got.writes)
    task = Assignment(3, 1, "f #3", "k", None, b"call", refs=(big, b""))
    got = through(right, left, task)
    assert got == task and type(got.refs[0]) is bytes
    send_message(left, None)
    assert recv_message(right) is None


def test_the_heap_is_trimmed_after_enough_is_released(monkeypatch):
    calls = []
    monkeypatch.setattr(trim, "_malloc_trim", lambda: calls.append)
    trimmer = trim.Trimmer()
    trimmer.released(trim.TRIM_EVERY - 1)
    assert calls == []
    trimmer.released(1)
    trimmer.released(trim.TRIM_EVERY)
    assert calls == [0, 0]


@pytest.mark.parametrize("cls", [Assignment, Result])
def test_every_field_survives_pickling(cls: type) -> None:
    """Assignment and Result pickle as their constructor's arguments: a field added
    without its place in ``__reduce__`` would come back as its default."""
    values = {f.name: f"value of {f.name}" for f in dataclasses.fields(cls)}
    message = cls(**values)
    assert pickle.loads(pickle.dumps(message, protocol=5)) == message
