"""The pure task graph: versions, readiness, commits in place, cancellation."""

from hpcflow.graph.graph import Access, TaskGraph
from hpcflow.graph.spec import Mode
from hpcflow.graph.states import TaskState, VersionState

OBJ = ("obj", 1)
FILE = ("file", "/data/x")


def test_reader_waits_for_writer_and_wakes_on_commit():
    g = TaskGraph()
    g.add_task(1, [Access(OBJ, Mode.INOUT)])
    reader = g.add_task(2, [Access(OBJ, Mode.IN)])
    assert reader.state is TaskState.PENDING
    progress = g.finish(1)
    assert [v.number for v in progress.commits] == [1]
    assert g.commit(progress.commits[0]).ready == [2]


def test_writer_of_v2_does_not_wait_for_reader_of_v1():
    g = TaskGraph()
    g.add_task(1, [Access(OBJ, Mode.IN)])
    writer = g.add_task(2, [Access(OBJ, Mode.INOUT)])
    assert writer.state is TaskState.READY  # no false WAR dependency


def test_in_place_commit_waits_for_readers_of_previous_version():
    g = TaskGraph()
    g.add_task(1, [Access(FILE, Mode.IN, in_place=True)])
    g.add_task(2, [Access(FILE, Mode.OUT, in_place=True)])
    assert g.tasks[2].state is TaskState.READY
    g.start(1)
    g.start(2)
    assert g.finish(2).commits == []  # reader 1 still running
    released = g.finish(1)
    assert [v.number for v in released.commits] == [1]


def test_commits_are_offered_once():
    g = TaskGraph()
    g.add_task(1, [Access(FILE, Mode.OUT, in_place=True)])
    g.add_task(2, [Access(FILE, Mode.INOUT, in_place=True)])
    g.commit(g.finish(1).commits[0])
    progress = g.finish(2)
    assert len(progress.commits) == 1


def test_failure_cancels_successors_transitively():
    g = TaskGraph()
    g.add_task(1, [Access(("fut", 1), Mode.OUT)])
    g.add_task(2, [Access(("fut", 1), Mode.IN), Access(("fut", 2), Mode.OUT)])
    g.add_task(3, [Access(("fut", 2), Mode.IN)])
    g.add_task(4, [Access(("fut", 9), Mode.OUT)])
    progress = g.fail(1)
    assert sorted(progress.cancelled) == [2, 3]
    assert g.tasks[4].state is TaskState.READY
    assert g.latest(("fut", 2)).state is VersionState.CANCELLED


def test_cancel_all_leaves_running_tasks():
    g = TaskGraph()
    g.add_task(1, [])
    g.add_task(2, [])
    g.start(1)
    assert g.cancel_all().cancelled == [2]
    assert g.tasks[1].state is TaskState.RUNNING


def test_accesses_final_and_forget():
    g = TaskGraph()
    g.add_task(1, [Access(FILE, Mode.IN, in_place=True)])
    assert not g.accesses_final(FILE)
    g.finish(1)
    assert g.accesses_final(FILE)
    g.forget(FILE)
    assert g.latest(FILE) is None


def test_all_final_counts_every_way_a_task_ends():
    g = TaskGraph()
    g.add_task(1, [Access(OBJ, Mode.INOUT)])
    g.add_task(2, [Access(OBJ, Mode.IN)])  # cancelled with its input
    g.add_task(3, [Access(("obj", 2), Mode.OUT)])
    g.add_task(4, [Access(("obj", 3), Mode.OUT)])
    assert not g.all_final()
    g.start(1)
    g.fail(1)
    g.fail(1)  # twice is harmless
    assert not g.all_final()
    g.start(3)
    g.finish(3)
    assert not g.all_final()
    g.cancel(4)
    assert g.all_final()
    assert {n.state for n in g.tasks.values()} == {TaskState.FAILED, TaskState.CANCELLED,
                                                   TaskState.DONE}
    assert not g.tasks[1].writes[0].readers  # released readers leave no set behind


def _run(g, task_id):
    g.start(task_id)
    progress = g.finish(task_id)
    for version in progress.commits:
        progress.merge(g.commit(version))
    return progress


def test_commutative_writers_form_one_group_serialised_in_any_order():
    from hpcflow.graph.spec import Share

    g = TaskGraph()
    shared = [Access(OBJ, Mode.INOUT, share=Share.COMMUTATIVE)]
    first, second = g.add_task(1, shared), g.add_task(2, shared)
    reader = g.add_task(3, [Access(OBJ, Mode.IN)])
    assert first.state is second.state is TaskState.READY  # neither waits for the other
    assert first.writes == second.writes  # one version written by the group
    g.start(2)  # the second one first: any order
    assert g.shared_blocked(1) and not g.shared_blocked(2)
    assert g.shared_blocked(1, starting={2})
    progress = g.finish(2)
    assert progress.commits == [] and reader.state is TaskState.PENDING
    assert not g.shared_blocked(1)
    assert 3 in _run(g, 1).ready  # the reader after the group waits for both


def test_concurrent_writers_run_together_but_after_earlier_readers_in_place():
    from hpcflow.graph.spec import Share

    g = TaskGraph()
    g.add_task(1, [Access(FILE, Mode.IN, in_place=True)])
    shared = [Access(FILE, Mode.INOUT, in_place=True, share=Share.CONCURRENT)]
    g.add_task(2, shared), g.add_task(3, shared)
    g.start(1)
    assert g.shared_blocked(2)  # the earlier reader must not see the file change
    g.finish(1)
    g.start(2)
    assert not g.shared_blocked(3)  # CONCURRENT: both at once
    g.finish(2)
    later = g.add_task(4, shared)  # the group is still open: the new writer joins it
    assert later.writes == g.tasks[2].writes and later.state is TaskState.READY


def test_outputs_are_written_as_out_accesses_after_the_others():
    def shape(node) -> list:
        return [(v.key, v.number, v.writer, v.state) for v in node.writes] + \
            [(v.key, v.number) for v in node.reads] + [node.state]

    by_access, by_output = TaskGraph(), TaskGraph()
    for g in (by_access, by_output):
        g.add_task(1, [Access(OBJ, Mode.OUT)])
    a = by_access.add_task(2, [Access(OBJ, Mode.INOUT), Access(("fut", 9), Mode.OUT)])
    b = by_output.add_task(2, [Access(OBJ, Mode.INOUT)], outputs=[("fut", 9)])
    assert shape(a) == shape(b)
    assert by_output.latest(("fut", 9)) is b.writes[-1] and b.state is TaskState.PENDING
    alone = by_output.add_task(3, [], outputs=[("fut", 10)])
    assert alone.state is TaskState.READY and [v.key for v in alone.writes] == [("fut", 10)]
