"""Word count over a directory of text files: one ``count`` task per file (FILE_IN),
then a tree of pairwise ``merge`` tasks.

    hpcflow run examples/wordcount.py -- DIR [--generate FILES] [--words W] [--top K]
                                             [--seed S] [--out counts.json]

Without ``--generate``, DIR must hold the ``*.txt`` files to count. With it, FILES
seeded random text files are written into DIR first. Words are the runs of letters
``a-z`` after lower-casing. The last line on stdout is
``RESULT {"files": ..., "total": ..., "distinct": ..., "top": [[word, count], ...]}``;
``--out`` writes every count as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
from collections import Counter

from hpcflow import FILE_IN, task, wait_on

WORD = re.compile(r"[a-z]+")
VOCABULARY = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima "
              "mike november oscar papa quebec romeo sierra tango uniform victor whiskey "
              "xray yankee zulu").split()


@task(returns=1, path=FILE_IN)
def count(path):
    with open(path, encoding="utf-8") as fh:
        return Counter(WORD.findall(fh.read().lower()))


@task(returns=1)
def merge(a, b):
    total = Counter(a)
    total.update(b)
    return total


def generate(directory: str, files: int, words: int, seed: int) -> None:
    """Write ``files`` text files of ``words`` words (Zipf-like frequencies)."""
    rng = random.Random(seed)
    weights = [1.0 / (rank + 1) for rank in range(len(VOCABULARY))]
    os.makedirs(directory, exist_ok=True)
    for index in range(files):
        chosen = rng.choices(VOCABULARY, weights, k=words)
        lines = [" ".join(chosen[i:i + 12]) for i in range(0, words, 12)]
        with open(os.path.join(directory, f"part-{index:04d}.txt"), "w", encoding="utf-8") as fh:
            fh.write(".\n".join(line.capitalize() for line in lines) + "\n")


def tree_reduce(partials: list) -> object:
    """Merge pairwise, level by level: log2(n) levels of independent merges."""
    if not partials:
        return Counter()
    while len(partials) > 1:
        paired = [merge(partials[i], partials[i + 1]) for i in range(0, len(partials) - 1, 2)]
        if len(partials) % 2:
            paired.append(partials[-1])
        partials = paired
    return partials[0]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", help="directory of *.txt files")
    parser.add_argument("--generate", type=int, metavar="FILES",
                        help="first write FILES random text files into DIR")
    parser.add_argument("--words", type=int, default=2000, help="words per generated file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top", type=int, default=10, help="how many top words to print")
    parser.add_argument("--out", help="write all counts to this JSON file")
    args = parser.parse_args(argv)

    if args.generate:
        generate(args.directory, args.generate, args.words, args.seed)
    paths = sorted(os.path.join(args.directory, name) for name in os.listdir(args.directory)
                   if name.endswith(".txt"))
    counts = Counter(wait_on(tree_reduce([count(path) for path in paths])))

    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:args.top]
    for word, n in top:
        print(f"{n:>8}  {word}")
    total = sum(counts.values())
    print(f"{total} words, {len(counts)} distinct, in {len(paths)} files")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(dict(sorted(counts.items())), fh)
    print("RESULT " + json.dumps({"files": len(paths), "total": total, "distinct": len(counts),
                                  "top": [[w, n] for w, n in top]}))


if __name__ == "__main__":
    main()
