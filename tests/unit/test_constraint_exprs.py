"""Constraint values computed per call, app_software tags and the site's software key."""

import pytest

from hpcflow.config.site import BUILTIN_DEFAULTS, resolve_site
from hpcflow.errors import ConfigError, UsageError
from hpcflow.graph.expr import evaluate, parameters_in
from hpcflow.graph.spec import make_constraints
from hpcflow.scheduler.placement import explain_infeasible, feasible
from hpcflow.scheduler.resources import NodeResources


@pytest.mark.parametrize("text, value", [
    ("{n}", 6), ("{{n}}", 6), ("{n} * 2 + 1", 13), ("max(1, {n} // 4)", 1), ("-{n}", -6),
    ("len({items})", 3), ("{n} / 4", 1.5),
])
def test_expressions_over_parameters(text, value):
    assert evaluate(text, {"n": 6, "items": [1, 2, 3]}, "cu") == value


@pytest.mark.parametrize("text", ["__import__('os').system('x')", "{n}.real", "[{n}]",
                                  "open('f')", "{missing}"])
def test_anything_else_is_refused(text):
    with pytest.raises(UsageError, match="cu"):
        evaluate(text, {"n": 1}, "cu")


def test_plain_values_have_no_parameters():
    assert parameters_in("4") == [] and parameters_in(4) == [] and \
        parameters_in("{a} + {{b}}") == ["a", "b"]


def test_app_software_tags_must_all_be_on_a_node(monkeypatch):
    monkeypatch.setenv("HPCFLOW_CU", "2")
    wanted = make_constraints("t", AppSoftware="NumPy, gromacs", computing_units="$HPCFLOW_CU")
    assert wanted.app_software == {"numpy", "gromacs"} and wanted.computing_units == 2
    plain = NodeResources("n1", 4, 8.0, software=frozenset({"numpy"}))
    rich = NodeResources("n2", 4, 8.0, software=frozenset({"numpy", "gromacs"}))
    assert not feasible([wanted], [plain]) and feasible([wanted], [plain, rich])
    assert explain_infeasible([wanted], [plain]) == (
        "needs software gromacs, which no node has (software of the site config: numpy)")


def test_site_software_key_is_checked_and_exported_to_jobs():
    site = resolve_site(BUILTIN_DEFAULTS, {"software": ["GROMACS", "numpy"]}, None, {})
    assert site.software == ("gromacs", "numpy")
    assert site.env["HPCFLOW_SOFTWARE"] == "gromacs,numpy"
    with pytest.raises(ConfigError, match="software must be a list of software tags"):
        resolve_site(BUILTIN_DEFAULTS, {"software": "numpy,scipy"}, None, {})


def test_constraint_expressions_must_name_parameters():
    from hpcflow import constraint, task

    with pytest.raises(UsageError, match="has no parameter 'm'"):
        constraint(computing_units="{m}")(task(lambda n: n))


def test_tasks_that_run_alongside_others_are_never_queued_behind_one():
    """STREAM_* and CONCURRENT tasks may wait for other running tasks: a prefetch queue
    behind a running task could deadlock them."""
    from hpcflow import constraint, task
    from hpcflow.graph.spec import Constraints
    from hpcflow.scheduler.resources import NodeLedger, queueable

    consumer = constraint(computing_units=1)(task(lambda s: None, s="STREAM_IN"))
    writer = task(lambda f: None, f="FILE_CONCURRENT")
    plain = task(lambda x: None)
    assert consumer.spec.constraints.alongside and writer.spec.constraints.alongside
    assert not plain.spec.constraints.alongside and queueable(plain.spec.constraints)
    ledger = NodeLedger(NodeResources("n", 1, 4.0, queue=1))
    ledger.reserve(1, Constraints())  # the only slot is busy
    assert ledger.fits(Constraints()) and not ledger.fits(consumer.spec.constraints)
