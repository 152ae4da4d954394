import threading

from hpcflow import task


@task(returns=1)
def f(x):
    return x


f(threading.Lock())
