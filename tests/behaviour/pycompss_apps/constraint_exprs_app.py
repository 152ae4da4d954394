"""Constraint values computed per call from task parameters ("{n}", PyCOMPSs's "{{n}}",
expressions), and app_software matched against the site config's software tags."""
import json
import os

from pycompss.api.api import compss_wait_on
from pycompss.api.constraint import constraint
from pycompss.api.task import task


@constraint(computing_units="{{cores}}")
@task(returns=1)
def threads(cores):
    return int(os.environ["OMP_NUM_THREADS"])  # set to the task's computing units


@constraint(computing_units="max(1, {n} // 4)", memory_size="{n} / 100")
@task(returns=1)
def scaled(n):
    return int(os.environ["OMP_NUM_THREADS"])


@constraint(app_software="coreutils,python3")
@task(returns=1)
def with_tools():
    return "ran"


@constraint(app_software="gnuplot")
@task(returns=1)
def plot():
    return "never"


def refused(call):
    try:
        call()
    except Exception as exc:
        return str(exc)
    return None


def main():
    out = {"threads": compss_wait_on([threads(1), threads(2)]),
           "scaled": compss_wait_on([scaled(4), scaled(8)]),
           "too_many": refused(lambda: threads(64)),
           "tools": refused(lambda: compss_wait_on(with_tools())) or "ran",
           "gnuplot": refused(plot)}
    print("RESULT", json.dumps(out))


if __name__ == "__main__":
    main()
