"""The soak's figures: what ``--json`` prints, and the tables a person reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from coderunner import rss
from coderunner.soak_plan import Accounting

JUDGED = ("edge", "dispatcher", "runner", "janitor")
"""Processes whose memory must stay flat. The nats-server keeps what the platform stores (every
completion and API result for a day, message ids for the de-duplication window), so it grows
with executions by design; its slope is reported beside them."""


def summary(accounting: Accounting, seconds: float, samples: Sequence[rss.Sample],
            warm_up_runs: int) -> dict[str, Any]:
    """The soak's figures, as ``--json`` prints them."""
    trends = rss.trends(samples, warm_up_runs)
    judged = [t for t in trends if t.component in JUDGED]
    loads = [s.load for s in samples]
    return {
        "executions": accounting.planned,
        "seconds": round(seconds, 1),
        "perSecond": round(accounting.planned / seconds, 1) if seconds else None,
        "completions": accounting.as_dict(),
        "memory": {"warmUpRuns": warm_up_runs, "samples": len(samples),
                   "flatBelowMbPer1000": rss.FLAT_MB_PER_1000, "judged": list(JUDGED),
                   "components": [t.as_dict() for t in trends],
                   "flat": len(judged) == len(JUDGED) and all(t.flat for t in judged),
                   "series": [[s.runs, round(s.seconds, 1),
                               {name: round(mb, 1) for name, mb in s.mb.items()}]
                              for s in samples]},
        "loadAverage": {"mean": round(sum(loads) / len(loads), 1) if loads else None,
                        "max": round(max(loads), 1) if loads else None},
        "held": accounting.held,
    }


def render(figures: dict[str, Any], console: Console) -> None:
    done = figures["completions"]
    load = figures["loadAverage"]
    console.print(f"{figures['executions']} executions in {figures['seconds']} s "
                  f"({figures['perSecond']}/s); the machine's load average "
                  f"{load['mean']} (at most {load['max']})")
    table = Table(title="executions by way in and by language")
    for column in ("way in", "planned", "ok", "p50 ms", "p95 ms"):
        table.add_column(column, justify="left" if column == "way in" else "right")
    for group in ("byChannel", "byLanguage"):
        for name, counts in done[group].items():
            table.add_row(name, *(f"{counts[k]:g}" for k in ("planned", "ok", "p50Ms", "p95Ms")))
        table.add_section()
    console.print(table)
    console.print(f"completions on the stream: {done['exactlyOnce']} of {done['accepted']} "
                  f"accepted exactly once; missing {len(done['missing'])}, duplicated "
                  f"{len(done['duplicated'])}, problems {done['problemCount']}, "
                  f"published twice (dropped by the stream) {len(done['publishedTwice'])}")
    for execution_id, problem in done["problems"].items():
        console.print(f"  {execution_id}: {problem}", highlight=False)
    memory = figures["memory"]
    table = Table(title=f"RSS (MB) after {memory['warmUpRuns']} runs and at the end; "
                        f"flat: below {memory['flatBelowMbPer1000']} MB per 1000 runs")
    for column in ("component", "after warm-up", "end", "peak", "MB / 1000 runs",
                   "second half", "flat"):
        table.add_column(column, justify="left" if column == "component" else "right")
    for t in memory["components"]:
        table.add_row(t["component"], f"{t['afterWarmUpMb']:.1f}", f"{t['endMb']:.1f}",
                      f"{t['peakMb']:.1f}", f"{t['mbPer1000']:+.2f}",
                      f"{t['lateMbPer1000']:+.2f}", "yes" if t["flat"] else "NO")
    console.print(table)
    console.print(f"memory of {', '.join(memory['judged'])}: "
                  + ("flat" if memory["flat"] else "NOT FLAT"))
    console.print("held" if figures["held"] else "DID NOT HOLD")
