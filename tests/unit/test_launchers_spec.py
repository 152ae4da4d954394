"""@binary/@mpi/@ompss/@multinode record a checked LaunchSpec; placeholders fill argv."""

import pytest

from hpcflow import (
    FILE_IN,
    FILE_INOUT,
    FILE_OUT,
    FILE_OUT_STDOUT,
    binary,
    constraint,
    mpi,
    multinode,
    ompss,
    task,
)
from hpcflow.errors import UsageError
from hpcflow.graph.launch import (
    LaunchKind,
    count_value,
    default_argv,
    fill_template,
    template_fields,
)
from hpcflow.graph.spec import DIRECTIONS, ParamSpec


def test_binary_above_or_below_task_records_the_same_launch():
    @binary(binary="app.bin", args="-i {infile} -n {n}", working_dir="/w",
            fail_by_exit_value=False)
    @task(infile=FILE_IN, returns=int)
    def above(infile, n):
        pass

    @task(infile=FILE_IN, returns=int)
    @binary(binary="app.bin", args="-i {infile} -n {n}", workingDir="/w",
            failByExitValue=False)
    def below(infile, n):
        pass

    assert above.spec.launch == below.spec.launch
    launch = above.spec.launch
    assert launch.kind is LaunchKind.BINARY and launch.binary == "app.bin"
    assert launch.args == "-i {infile} -n {n}" and not launch.fail_by_exit_value
    assert above.spec.returns_type == "int" and above.spec.n_returns == 1


def test_mpi_with_constraint_keeps_both_and_counts_from_parameters():
    @constraint(computing_units=2)
    @mpi(processes="{n}", processes_per_node=2, runner="mpirun")
    @task(returns=list)
    def ranks(n):
        return 0

    launch = ranks.spec.launch
    assert launch.kind is LaunchKind.MPI and launch.python
    assert launch.processes == "{n}" and launch.processes_per_node == 2
    assert launch.runner == "mpirun" and ranks.spec.constraints.computing_units == 2
    assert ranks.spec.returns_type == "list"


def test_ompss_and_multinode():
    @ompss(binary="omp.bin")
    @task()
    def threaded():
        pass

    @task(returns=1)
    @multinode(computing_nodes="{k}", processes_per_node=4)
    def whole(k):
        return k

    assert threaded.spec.launch.kind is LaunchKind.OMPSS
    assert whole.spec.launch.kind is LaunchKind.MULTINODE
    assert whole.spec.launch.computing_nodes == "{k}"


def test_stream_parameters_bind_by_name_or_by_direction():
    @binary(binary="grep", args="{word}", stdin="text", stdout="hits")
    @task()
    def grep(word, text, hits):
        pass

    @binary(binary="sort")
    @task(text=FILE_IN, out=FILE_OUT_STDOUT)
    def sort(text, out):
        pass

    assert dict(grep.spec.launch.streams) == {"stdin": "text", "stdout": "hits"}
    assert grep.spec.param("text").direction == DIRECTIONS["FILE_IN"]
    assert grep.spec.param("hits").direction == DIRECTIONS["FILE_OUT"]
    assert dict(sort.spec.launch.streams) == {"stdout": "out"}


def test_inout_stream_is_kept():
    @binary(binary="date", stdout="log")
    @task(log=FILE_INOUT)
    def date(log):
        pass

    assert date.spec.param("log").direction == DIRECTIONS["FILE_INOUT"]


