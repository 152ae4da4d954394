"""Behaviour of the data-flow model on the local runtime: dependencies and versions."""

from __future__ import annotations

import os
import time

from hpcflow import (
    COLLECTION_IN,
    COLLECTION_INOUT,
    DIRECTORY_OUT,
    FILE_IN,
    FILE_INOUT,
    FILE_OUT,
    INOUT,
    barrier,
    delete_file,
    open_file,
    task,
    wait_on,
    wait_on_file,
)


@task(returns=1)
def add(a, b):
    return a + b


@task(returns=2)
def divmod_task(a, b):
    return divmod(a, b)


@task(x=INOUT)
def append(x, value):
    x.append(value)


@task(returns=1)
def stamp(label, seconds, _dep=None):
    start = time.time()
    time.sleep(seconds)
    return (label, start, time.time())


@task(x=INOUT, returns=1)
def slow_append(x, value, seconds):
    start = time.time()
    time.sleep(seconds)
    x.append(value)
    return ("writer", start, time.time())


@task(returns=1)
def slow_read(x, seconds):
    start = time.time()
    time.sleep(seconds)
    return (list(x), start, time.time())


@task(path=FILE_OUT)
def write_text(path, text):
    with open(path, "w") as fh:
        fh.write(text)


@task(path=FILE_INOUT)
def append_text(path, text):
    with open(path, "a") as fh:
        fh.write(text)


@task(returns=1, path=FILE_IN)
def read_text(path, seconds=0.0):
    time.sleep(seconds)
    with open(path) as fh:
        return fh.read()


@task(out=DIRECTORY_OUT)
def make_dir(out, n):
    os.makedirs(out, exist_ok=True)
    for i in range(n):
        with open(os.path.join(out, f"f{i}"), "w") as fh:
            fh.write(str(i))


@task(returns=1, items=COLLECTION_IN)
def total(items):
    return sum(items)


@task(items=COLLECTION_INOUT)
def bump_all(items):
    for item in items:
        item.append(len(item))


def test_futures_chain_in_dependency_order(runtime):
    f = add(1, 2)
    g = add(f, 10)
    h = add(g, f)
    assert wait_on(h) == 16
    q, r = divmod_task(h, 5)
    assert wait_on(q, r) == [3, 1]


def test_nested_futures_in_plain_arguments_are_dependencies(runtime):
    parts = [add(i, i) for i in range(5)]
    assert wait_on(total(parts)) == 20
    assert wait_on(add({"a": parts[1]}["a"], 1)) == 3


def test_inout_updates_the_callers_object_in_order(runtime):
    data = [0]
    for i in range(1, 6):
        append(data, i)
    same = wait_on(data)
    assert same is data
    assert data == [0, 1, 2, 3, 4, 5]


def test_readers_see_the_version_they_were_submitted_against(runtime):
    data = [1]
    first = slow_read(data, 0.0)
    append(data, 2)
    second = slow_read(data, 0.0)
    assert wait_on(first)[0] == [1]
    assert wait_on(second)[0] == [1, 2]


def test_reader_of_v1_runs_alongside_writer_of_v2(runtime):
    data = [1]
    reader = slow_read(data, 1.0)  # reads v0
    writer = slow_append(data, 2, 1.0)  # writes v1
    (seen, r0, r1), (_, w0, w1) = wait_on(reader), wait_on(writer)
    assert seen == [1]
    assert w0 < r1 and r0 < w1, "the writer waited for the reader (false WAR dependency)"
    assert wait_on(data) == [1, 2]


def test_files_are_tracked_by_path(runtime, tmp_path):
    path = tmp_path / "out.txt"
    write_text(str(path), "a")
    append_text(str(path), "b")
    append_text(str(path), "c")
    assert wait_on(read_text(str(path))) == "abc"
    assert wait_on_file(str(path)) == str(path)
    assert path.read_text() == "abc"


def test_file_reader_of_v1_keeps_v1_while_v2_is_written(runtime, tmp_path):
    path = str(tmp_path / "data.txt")
    write_text(path, "one")
    slow = read_text(path, 1.0)
    write_text(path, "two")
    assert wait_on(slow) == "one"
    assert wait_on(read_text(path)) == "two"


def test_open_file_waits_for_the_writer(runtime, tmp_path):
    path = str(tmp_path / "x.txt")
    write_text(path, "hello")
    with open_file(path) as fh:
        assert fh.read() == "hello"
    with open_file(path, "a") as fh:
        fh.write(" world")
    assert wait_on(read_text(path)) == "hello world"


def test_no_partial_file_is_left_looking_complete(runtime, tmp_path):
    path = tmp_path / "big.txt"
    write_text(str(path), "x" * 10)
    barrier()
    assert path.read_text() == "x" * 10
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".part")]


def test_directory_out(runtime, tmp_path):
    out = str(tmp_path / "d")
    make_dir(out, 3)
    wait_on_file(out)
    assert sorted(os.listdir(out)) == ["f0", "f1", "f2"]
    make_dir(out, 1)
    delete_file(out)
    assert not os.path.exists(out)


def test_collection_inout_updates_each_element(runtime):
    items = [[1], [2, 2], [3]]
    bump_all(items)
    bump_all(items)
    assert wait_on(items) == [[1, 1, 2], [2, 2, 2, 3], [3, 1, 2]]


def test_barrier_waits_for_everything(runtime):
    data = []
    for i in range(4):
        append(data, i)
    barrier()
    assert runtime.graph.all_final()
    assert wait_on(data) == [0, 1, 2, 3]


def test_parallel_tasks_overlap(runtime):
    a = stamp("a", 0.5)
    b = stamp("b", 0.5)
    (_, a0, a1), (_, b0, b1) = wait_on(a, b)
    assert a0 < b1 and b0 < a1
