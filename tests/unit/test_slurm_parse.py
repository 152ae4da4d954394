"""Pure parsers of Slurm output, checked against tables of real-format text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hpcflow.slurm.parse import (
    FINAL_STATES,
    STATE_TABLE,
    JobState,
    SlurmParseError,
    expand_nodelist,
    job_info_from_scontrol,
    parse_cpus_per_node,
    parse_exit_code,
    parse_hostnames,
    parse_sacct,
    parse_sbatch_parsable,
    parse_scontrol_jobs,
    parse_scontrol_show_job,
    parse_sinfo_nodes,
    parse_squeue,
    parse_squeue_json,
    parse_state,
)

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(
    ("text", "state"),
    [
        ("PENDING", JobState.PENDING),
        ("PD", JobState.PENDING),
        ("CONFIGURING", JobState.PENDING),
        ("RUNNING", JobState.RUNNING),
        ("R", JobState.RUNNING),
        ("running", JobState.RUNNING),
        ("COMPLETING", JobState.COMPLETING),
        ("CG", JobState.COMPLETING),
        ("COMPLETED", JobState.COMPLETED),
        ("CD", JobState.COMPLETED),
        ("FAILED", JobState.FAILED),
        ("CANCELLED", JobState.CANCELLED),
        ("CANCELLED by 0", JobState.CANCELLED),
        ("CANCELLED+", JobState.CANCELLED),
        ("CA", JobState.CANCELLED),
        ("TIMEOUT", JobState.TIMEOUT),
        ("NODE_FAIL", JobState.NODE_FAIL),
        ("PREEMPTED", JobState.PREEMPTED),
        ("OUT_OF_MEMORY", JobState.OUT_OF_MEMORY),
        ("OOM", JobState.OUT_OF_MEMORY),
        ("SUSPENDED", JobState.SUSPENDED),
        ("REQUEUED", JobState.REQUEUED),
        ("REQUEUE_HOLD", JobState.REQUEUED),
        ("RESIZING", JobState.RESIZING),
        ("BOOT_FAIL", JobState.BOOT_FAIL),
        ("DEADLINE", JobState.DEADLINE),
        ("  RUNNING\n", JobState.RUNNING),
        ("", JobState.UNKNOWN),
        ("WEIRD_NEW_STATE", JobState.UNKNOWN),
    ],
)
def test_parse_state(text: str, state: JobState) -> None:
    assert parse_state(text) is state


def test_state_table_covers_every_state_but_unknown() -> None:
    assert set(STATE_TABLE.values()) == set(JobState) - {JobState.UNKNOWN}
    for name in JobState:
        if name is not JobState.UNKNOWN:
            assert STATE_TABLE[name.value] is name


def test_final_states() -> None:
    assert JobState.COMPLETED.is_final and JobState.OUT_OF_MEMORY.is_final
    assert not any(s.is_final for s in (JobState.PENDING, JobState.RUNNING, JobState.COMPLETING))
    assert JobState.UNKNOWN not in FINAL_STATES


@pytest.mark.parametrize(
    ("out", "job_id"),
    [("123\n", "123"), ("123;cluster1\n", "123"), ("  77  ", "77"), ("warning\n88\n", "88")],
)
def test_parse_sbatch_parsable(out: str, job_id: str) -> None:
    assert parse_sbatch_parsable(out) == job_id


@pytest.mark.parametrize("out", ["", "\n", "Submitted batch job 12\n", "abc;cluster"])
def test_parse_sbatch_parsable_rejects(out: str) -> None:
    with pytest.raises(SlurmParseError, match="no job id"):
        parse_sbatch_parsable(out)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("node1", ["node1"]),
        ("node[1-3]", ["node1", "node2", "node3"]),
        ("node[1-3,5]", ["node1", "node2", "node3", "node5"]),
        ("node[1-3,5],gpu[01-02]", ["node1", "node2", "node3", "node5", "gpu01", "gpu02"]),
        ("n[08-11]", ["n08", "n09", "n10", "n11"]),
        ("n[9-10]", ["n9", "n10"]),
        ("a,b,c", ["a", "b", "c"]),
        ("r[1-2]n[1-2]", ["r1n1", "r1n2", "r2n1", "r2n2"]),
        ("cn[1-2]-ib", ["cn1-ib", "cn2-ib"]),
        ("gs01r2b[01-02],gs02r1b05", ["gs01r2b01", "gs01r2b02", "gs02r1b05"]),
        ("node[7]", ["node7"]),
        ("", []),
        ("(null)", []),
        (" node[1-2]\n", ["node1", "node2"]),
    ],
)
def test_expand_nodelist(text: str, expected: list[str]) -> None:
    assert expand_nodelist(text) == expected


@pytest.mark.parametrize(
    "text", ["node[1-3", "node]1[", "node[3-1]", "node[a-b]", "node[]", "a,,b", "n[[1]]", "a b"]
)
def test_expand_nodelist_rejects(text: str) -> None:
    with pytest.raises(SlurmParseError, match="hostlist"):
        expand_nodelist(text)


def test_expand_nodelist_refuses_huge_ranges() -> None:
    with pytest.raises(SlurmParseError):
        expand_nodelist("n[1-99999999]")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4", [4]),
        ("4(x2)", [4, 4]),
        ("4(x2),2", [4, 4, 2]),
        ("112(x3),56,1(x2)", [112, 112, 112, 56, 1, 1]),
    ],
)
def test_parse_cpus_per_node(text: str, expected: list[int]) -> None:
    assert parse_cpus_per_node(text) == expected


@pytest.mark.parametrize("text", ["", "4(x)", "x2", "4(2)", "4,,2"])
def test_parse_cpus_per_node_rejects(text: str) -> None:
    with pytest.raises(SlurmParseError, match="CPUs-per-node"):
        parse_cpus_per_node(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0:0", (0, 0)), ("1:0", (1, 0)), ("0:15", (0, 15)), ("", (None, None)), (None, (None, None))],
)
def test_parse_exit_code(text: str | None, expected: tuple[int | None, int | None]) -> None:
    assert parse_exit_code(text) == expected


def test_parse_hostnames_and_sinfo() -> None:
    assert parse_hostnames("node1\nnode2\n\n") == ["node1", "node2"]
    assert parse_sinfo_nodes("node1\nnode2\nnode2\nnode[3-4]\n") == [
        "node1",
        "node2",
        "node3",
        "node4",
    ]
    assert parse_sinfo_nodes("") == []


# --------------------------------------------------------------------------- scontrol


def scontrol_lines() -> list[str]:
    return [
        line
        for line in (DATA / "scontrol_show_job.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]


def test_scontrol_running_job() -> None:
    fields = parse_scontrol_show_job(scontrol_lines()[1])
    assert fields["JobId"] == "2"
    assert fields["JobState"] == "RUNNING"
    assert fields["NodeList"] == "node[3-4]"
    assert fields["TRES"] == "cpu=8,node=2,billing=8"
    assert fields["AllocNode:Sid"] == "localhost:1996"
    assert fields["CPUs/Task"] == "4"
    assert fields["ReqB:S:C:T"] == "0:0:*:*"
    assert fields["Power"] == ""
    info = job_info_from_scontrol(fields)
    assert info.state is JobState.RUNNING
    assert info.nodes == ("node3", "node4")
    assert info.num_nodes == 2
    assert info.partition == "debug"
    assert info.reason is None
    assert (info.exit_code, info.exit_signal) == (0, 0)
    assert info.workdir == "/tmp/hpcflow probe dir"
    assert info.name == "cancel-me"


def test_scontrol_free_text_values_with_spaces_and_equals() -> None:
    fields = parse_scontrol_show_job(scontrol_lines()[0])
    assert fields["JobName"] == "my job name"
    assert fields["Command"] == "/tmp/hpcflow probe dir/run me.sh A=1 --x=y"
    assert fields["WorkDir"] == "/tmp/hpcflow probe dir"
    assert fields["Comment"] == "hpcflow session=abc def"
    assert fields["StdOut"] == "/tmp/hpcflow probe dir/o 1.out"
    assert fields["StdErr"] == "/tmp/hpcflow probe dir/o 1.out"
    assert fields["UserId"] == "root(0)"
    assert fields["Priority"] == "4294901759"


def test_scontrol_pending_job() -> None:
    info = job_info_from_scontrol(parse_scontrol_show_job(scontrol_lines()[2]))
    assert info.state is JobState.PENDING
    assert info.nodes == ()
    assert info.reason is not None and info.reason.startswith("Nodes_required_for_job")
    assert info.num_nodes == 4  # printed as "NumNodes=4-4" while pending


def test_scontrol_finished_jobs() -> None:
    failed, cancelled = (job_info_from_scontrol(parse_scontrol_show_job(line))
                         for line in scontrol_lines()[3:5])  # fmt: skip
    assert failed.state is JobState.FAILED
    assert (failed.exit_code, failed.exit_signal) == (3, 0)
    assert failed.reason == "NonZeroExitCode"
    assert failed.is_final
    assert cancelled.state is JobState.CANCELLED
    assert cancelled.exit_code == 143  # batch shell killed by SIGTERM
    assert cancelled.is_final


def test_scontrol_multiline_layout() -> None:
    text = "JobId=9 JobName=a b\n   UserId=u(1) GroupId=g(1)\n   JobState=COMPLETED Reason=None\n"
    fields = parse_scontrol_show_job(text)
    assert fields == {
        "JobId": "9",
        "JobName": "a b",
        "UserId": "u(1)",
        "GroupId": "g(1)",
        "JobState": "COMPLETED",
        "Reason": "None",
    }


def test_scontrol_jobs_one_per_line() -> None:
    jobs = parse_scontrol_jobs("\n".join(scontrol_lines()) + "\n")
    assert [job.job_id for job in jobs] == ["1", "2", "3", "1", "2"]


def test_scontrol_rejects_garbage() -> None:
    with pytest.raises(SlurmParseError, match="bad scontrol output"):
        parse_scontrol_show_job("no key here")
    with pytest.raises(SlurmParseError, match="JobId"):
        job_info_from_scontrol({"JobState": "RUNNING"})


# --------------------------------------------------------------------------- squeue / sacct


def test_parse_squeue() -> None:
    out = (
        "12|RUNNING|2|debug|node[1-2]|None|hpcflow\n"
        "13|PENDING|4|debug||Resources|name|with|pipes\n"
        "\n"
        "14|COMPLETING|1|debug|node3|None|x\n"
    )
    jobs = parse_squeue(out)
    assert [(j.job_id, j.state, j.nodes) for j in jobs] == [
        ("12", JobState.RUNNING, ("node1", "node2")),
        ("13", JobState.PENDING, ()),
        ("14", JobState.COMPLETING, ("node3",)),
    ]
    assert jobs[1].name == "name|with|pipes"
    assert jobs[1].reason == "Resources"
    assert jobs[0].reason is None
    assert jobs[1].num_nodes == 4


def test_parse_squeue_recorded() -> None:
    jobs = parse_squeue((DATA / "squeue_states.txt").read_text())
    assert [(j.job_id, j.state) for j in jobs] == [
        ("2", JobState.CANCELLED),
        ("1", JobState.FAILED),
        ("3", JobState.PENDING),
    ]
    assert jobs[2].reason is not None and jobs[2].reason.startswith("Nodes required for job")
    assert jobs[2].name == "pend"


def test_parse_squeue_rejects_other_format() -> None:
    with pytest.raises(SlurmParseError, match="bad squeue line"):
        parse_squeue("12 RUNNING node1\n")


def test_parse_sacct() -> None:
    out = (
        "20|COMPLETED|0:0|2|debug|node[1-2]|None|/w|agents\n"
        "21|CANCELLED by 0|0:15|1|debug|node3|None|/w|x|y\n"
        "22|PENDING|0:0|1|debug|None assigned|Priority|/w|z\n"
    )
    jobs = parse_sacct(out)
    assert [j.state for j in jobs] == [JobState.COMPLETED, JobState.CANCELLED, JobState.PENDING]
    assert jobs[0].nodes == ("node1", "node2")
    assert jobs[1].name == "x|y"
    assert jobs[1].exit_signal == 15
    assert jobs[2].nodes == ()


SQUEUE_JSON_2205 = {
    "meta": {"Slurm": {"version": {"major": 22, "micro": 8, "minor": 5}}},
    "errors": [],
    "jobs": [
        {
            "job_id": 31,
            "job_state": "RUNNING",
            "name": "hpcflow",
            "nodes": "node[1-2]",
            "node_count": 2,
            "partition": "debug",
            "state_reason": "None",
            "exit_code": 0,
            "current_working_directory": "/w",
        },
        {"job_id": 32, "job_state": "PENDING", "name": "other", "nodes": "", "node_count": 1},
    ],
}

SQUEUE_JSON_2311 = {
    "jobs": [
        {
            "job_id": 41,
            "job_state": ["RUNNING", "COMPLETING"],
            "name": "hpcflow",
            "nodes": "node3",
            "node_count": {"set": True, "infinite": False, "number": 1},
            "exit_code": {"status": ["SUCCESS"], "return_code": {"set": True, "number": 0}},
        }
    ]
}


def test_parse_squeue_json_recorded_2205() -> None:
    (job,) = parse_squeue_json((DATA / "squeue_2205.json").read_text())
    assert job.job_id == "1"
    assert job.state is JobState.RUNNING
    assert job.name == "json probe"
    assert job.nodes == ("node3", "node4")
    assert job.num_nodes == 2
    assert parse_squeue_json((DATA / "squeue_2205.json").read_text(), job_ids=["2"]) == []


def test_parse_squeue_json_2205_filters_in_python() -> None:
    jobs = parse_squeue_json(json.dumps(SQUEUE_JSON_2205), job_ids=["31"])
    assert len(jobs) == 1
    job = jobs[0]
    assert (job.job_id, job.state, job.nodes, job.num_nodes) == (
        "31",
        JobState.RUNNING,
        ("node1", "node2"),
        2,
    )
    assert job.exit_code == 0 and job.reason is None and job.workdir == "/w"
    assert len(parse_squeue_json(json.dumps(SQUEUE_JSON_2205))) == 2


def test_parse_squeue_json_newer_layout_and_noise() -> None:
    text = "squeue: warning: something\n" + json.dumps(SQUEUE_JSON_2311)
    (job,) = parse_squeue_json(text)
    assert job.job_id == "41" and job.state is JobState.RUNNING
    assert job.num_nodes == 1 and job.exit_code == 0


@pytest.mark.parametrize("text", ["", "not json", "{", '{"jobs": 3}', "[1, 2]"])
def test_parse_squeue_json_rejects(text: str) -> None:
    with pytest.raises(SlurmParseError, match="squeue --json"):
        parse_squeue_json(text)
