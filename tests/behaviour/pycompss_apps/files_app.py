"""Files: relative paths, same basenames in two folders, readers submitted before a writer
see the old content, compss_open modes, pending outputs exist, outputs in place at the end
without synchronisation."""
import json
import os

from pycompss.api.api import compss_delete_file, compss_file_exists, compss_open, compss_wait_on
from pycompss.api.parameter import FILE_IN, FILE_INOUT, FILE_OUT
from pycompss.api.task import task


@task(path=FILE_OUT)
def write(path, text):
    with open(path, "w") as fh:
        fh.write(text)


@task(returns=1, path=FILE_IN)
def read(path):
    with open(path) as fh:
        return fh.read()


@task(path=FILE_INOUT)
def append(path, text):
    with open(path, "a") as fh:
        fh.write(text)


@task(returns=1, path=FILE_OUT)
def basename_of(path):
    with open(path, "w") as fh:
        fh.write("x")
    return os.path.basename(path)


def main():
    out = {}
    for folder in ("one", "two"):
        os.makedirs(folder, exist_ok=True)
        write(os.path.join(folder, "data.txt"), folder)
    out["same_names"] = compss_wait_on([read("one/data.txt"), read("two/data.txt")])
    old = read("one/data.txt")
    append("one/data.txt", "+more")
    out["old_then_new"] = compss_wait_on([old, read("one/data.txt")])
    write("late.txt", "late")
    out["pending_exists"] = compss_file_exists("late.txt")
    with compss_open("late.txt") as fh:
        out["late"] = fh.read()
    with compss_open("one/data.txt", "a") as fh:  # "a" waits like INOUT
        fh.write("+local")
    out["after_open"] = compss_wait_on(read("one/data.txt"))
    out["task_basename"] = compss_wait_on(basename_of("named.txt"))
    compss_delete_file("late.txt")
    out["deleted"] = not os.path.exists("late.txt")
    write("never_synced.txt", "in place")  # the app never waits on this one
    print("RESULT", json.dumps(out))


if __name__ == "__main__":
    main()
