"""Checkpoints: task signatures (code, closures, constants, inputs) and the on-disk store
(content addresses, atomic writes, corrupt entries ignored)."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

from hpcflow.runtime.ckstore import CheckpointStore, Entry
from hpcflow.runtime.signature import blob_hash, code_hash, file_hash, task_signature


def _define(source: str, name: str = "f", **env: Any) -> Any:
    """A function compiled as in an app's ``__main__`` (no importable module)."""
    namespace: dict[str, Any] = {"__name__": "__main__", **env}
    exec(compile(textwrap.dedent(source), "<app>", "exec"), namespace)
    return namespace[name]


BASE = """
def f(x, n=2):
    return x ** n + 1
"""

# (what changed, source, same signature as BASE?)
CODE_TABLE = [
    ("nothing", BASE, True),
    ("moved down the file", "\n\n\n" + BASE, True),
    ("a comment", BASE.replace("return", "# why\n    return"), True),
    ("the body", BASE.replace("+ 1", "+ 2"), False),
    ("a default", BASE.replace("n=2", "n=3"), False),
    ("an operator", BASE.replace("**", "*"), False),
    ("a parameter name", BASE.replace("x", "y"), False),
]


@pytest.mark.parametrize(("change", "source", "same"), CODE_TABLE, ids=[c[0] for c in CODE_TABLE])
def test_code_hash_follows_the_code_not_its_place(change: str, source: str, same: bool) -> None:
    assert (code_hash(_define(source)) == code_hash(_define(BASE))) is same


def test_code_hash_sees_closures_helpers_and_constants() -> None:
    def make(k: int) -> Any:
        def inner(x: int) -> int:
            return x + k
        return inner

    assert code_hash(make(1)) == code_hash(make(1))
    assert code_hash(make(1)) != code_hash(make(2))
    helper = "def helper(x):\n    return x * {}\n\ndef f(x):\n    return helper(x) + LIMIT\n"
    one = _define(helper.format(2), LIMIT=10)
    assert code_hash(one) == code_hash(_define(helper.format(2), LIMIT=10))
    assert code_hash(one) != code_hash(_define(helper.format(3), LIMIT=10))  # helper edited
    assert code_hash(one) != code_hash(_define(helper.format(2), LIMIT=11))  # constant


def test_code_hash_of_set_constants_does_not_depend_on_the_hash_seed() -> None:
    source = "def f(x):\n    return x in {'alpha', 'beta', 'gamma', 'delta'}\n"
    first = code_hash(_define(source))
    for _ in range(3):
        assert code_hash(_define(source)) == first


def test_task_signature_changes_with_each_part() -> None:
    base = task_signature("m.f", "code", b"call", ["in1", "in2"])
    assert base == task_signature("m.f", "code", b"call", ["in1", "in2"])
    others = [task_signature("m.g", "code", b"call", ["in1", "in2"]),
              task_signature("m.f", "code2", b"call", ["in1", "in2"]),
              task_signature("m.f", "code", b"call2", ["in1", "in2"]),
              task_signature("m.f", "code", b"call", ["in1", "in3"]),
              task_signature("m.f", "code", b"call", ["in1in2"])]
    assert len({base, *others}) == 6


