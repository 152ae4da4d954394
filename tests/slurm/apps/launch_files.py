"""@binary tasks with FILE_IN/FILE_OUT and {param} arguments, spread over the nodes."""
import sys

from hpcflow import FILE_IN, FILE_OUT, binary, task, wait_on_file


@binary(binary="sh", args="-c 'head -n \"$0\" \"$1\" > \"$2\"; hostname >> \"$2\"' {n} {src} {dst}")
@task(src=FILE_IN, dst=FILE_OUT)
def first_lines(src, dst, n):
    pass


count = int(sys.argv[1])
with open("in put.txt", "w") as fh:
    fh.write("".join(f"line {i}\n" for i in range(20)))
for i in range(count):
    first_lines("in put.txt", f"head{i}.txt", i + 1)
for i in range(count):
    print(f"FILE {i} " + open(wait_on_file(f"head{i}.txt")).read().replace("\n", "|"))
