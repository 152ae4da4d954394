from hpcflow import constraint, task


@constraint(computing_units=4096)
@task(returns=1)
def huge():
    return 1


huge()