def test_file_hash_is_the_content_sha256_and_sees_changes(tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    path.write_bytes(b"abc")
    assert file_hash(str(path)) == blob_hash(b"abc")
    path.write_bytes(b"abcd")
    assert file_hash(str(path)) == blob_hash(b"abcd")
    assert file_hash(str(tmp_path / "none")) == "missing"


def _entry(sig: str = "s1") -> Entry:
    return Entry(sig, "f", ("a" * 64,), (), (("/out/x", "b" * 64, False),))


def test_entry_lines_round_trip_and_reject_damage() -> None:
    line = _entry().to_line()
    assert Entry.from_line(line) == _entry()
    assert Entry.from_line(line[: len(line) // 2]) is None  # torn
    assert Entry.from_line(line.replace('"f"', '"g"')) is None  # altered
    assert Entry.from_line("not json\n") is None


def test_blobs_are_content_addressed_and_checked_on_reading(tmp_path: Path) -> None:
    store = CheckpointStore(str(tmp_path))
    sha = store.put_blob(b"value")
    assert sha == blob_hash(b"value") and store.read_blob(sha) == b"value"
    assert store.put_blob(b"value") == sha
    path = Path(store.root, "objects", sha[:2], sha)
    path.write_bytes(b"val")  # truncated
    assert store.read_blob(sha) is None
    assert store.read_blob("0" * 64) is None
    assert not list(Path(store.root).rglob("*.part"))  # nothing half-written is left


def test_entries_are_written_whole_and_damaged_ones_ignored(tmp_path: Path) -> None:
    store = CheckpointStore(str(tmp_path))
    store.write_entries([_entry("s1"), _entry("s2")])
    folder = Path(store.root, "entries")
    (folder / "torn.jsonl").write_text(_entry("s3").to_line()[:40])
    (folder / "ignored.part").write_text(_entry("s4").to_line())  # a writer killed mid-way
    loaded = CheckpointStore(str(tmp_path))
    assert loaded.load() == 2 and set(loaded.entries) == {"s1", "s2"}
    assert loaded.corrupt == 1


def test_output_files_and_directories_are_stored_and_restored(tmp_path: Path) -> None:
    store = CheckpointStore(str(tmp_path / "run"))
    out = tmp_path / "out.txt"
    out.write_text("result")
    sha = store.put_staged(store.stage(str(out), False), False)
    out.write_text("changed later")  # written in place afterwards: the store keeps its copy
    target = tmp_path / "restored" / "out.txt"
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "a").write_text("A")
    (tree / "b").write_text("B")
    manifest = store.put_staged(store.stage(str(tree), True), True)
    assert store.restore_tree(manifest, str(tmp_path / "tree2"))
    assert (tmp_path / "tree2" / "sub" / "a").read_text() == "A"
    assert (tmp_path / "tree2" / "b").read_text() == "B"
    assert not os.listdir(Path(store.root, "staging"))
    assert store.restore_file(sha, str(target)) and target.read_text() == "result"
    Path(store.root, "objects", sha[:2], sha).write_text("resul")  # damaged: never trusted
    assert not store.restore_file(sha, str(target))


def test_small_values_travel_inline_large_ones_as_blobs(tmp_path: Path) -> None:
    store = CheckpointStore(str(tmp_path))
    inline: list[list[str]] = []
    small, large = store.put_value(b"x" * 10, inline), store.put_value(b"y" * 5000, inline)
    assert [sha for sha, _ in inline] == [small]
    entry = Entry("s", "f", (small, large), (), (), tuple((k, v) for k, v in inline))
    assert Entry.from_line(entry.to_line()) == entry
    assert store.value(entry, small) == b"x" * 10 and store.value(entry, large) == b"y" * 5000
    wrong = Entry("s", "f", (small,), (), (), ((small, "eHh4"),))  # b"xxx": not its hash
    assert store.value(wrong, small) is None


def test_many_entry_files_are_merged_on_loading(tmp_path: Path) -> None:
    store = CheckpointStore(str(tmp_path))
    for index in range(5):
        store.write_entries([_entry(f"s{index}")])
    Path(store.root, "staging").mkdir()
    Path(store.root, "staging", "left-by-a-killed-run").write_text("x")
    assert CheckpointStore(str(tmp_path)).load(compact_above=3) == 5
    assert len(os.listdir(Path(store.root, "entries"))) == 1
    again = CheckpointStore(str(tmp_path))
    assert again.load() == 5 and again.entries["s3"] == _entry("s3")
    assert not Path(store.root, "staging").exists()


@pytest.mark.parametrize("entry", [
    Entry("ab" * 32, "noop", ("1" * 64,), (), (), (("1" * 64, "gAQ="),)),
    Entry("cd" * 32, "n\u00e9\"q\\", ("2" * 64, "3" * 64), ("4" * 64,),
          (("/tmp/o \"ut\u00e9.txt", "5" * 64, False), ("/d", "6" * 64, True)),
          (("f" * 64, "AA=="), ("0" * 64, "AQ=="), ("f" * 64, "AA=="))),
    Entry("ef" * 32, "none", (), (), ()),
])
def test_an_entry_line_is_the_sorted_json_of_its_body_with_its_check(entry: Entry) -> None:
    import json

    line = entry.to_line()
    doc = json.loads(line)
    assert len(doc.pop("check")) == 64
    body = {"sig": entry.sig, "name": entry.name, "values": list(entry.values),
            "writes": list(entry.writes), "files": [list(f) for f in entry.files],
            "inline": dict(entry.inline)}
    assert doc == body
    assert line.startswith(json.dumps(body, sort_keys=True)[:-1] + ", ")
    assert Entry.from_line(line) is not None
    assert Entry.from_line(line.replace(entry.sig, "00" * 32)) is None


def test_a_batch_line_holds_many_entries_and_is_checked_whole(tmp_path: Path) -> None:
    from hpcflow.runtime.ckstore import entries_of_line

    store = CheckpointStore(str(tmp_path))
    entries = [_entry(f"s{i}") for i in range(3)] + [
        Entry("u", "n\u00e9", ("1" * 64,), (), (("/o", "2" * 64, True),), (("1" * 64, "AA=="),))]
    store.write_rows([e.to_row() for e in entries])
    folder = Path(store.root, "entries")
    (line,) = [p.read_text() for p in folder.glob("*.jsonl")]
    assert line.startswith('{"batch": ') and line.count("\n") == 1
    assert entries_of_line(line) == entries
    assert entries_of_line(line.replace('"s1"', '"s9"')) is None  # altered: none trusted
    assert entries_of_line(line[:-30]) is None  # torn
    (folder / "old.jsonl").write_text(_entry("single").to_line())  # a line of one entry
    loaded = CheckpointStore(str(tmp_path))
    assert loaded.load() == 5 and loaded.entries["u"] == entries[3]


@pytest.mark.parametrize("inputs", [[], ["value:" + "0" * 64], ["a:return0", "file:x:1"]])
def test_a_signature_is_the_digest_of_its_parts_as_before(inputs: list[str]) -> None:
    """Checkpoints of earlier runs stay valid: the function's name and code are hashed
    once per function now, into the same digest."""
    from hpcflow.runtime.signature import FunctionHasher, digest

    call = b"\x80\x05call"
    expected = digest("mod.f", "code-hash", blob_hash(call), *inputs)
    assert task_signature("mod.f", "code-hash", call, inputs) == expected
    hasher = FunctionHasher("mod.f", "code-hash")
    assert hasher.signature(call, inputs) == hasher.signature(call, inputs) == expected


@pytest.mark.parametrize("size", [5000, 300_001, 3 << 20])
def test_large_values_go_into_a_pack_and_come_back_after_loading(tmp_path: Path,
                                                                  size: int) -> None:
    store = CheckpointStore(str(tmp_path))
    inline: list[list[str]] = []
    packed: list[list[Any]] = []
    first, second = os.urandom(size), os.urandom(size // 2 + 7)
    shas = [store.put_value(b, inline, packed) for b in (first, second, first)]
    assert shas[0] == shas[2] == blob_hash(first) and inline == []
    assert packed[0] is packed[2]  # the same bytes are stored once
    store.write_rows([["s", "f", shas, [], [], inline, packed]])
    store.close()
    assert not Path(store.root, "objects").exists()  # no file per value
    (pack,) = Path(store.root, "packs").iterdir()
    assert pack.stat().st_size >= size + size // 2
    again = CheckpointStore(str(tmp_path))
    assert again.load() == 1
    entry = again.entries["s"]
    assert again.value(entry, shas[0]) == first and again.value(entry, shas[1]) == second
    with open(pack, "r+b") as fh:  # one byte of the second value damaged
        fh.seek(packed[1][2] + 100)
        fh.write(bytes([second[100] ^ 1]))
    assert again.value(entry, shas[1]) is None and again.value(entry, shas[0]) == first


def test_a_pack_name_from_a_damaged_entry_cannot_leave_the_packs(tmp_path: Path) -> None:
    from hpcflow.runtime.packfile import read_blob

    (tmp_path / "secret").write_bytes(b"x" * 10)
    (tmp_path / "packs").mkdir()
    assert read_blob(str(tmp_path / "packs"), "../secret", 0, 10) is None
    assert read_blob(str(tmp_path / "packs"), "missing.pack", 0, 10) is None


def test_a_pack_keeps_every_byte_of_blobs_of_any_size(tmp_path: Path) -> None:
    from hpcflow.runtime import packfile
    from hpcflow.runtime.packfile import PackWriter, read_blob

    writer = PackWriter(str(tmp_path))
    blobs = [os.urandom(n) for n in (10, 300_001, 3, 5 << 20, 4000)]
    places = [writer.append(b) for b in blobs]
    assert len({name for name, _ in places}) == 1
    for (name, offset), blob in zip(places, blobs, strict=True):
        assert read_blob(str(tmp_path), name, offset, len(blob)) == blob
    assert read_blob(str(tmp_path), places[0][0], places[-1][1], 4001) is None  # past the end
    packfile.PACK_MAX, saved = 100, packfile.PACK_MAX
    try:  # a full pack: the next blob starts another
        assert writer.append(b"x")[0] != places[0][0]
    finally:
        packfile.PACK_MAX = saved
    writer.close()


def test_the_writer_process_writes_each_batch_then_answers(tmp_path: Path) -> None:
    import io

    from hpcflow.runtime import plain
    from hpcflow.runtime.ckwriter import serve

    batch = [("s1", "f", (b"\x80\x05K\x01.",), (), b"", None),
             ("s2", "g", (), (b"xy",), b"", None)]
    payload = plain.dumps(batch)
    source = io.BytesIO(len(payload).to_bytes(8, "little") + payload
                        + (5).to_bytes(8, "little") + b"junk!")
    answers = io.BytesIO()
    serve(source, answers, CheckpointStore(str(tmp_path)))
    assert answers.getvalue() == b".!"  # the second batch is no list of tasks: said so
    loaded = CheckpointStore(str(tmp_path))
    assert loaded.load() == 2
    entry = loaded.entries["s2"]
    assert entry.name == "g" and loaded.value(entry, entry.writes[0]) == b"xy"


@pytest.mark.parametrize("process", [True, False])
def test_the_writer_signs_a_task_left_unsigned_as_the_master_would(
        tmp_path: Path, process: bool) -> None:
    import io

    from hpcflow.runtime import plain
    from hpcflow.runtime.ckwriter import rows_of, serve
    from hpcflow.runtime.signature import FunctionHasher

    head = ("app.f", "code of f")
    batch = [("", "f", (b"v%d" % i,), (), b"call %d" % i, head) for i in range(3)]
    store = CheckpointStore(str(tmp_path))
    if process:
        payload = plain.dumps(batch)
        serve(io.BytesIO(len(payload).to_bytes(8, "little") + payload), io.BytesIO(), store)
    else:
        store.write_rows(rows_of(store, batch, {}))
    loaded = CheckpointStore(str(tmp_path))
    assert loaded.load() == 3
    for i in range(3):  # the signature the master computes of a task with no inputs
        sig = task_signature("app.f", "code of f", b"call %d" % i, [])
        assert sig == FunctionHasher(*head).signature(b"call %d" % i, [])
        assert loaded.value(loaded.entries[sig], loaded.entries[sig].values[0]) == b"v%d" % i


@pytest.mark.parametrize("process", ["runs", "cannot start"])
def test_small_entries_are_written_with_or_without_the_writer_process(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, process: str) -> None:
    from hpcflow.runtime import checkpoint

    if process == "cannot start":
        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise OSError("no fork")
        monkeypatch.setattr(checkpoint, "start_helper", refuse)
    writer = checkpoint.Checkpointer(CheckpointStore(str(tmp_path))).start(resume=False)
    writer._small_tasks.extend([(f"s{i}", "f", (b"v%d" % i,), (), b"", None) for i in range(3)])
    assert writer.flush(30) and writer._process is None  # a few: written here
    many = checkpoint.PROCESS_FROM
    writer._small_tasks.extend([(f"m{i}", "f", (b"v%d" % i,), (), b"", None)
                                for i in range(many)])
    assert writer.flush(30)
    assert (writer._process is not None) == (process == "runs")
    writer.close()
    loaded = CheckpointStore(str(tmp_path))
    assert loaded.load() == 3 + many
    assert loaded.value(loaded.entries["s2"], loaded.entries["s2"].values[0]) == b"v2"


def test_entries_are_written_here_once_the_writer_process_died(tmp_path: Path) -> None:
    from hpcflow.runtime import checkpoint

    writer = checkpoint.Checkpointer(CheckpointStore(str(tmp_path))).start(resume=False)
    many = checkpoint.PROCESS_FROM
    writer._small_tasks.extend([(f"s{i}", "f", (b"v",), (), b"", None) for i in range(many)])
    assert writer.flush(30) and writer._process is not None
    writer._process.kill()
    writer._process.wait()
    writer._small_tasks.extend([(f"t{i}", "f", (b"v",), (), b"", None) for i in range(many)])
    assert writer.flush(30)
    writer.close()
    assert CheckpointStore(str(tmp_path)).load() == 2 * many


def test_the_master_waits_while_the_writers_backlog_is_full(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from hpcflow.runtime import checkpoint

    monkeypatch.setattr(checkpoint, "BACKLOG_MAX", 100)
    writer = checkpoint.Checkpointer(CheckpointStore(str(tmp_path))).start(resume=False)
    writer._reserve(150)  # under the limit when asked: at once
    second = threading.Thread(target=writer._reserve, args=(10,))
    second.start()
    second.join(0.3)
    assert second.is_alive()  # over the limit: waits for the writer
    writer._written(150)
    second.join(5)
    assert not second.is_alive() and writer._backlog == 10
    writer.close()
