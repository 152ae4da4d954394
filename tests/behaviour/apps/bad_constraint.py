from hpcflow import constraint, task


@constraint(computing_units=1, flux_capacitors=2)
@task(returns=1)
def f(x):
    return x