@pytest.mark.parametrize("make, message", [
    (lambda: binary(binary="x", args="{nope}")(task()(lambda a: 0)),
     r"placeholder \{nope\} in @binary of task <lambda> names no parameter \(parameters: a\)"),
    (lambda: task()(binary(binary="x", args="-n {count}")(lambda a: 0)),
     r"placeholder \{count\} .* names no parameter"),
    (lambda: mpi(processes="{p}")(task()(lambda a: 0)), r"placeholder \{p\}"),
    (lambda: binary(binary="x", args="{0}")(task()(lambda a: 0)), "must name a parameter"),
    (lambda: binary(binary="x", cores=2), "unknown option 'cores' for @binary"),
    (lambda: binary()(lambda: 0), "needs binary="),
    (lambda: ompss(args="x")(lambda: 0), "needs binary="),
    (lambda: mpi(runner="aprun")(lambda: 0), "runner='aprun'"),
    (lambda: mpi(processes=0)(lambda: 0), "processes=0 .* positive integer"),
    (lambda: multinode(computing_nodes="two")(lambda: 0), "computing_nodes='two'"),
    (lambda: binary(binary="x", stdout="out")(task()(lambda a: 0)), "stdout='out' .* names no"),
    (lambda: mpi(stdout="a")(task()(lambda a: 0)), "need a binary"),
    (lambda: binary(binary="x", stdout="a")(task(a=FILE_IN)(lambda a: 0)), None),
    (lambda: binary(binary="x")(mpi(binary="y")(task()(lambda: 0))), "two launchers"),
    (lambda: binary(binary="x")(task(returns=2)(lambda: 0)), "returns=2 is not supported"),
    (lambda: binary(binary="x", stdout="a")(task(a="INOUT")(lambda a: 0)),
     "bound to stdout must be a FILE parameter"),
])
def test_bad_launcher_input_is_one_line(make, message):
    if message is None:  # FILE_IN bound to stdout is allowed (it is a file)
        make()
        return
    with pytest.raises(UsageError, match=message) as info:
        make()
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("value, expected", [
    (4, 4), ("4", 4), ("{n}", "{n}"), (" { n } ", "{n}"),
])
def test_count_value(value, expected):
    assert count_value(value, "processes", "here") == expected


@pytest.mark.parametrize("template, values, argv", [
    ("-i {infile} -n {n}", {"infile": "/d/a b.txt", "n": 3}, ["-i", "/d/a b.txt", "-n", "3"]),
    ("-c 'exit {code}'", {"code": 4}, ["-c", "exit 4"]),
    ("{files}", {"files": ["a", "b", ["c"]]}, ["a", "b", "c"]),
    ("x {opt} y", {"opt": None}, ["x", "y"]),
    ("--n={n:03d}", {"n": 7}, ["--n=007"]),
    ("{{literal}} {x}", {"x": "$(rm -rf /); `id`\n"}, ["{literal}", "$(rm -rf /); `id`\n"]),
    ("--name={who}", {"who": "a'b \"c\""}, ["--name=a'b \"c\""]),
])
def test_fill_template_never_splits_values(template, values, argv):
    assert fill_template(template, values) == argv


def test_template_fields_and_bad_templates():
    assert template_fields("-i {infile} {obj.attr} {xs[0]} {{no}}", "t") == \
        ["infile", "obj", "xs"]
    with pytest.raises(UsageError, match="bad template"):
        template_fields("{unclosed", "t")
    with pytest.raises(UsageError, match="bad args template"):
        fill_template("'unbalanced", {})


def test_default_argv_passes_every_parameter_but_streams():
    params = (ParamSpec("a", DIRECTIONS["IN"]), ParamSpec("f", DIRECTIONS["FILE_IN"]),
              ParamSpec("out", DIRECTIONS["FILE_OUT"]), ParamSpec("rest", DIRECTIONS["IN"]))
    values = {"a": 1, "f": "/x", "out": "/o", "rest": ["p", "q"]}
    assert default_argv(params, values, [("stdout", "out")]) == ["1", "/x", "p", "q"]


def test_undecorated_call_still_runs_the_function_in_place():
    @mpi(processes=4)
    @task(returns=1)
    def f(x):
        return x * 2

    assert f(21) == 42


def test_file_out_parameter_of_binary():
    @binary(binary="cp", args="{src} {dst}")
    @task(src=FILE_IN, dst=FILE_OUT)
    def copy(src, dst):
        pass

    assert copy.spec.launch.streams == ()


def test_pycompss_spellings_double_braces_and_a_binary_with_arguments():
    @binary(binary="Rscript --vanilla '/opt/my app.R'", args="-file {{infile}} -n {{ n }}",
            working_dir="{{wd}}")
    @task(infile=FILE_IN)
    def run_r(infile, n, wd):
        pass

    launch = run_r.spec.launch
    assert launch.binary == "Rscript" and launch.binary_args == ("--vanilla", "/opt/my app.R")
    assert launch.args == "-file {infile} -n {n}" and launch.working_dir == "{wd}"
    with pytest.raises(UsageError, match=r"placeholder \{nope\}"):
        binary(binary="x", args="{{nope}}")(task()(lambda a: 0))
