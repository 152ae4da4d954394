"""@on_failure(management="IGNORE", returns=0, <file param>=default): a failed task's
file output is a copy of the default; successors run on it."""
import json

from pycompss.api.api import compss_open, compss_wait_on
from pycompss.api.on_failure import on_failure
from pycompss.api.parameter import FILE_IN, FILE_OUT
from pycompss.api.task import task


@on_failure(management="IGNORE", returns=0, out_file="default.txt")
@task(returns=1, out_file=FILE_OUT)
def simulate(value, out_file):
    with open(out_file, "w") as fh:
        fh.write("partial")
    if value < 0:
        raise ValueError("negative input")
    with open(out_file, "w") as fh:
        fh.write(f"result {value}")
    return 1


@task(returns=1, path=FILE_IN)
def read(path):
    with open(path) as fh:
        return fh.read()


def main():
    with open("default.txt", "w") as fh:
        fh.write("default result")
    good, bad = simulate(5, "good.txt"), simulate(-1, "bad.txt")
    texts = compss_wait_on([read("good.txt"), read("bad.txt")])
    with compss_open("bad.txt") as fh:
        final = fh.read()
    print("RESULT", json.dumps({"returns": compss_wait_on([good, bad]), "read": texts,
                                "final": final}))


if __name__ == "__main__":
    main()
