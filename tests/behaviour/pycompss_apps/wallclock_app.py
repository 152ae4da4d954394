"""A run that outlives its wall clock limit: quick tasks finish and keep their outputs,
the slow ones are cancelled, the app is stopped where it waits."""
import sys
import time

from pycompss.api.api import compss_barrier, compss_wait_on
from pycompss.api.parameter import FILE_OUT
from pycompss.api.task import task


@task(path=FILE_OUT)
def quick(path):
    with open(path, "w") as fh:
        fh.write("done")


@task(returns=1, path=FILE_OUT)
def slow(path):
    time.sleep(60)
    with open(path, "w") as fh:
        fh.write("never")
    return 1


def main(mode):
    quick("quick.txt")
    compss_barrier()
    print("QUICK DONE", flush=True)
    slow("slow1.txt")
    slow("slow2.txt")
    if mode == "wait":
        compss_wait_on(slow("slow3.txt"))
    elif mode == "compute":
        while True:  # the app itself is busy, not waiting for the runtime
            sum(range(1000))
    elif mode == "set":
        from pycompss.api.api import compss_set_wall_clock

        compss_set_wall_clock(1)
        time.sleep(60)
    print("NOT REACHED", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
