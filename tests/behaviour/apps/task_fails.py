from hpcflow import task, wait_on


@task(returns=1, retries=0)
def boom():
    raise ZeroDivisionError("no luck")


wait_on(boom())
