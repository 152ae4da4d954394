from hpcflow import task, wait_on


@task(returns=1, retries=0)
def explode(x):
    raise ArithmeticError(f"cannot handle {x}")


wait_on([explode(i) for i in range(6)])
