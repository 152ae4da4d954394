from hpcflow import task


@task(x="SIDEWAYS")
def f(x):
    return x
