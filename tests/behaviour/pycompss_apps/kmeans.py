"""K-means over fragments: partial sums per fragment, merge_n_reduce, convergence loop."""
import json
import sys

import numpy as np
from pycompss.api.api import compss_wait_on
from pycompss.api.task import task
from pycompss.functions.reduce import merge_n_reduce


@task(returns=1)
def fragment(points, dim, seed):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0] * dim, [5.0] * dim, [-5.0] * dim])
    return centres[rng.integers(0, 3, points)] + rng.normal(0, 0.5, (points, dim))


@task(returns=1)
def partial_sum(points, centres):
    labels = np.argmin(((points[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    return {k: (points[labels == k].sum(0), int((labels == k).sum())) for k in range(len(centres))}


@task(returns=1)
def merge(*partials):
    out = {}
    for part in partials:
        for k, (s, n) in part.items():
            s0, n0 = out.get(k, (0.0, 0))
            out[k] = (s0 + s, n0 + n)
    return out


def kmeans(frags, k, iterations, epsilon=1e-6):
    first = compss_wait_on(frags[0])
    centres = first[:k].copy()
    for _ in range(iterations):
        sums = compss_wait_on(merge_n_reduce(merge, 3, [partial_sum(f, centres) for f in frags]))
        new = np.array([sums[j][0] / max(sums[j][1], 1) for j in range(k)])
        if np.abs(new - centres).max() < epsilon:
            return new
        centres = new
    return centres


def main(n_frags, points, dim, k, iterations):
    frags = [fragment(points, dim, seed) for seed in range(n_frags)]
    centres = kmeans(frags, k, iterations)
    print("RESULT", json.dumps({"centres": sorted(np.round(centres, 6).tolist())}))


if __name__ == "__main__":
    main(*map(int, sys.argv[1:6]))
