"""Constraints as strings with $ENV, @implement, @on_failure(IGNORE, returns=0),
time_out, merge_n_reduce and @reduction."""
import json
import time

from pycompss.api.api import compss_get_number_of_resources, compss_wait_on
from pycompss.api.constraint import constraint
from pycompss.api.implement import implement
from pycompss.api.on_failure import on_failure
from pycompss.api.reduction import reduction
from pycompss.api.task import task
from pycompss.functions.elapsed_time import timeit


@constraint(computing_units="$HPCFLOW_TEST_CUS")
@task(returns=1)
def heavy(x):
    return ("heavy", x)


@constraint(computingUnits="${HPCFLOW_TEST_HUGE}")
@task(returns=1)
def needs_many(x):
    return ("many", x)


@implement(source_class="policies_app", method="needs_many")
@constraint(computing_units="1")
@task(returns=1)
def needs_one(x):
    return ("one", x)


@on_failure(management="IGNORE", returns=0)
@task(returns=1)
def fragile(x):
    raise ValueError("broken")


@task(returns=1, time_out=1, on_failure="IGNORE")
def hangs():
    time.sleep(30)
    return 1


@reduction(chunk_size=3)
@task(returns=1)
def add_all(values):
    return sum(values)


@timeit()
@task(returns=1)
def timed(x):
    return x


def main():
    out = {}
    out["heavy"] = compss_wait_on(heavy(1))
    out["implement"] = compss_wait_on(needs_many(2))
    out["ignored"] = compss_wait_on(fragile(3))
    started = time.time()
    out["timed_out"] = [compss_wait_on(hangs()), time.time() - started < 20]
    out["reduction"] = compss_wait_on(add_all(list(range(10))))
    result, seconds = timed(5)
    out["timeit"] = [compss_wait_on(result), seconds >= 0]
    out["resources"] = compss_get_number_of_resources()
    print("RESULT", json.dumps(out))


if __name__ == "__main__":
    main()
