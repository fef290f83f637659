"""What a soak submits and how it is judged, without I/O: the plan of executions (channel,
language, program), and the accounting of what came back against what the COMPLETIONS stream
holds."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from contracts.subjects import PRIORITY_API, PRIORITY_BACKGROUND, PRIORITY_WEBSOCKET

Channel = Literal["ws", "api", "background"]
K = TypeVar("K", bound=str)
PRIORITY: dict[Channel, int] = {
    "ws": PRIORITY_WEBSOCKET, "api": PRIORITY_API, "background": PRIORITY_BACKGROUND,
}
CHANNEL_MIX: dict[Channel, int] = {"ws": 55, "api": 37, "background": 8}
"""Shares of the three ways in. Background jobs have an owner of their own (``anon:<id>``), so
each takes a fresh container: the expensive share is kept small."""
LANGUAGE_MIX = {"python": 40, "bash": 20, "lua": 15, "perl": 10, "ruby": 5, "javascript": 5,
                "c": 5}
"""Mostly cheap runtimes; Ruby, Node.js and a C compile in smaller shares."""

PROGRAMS: dict[str, tuple[str, Callable[[str], str]]] = {
    "python": ("main.py", lambda word: f"print({word!r})\n"),
    "bash": ("main.sh", lambda word: f"echo {word}\n"),
    "lua": ("main.lua", lambda word: f"print('{word}')\n"),
    "perl": ("main.pl", lambda word: f'print "{word}\\n";\n'),
    "ruby": ("main.rb", lambda word: f"puts '{word}'\n"),
    "javascript": ("main.js", lambda word: f"console.log('{word}');\n"),
    "c": ("main.c", lambda word: '#include <stdio.h>\n\nint main(void) {\n'
                                 f'    puts("{word}");\n    return 0;\n}}\n'),
}
"""Language → main file and its source, which prints the one word it is given."""


@dataclass(frozen=True)
class Item:
    """One planned execution. Its program prints a word of its own, so that output crossed
    between executions would show."""

    number: int
    channel: Channel
    language: str

    @property
    def word(self) -> str:
        return f"soak-{self.number}"

    @property
    def main_file(self) -> str:
        return PROGRAMS[self.language][0]

    @property
    def source(self) -> str:
        return PROGRAMS[self.language][1](self.word)

    @property
    def stdout(self) -> str:
        return self.word + "\n"


def spread(total: int, weights: Mapping[K, int]) -> list[K]:
    """``total`` keys in the proportions of ``weights`` (largest remainders round), in order."""
    whole = sum(weights.values())
    exact = {key: total * weight / whole for key, weight in weights.items()}
    counts = {key: int(share) for key, share in exact.items()}
    by_remainder = sorted(exact, key=lambda key: exact[key] - counts[key], reverse=True)
    for key in by_remainder[: total - sum(counts.values())]:
        counts[key] += 1
    return [key for key, count in counts.items() for _ in range(count)]


def plan(total: int, languages: Mapping[str, int] = LANGUAGE_MIX,
         channels: Mapping[Channel, int] = CHANNEL_MIX, seed: int = 1) -> list[Item]:
    """``total`` executions with channels and languages in the given proportions, shuffled so
    that every stretch of the run has the same mix."""
    unknown = set(languages) - set(PROGRAMS)
    if unknown:
        raise ValueError(f"no soak program for {', '.join(sorted(unknown))}")
    shuffle = random.Random(seed).shuffle
    ways = spread(total, channels)
    names = spread(total, languages)
    shuffle(ways)
    shuffle(names)
    return [Item(n, way, name) for n, (way, name) in enumerate(zip(ways, names, strict=True))]


@dataclass(frozen=True)
class Outcome:
    """What the client saw of one planned execution."""

    item: Item
    execution_id: str | None = None
    """None when it was never accepted."""
    verdict: str | None = None
    """None when no completion reached the client."""
    stdout: str | None = None
    """What it printed, for the channels that return output (not background)."""
    error: str | None = None
    """Why it was refused, or what went wrong on the client's side."""
    ms: float = 0.0
    """From submission to completion, at the client."""

    @property
    def problem(self) -> str | None:
        if self.execution_id is None:
            return f"refused: {self.error}"
        if self.verdict is None:
            return f"no completion seen: {self.error}"
        if self.verdict != "ok":
            return f"verdict {self.verdict}"
        if self.stdout is not None and self.stdout != self.item.stdout:
            return f"stdout {self.stdout[:60]!r}, expected {self.item.stdout!r}"
        return None


@dataclass(frozen=True)
class Accounting:
    """Every planned execution against the COMPLETIONS stream and a live subscriber: exactly
    one completion each, stored and published."""

    planned: int
    accepted: int
    once: int
    """Accepted executions with exactly one completion stored."""
    missing: list[str]
    duplicated: dict[str, int]
    """Execution id → completions stored, when more than one."""
    problems: dict[str, str]
    """Execution id (or ``#<number>`` when never accepted) → what was wrong."""
    published_twice: dict[str, int] = field(default_factory=dict)
    """Completions a live subscriber saw more than once: the job ran (or finished) twice, which
    the stream's de-duplication hides (it keeps the first). A failure."""
    by_channel: dict[str, dict[str, float]] = field(default_factory=dict)
    """Channel → planned, ok, and p50 / p95 ms from submission to completion."""
    by_language: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def held(self) -> bool:
        return (self.accepted == self.planned == self.once and not self.missing
                and not self.duplicated and not self.published_twice and not self.problems)

    def as_dict(self) -> dict[str, object]:
        return {"planned": self.planned, "accepted": self.accepted, "exactlyOnce": self.once,
                "missing": self.missing, "duplicated": self.duplicated,
                "problems": dict(list(self.problems.items())[:20]),
                "problemCount": len(self.problems), "publishedTwice": self.published_twice,
                "byChannel": self.by_channel, "byLanguage": self.by_language, "held": self.held}


def account(outcomes: Sequence[Outcome], stored: Mapping[str, int],
            seen: Mapping[str, int] | None = None) -> Accounting:
    """``stored``: completions on the stream per execution id; ``seen``: completions a live
    subscriber received per id."""
    ids = [o.execution_id for o in outcomes if o.execution_id is not None]
    problems = {o.execution_id or f"#{o.item.number}": problem
                for o in outcomes if (problem := o.problem) is not None}
    return Accounting(
        planned=len(outcomes),
        accepted=len(ids),
        once=sum(1 for i in ids if stored.get(i, 0) == 1),
        missing=[i for i in ids if stored.get(i, 0) == 0],
        duplicated={i: stored[i] for i in ids if stored.get(i, 0) > 1},
        problems=problems,
        published_twice={i: n for i in ids if (n := (seen or {}).get(i, 0)) > 1},
        by_channel=_tally(outcomes, lambda o: o.item.channel),
        by_language=_tally(outcomes, lambda o: o.item.language),
    )


def _tally(outcomes: Sequence[Outcome], key: Callable[[Outcome], str]
           ) -> dict[str, dict[str, float]]:
    planned = Counter(key(o) for o in outcomes)
    good = Counter(key(o) for o in outcomes if o.problem is None)
    times: dict[str, list[float]] = {}
    for o in outcomes:
        times.setdefault(key(o), []).append(o.ms)
    return {name: {"planned": planned[name], "ok": good[name],
                   "p50Ms": percentile(times[name], 0.5), "p95Ms": percentile(times[name], 0.95)}
            for name in sorted(planned)}


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile ``q`` (0 to 1) of ``values``; 0 when there are none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 1)
