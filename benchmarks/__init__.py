"""The performance benchmark suite: hpcflow against its peers on the same workloads.

``python -m benchmarks.run`` runs every workload for every system in subprocesses and
writes ``docs/performance.md``. See docs/performance.md for what is measured and how.
"""
