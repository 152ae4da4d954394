"""Observability, pure: a run's event list turned into a model, a task graph, a Chrome
trace, an HTML report, the critical path, utilisation and an RO-Crate.

Nothing here reads or writes files or runs commands; ``hpcflow.runtime.artifacts`` does
that and calls these functions with events already read.
"""
