"""hpcflow before and after a change: its medians from an earlier report beside this run's.

``python -m benchmarks.run --before OLD.md`` reads the raw results embedded in an earlier
report and adds a table of hpcflow's figures then and now (the earlier raw results are
embedded in the new report too, so ``--from-report`` re-renders the table).
"""

from __future__ import annotations

import datetime
from dataclasses import asdict
from typing import Any

from benchmarks.report import EXTRA_METRICS, METRICS, Meta, median, num


def before_after(
    lines: list[str], results: Any, meta: Meta, before: Any, before_meta: Meta
) -> None:
    """Append the table: metric, unit, before, after, factor (> 1 = better now)."""
    add = lines.append
    when = datetime.datetime.fromtimestamp(before_meta.started, datetime.UTC)
    versions = before_meta.env.get("versions", "") if before_meta.env else ""
    sha = next(
        (part.split()[1] for part in versions.split(", ") if part.startswith("hpcflow ")), "?"
    )
    add("### hpcflow before and after the hot-path work")
    add("")
    add(
        f"Before: the report of {when:%Y-%m-%d %H:%M} UTC (hpcflow {sha}, "
        f"`{before_meta.command}`, same machine); after: this run. Medians; the factor is "
        "how many times better the figure is now (> 1: better)."
    )
    add("")
    add("What changed in between (issue 7's hot-path work): placement keeps an index of the "
        "nodes with room (a lazy max-heap by free cores per task shape: O(log n) per "
        "decision instead of a scan of every node); the master drops values nothing can ask "
        "for any more (dropped futures, superseded versions), moves succeeded tasks' records "
        "to a spool file in the run directory and trims the heap, and graph versions are "
        "lighter; the local agent takes one queued task per task process (prefetch), handed "
        "over by the pool without a round trip to the master; the event log encodes in its "
        "writer thread; task-process messages carry data as pickle protocol 5 out-of-band "
        "buffers; `hpcflow` is a lazy package, task processes import no launcher code and "
        "`hpcflow run` starts them before importing the runtime. Then (third session): "
        "the app's thread waiting for values is woken only when its value is final "
        "(`wait_on` of a list: about once, not once per result), small messages are "
        "pickled without copying the message, the pool's watcher keeps one selector, a "
        "call of plain scalars is pickled without binding or tracking, and task records, "
        "call plans and accesses are slotted. Then (fourth session): tasks of a function "
        "measured to be short travel to the task processes in batches (the pool shares its "
        "queue out between idle processes; results come back together) and the agents' "
        "queues are 32 times deeper while tasks are short; the master takes a batch of "
        "results under one lock and places what they made ready in one pass; the event log "
        "is encoded by a writer process of its own; the cyclic garbage collector's first "
        "threshold is 10,000 while a run is on; checkpoints sign a task when it ends and "
        "write each batch as one line; the usual task (one return, plain arguments, one "
        "node) skips the general bookkeeping. Then (fifth session): the master, the agents "
        "and the task processes keep freed buffers of up to 16 MiB for reuse (glibc "
        "malloc settings; the default gave each 1 MiB value fresh pages, zeroed and "
        "faulted in again); the sockets to task processes hold 4 MiB each way; "
        "checkpointed values over 2 KiB are appended to pack files instead of a file "
        "each; tasks with small values become checkpoint entries in a writer process; "
        "assignments, results and graph progress records are slotted, not frozen. Then "
        "(sixth session): the checkpoint writer process signs the tasks that read no "
        "input (the master keeps their call); assignments and results pickle as their "
        "constructor's arguments; the per-task events travel to the event writer as "
        "tuples, marshalled, and its lines are spliced, not re-encoded; checkpoint batches "
        "and the spool of retired records are marshalled; the helper processes run "
        "without the cyclic garbage collector; return values enter the graph without an "
        "access record each. Other work merged in the "
        "same period (checkpoints on by default, elasticity) is in the after figures too.")
    add("")
    add("| figure | unit | before | after | factor |")
    add("|---|---|---|---|---|")
    for metric in (*METRICS, *EXTRA_METRICS):
        old = median(before, "hpcflow", metric.key)
        new = median(results, "hpcflow", metric.key)
        if old is None and new is None:
            continue
        factor = "-"
        if old and new:
            ratio = new / old if metric.higher_is_better else old / new
            factor = f"{ratio:.2f}x" if ratio < 10 else f"{ratio:,.0f}x"
        label = metric.label.format(**asdict(meta.sizes))
        add(f"| {label} | {metric.unit} | {_fig(old)} | {_fig(new)} | {factor} |")
    add("")


def _fig(value: float | None) -> str:
    return "-" if value is None else num(value)
