"""The PyCOMPSs semantics added after the first compat layer: each one an unmodified
pycompss-only app under ``hpcflow run --compat pycompss``."""

from __future__ import annotations

from test_pycompss_compat import result, run_app


def test_wait_on_tuples_and_several_returns(tmp_path):
    assert result(run_app("waiton_app", cwd=tmp_path)) == {
        "several_type": "list", "several": [1, 2, 3], "tuple_kept": ["tuple", True],
        "tuple_values": [1, 2], "dict": [["k", [5, {"deep": 6}]]], "two_args": [7, 8],
        "subclass_kept": True, "unpacked": [10, 11, 12]}


def test_compss_exception_is_not_retried_and_kills_its_group(tmp_path):
    assert result(run_app("group_attempts", tmp_path, cwd=tmp_path)) == {
        "caught": "stop the group", "compss_attempts": 1, "sleeper_killed": True,
        "plain": "TaskFailed", "plain_attempts": 3}
