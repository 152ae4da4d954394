"""Bad launcher input, chosen by argv[1]: every case is an error at the call, before any
step starts."""
import sys

from hpcflow import binary, mpi, task

CASE = sys.argv[1]
print("APP STARTED", flush=True)

if CASE == "too_many":
    @mpi(binary="hostname", processes=32, processes_per_node=4)
    @task()
    def huge():
        pass

    huge()
elif CASE == "missing":
    @mpi(binary="/no/such/mpi-app", processes=2)
    @task()
    def missing():
        pass

    missing()
elif CASE == "placeholder":
    @binary(binary="echo", args="{nothing}")
    @task()
    def echo(something):
        pass

    echo(1)
print("NOT REACHED")
