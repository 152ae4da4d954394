"""Word count: one task per file (FILE_IN), merged with merge_reduce."""
import json
import os
import sys
from collections import Counter

from pycompss.api.api import compss_wait_on
from pycompss.api.parameter import FILE_IN
from pycompss.api.task import task
from pycompss.functions.reduce import merge_reduce


@task(returns=dict, path=FILE_IN)
def count(path):
    with open(path) as fh:
        return dict(Counter(fh.read().split()))


@task(returns=dict)
def merge(a, b):
    out = dict(a)
    for word, n in b.items():
        out[word] = out.get(word, 0) + n
    return out


def main(folder):
    paths = sorted(os.path.join(folder, f) for f in os.listdir(folder))
    total = compss_wait_on(merge_reduce(merge, [count(p) for p in paths]))
    print("RESULT", json.dumps(total, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1])
