"""``Fleet.choose`` takes the best runner off a heap per language (dispatcher/fleet.py), kept up
to date as runners beat, take jobs, finish them and fall silent. Here it is checked against the
plain rule, worked out from every runner at every step: thousands of random steps of a fleet of
a dozen runners (joining, beating with other slots, warm containers, languages and images,
falling silent, leaving, taking this dispatcher's and other dispatchers' jobs, finishing them),
and after each, every language's choice (also with a preferred runner, hard or soft) is the
one the rule gives."""

from __future__ import annotations

import random

import pytest

from contracts.messages import PoolInfo, RunnerInfo
from contracts.subjects import runner_token
from dispatcher.fleet import Fleet, TrackedRunner

LANGUAGES = ("python", "lua", "java")
RUNNERS = tuple(f"runner-{n}" for n in range(12))


def by_the_rule(fleet: Fleet, language: str, now: float, prefer: str | None,
                hard: bool) -> str | None:
    """The runner the rule picks, from every runner: live, with the language and the fleet's
    usual image of it, and a free slot; ``prefer`` first (``hard``: only it); then a free warm
    container, the most free slots, the most warm containers, the highest rank."""
    usual = fleet.usual_image(language)

    def takes(view: TrackedRunner) -> bool:
        return (fleet.is_alive(view, now) and language in view.info.versions
                and (usual is None or view.info.images.get(language, usual) == usual))

    preferred = fleet.runners.get(prefer) if prefer is not None else None
    if preferred is not None and takes(preferred):
        if preferred.free_slots() > 0:
            return prefer
        if hard:
            return None
    candidates = [v for v in fleet.runners.values() if takes(v) and v.free_slots() > 0]
    if not candidates:
        return None
    best = max(candidates, key=lambda v: (v.free_warm(language) > 0, v.free_slots(),
                                          v.free_warm(language), v.rank))
    return best.info.runner_id


def beat(rng: random.Random, runner_id: str) -> RunnerInfo:
    languages = rng.sample(LANGUAGES, rng.randint(1, len(LANGUAGES)))
    return RunnerInfo(
        runner_id, dict.fromkeys(languages, "1"), active=rng.randint(0, 2),
        capacity=rng.choice((2, 3, 3, 4)),
        pools={language: PoolInfo(warm=rng.randint(0, 2)) for language in languages},
        images={language: rng.choice(("h1", "h1", "h2")) for language in languages
                if rng.random() < 0.8})


class RandomFleet:
    """A fleet that random steps change."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.fleet = Fleet(silent_s=10, tie=f"dispatcher-{seed}")
        self.now = 0.0
        self.jobs = 0

    def step(self) -> None:
        rng, fleet = self.rng, self.fleet
        self.now += rng.choice((0.0, 0.0, 0.1, 0.5, 2.0))
        step = rng.random()
        if step < 0.25:
            fleet.heartbeat(beat(rng, rng.choice(RUNNERS)), self.now)
        elif step < 0.55:
            language = rng.choice(LANGUAGES)
            chosen = fleet.choose(language, self.now)
            if chosen is not None:
                fleet.sent(chosen, self.new_job(), language)
        elif step < 0.75:
            fleet.completed(self.some_job())
        elif step < 0.85:
            fleet.released_by_another(self.new_job(), runner_token(rng.choice(RUNNERS)),
                                      self.now)
        elif step < 0.88:
            fleet.taken_back(self.some_job())
        elif step < 0.91:
            fleet.gone(rng.choice(RUNNERS), self.now)
        elif step < 0.93:
            fleet.forget(rng.choice(RUNNERS))
        else:
            self.now += rng.choice((5.0, 12.0))  # some fall silent

    def new_job(self) -> str:
        self.jobs += 1
        return f"e{self.jobs}"

    def some_job(self) -> str:
        return f"e{self.rng.randint(0, self.jobs)}"


@pytest.mark.parametrize("seed", range(25))
def test_the_heaps_choose_what_the_rule_says_at_every_step(seed: int) -> None:
    walk = RandomFleet(seed)
    for _ in range(1500):
        walk.step()
        for language in LANGUAGES:
            prefer, hard = walk.rng.choice((None, *RUNNERS)), walk.rng.random() < 0.5
            assert walk.fleet.choose(language, walk.now, prefer, hard) == \
                by_the_rule(walk.fleet, language, walk.now, prefer, hard)


def test_dispatchers_break_ties_differently() -> None:
    """Runners as free as each other: each dispatcher has its own order of them, so two that
    decide at once mostly pick different runners (with one order, they all picked the same)."""
    firsts = set()
    for tie in ("one", "two", "three", "four"):
        fleet = Fleet(tie=tie)
        for runner_id in RUNNERS:
            fleet.heartbeat(RunnerInfo(runner_id, {"python": "3"}, capacity=4), 0.0)
        firsts.add(fleet.choose("python", 1.0))
    assert len(firsts) > 1


def test_the_heaps_stay_the_size_of_the_fleet_however_many_jobs_go() -> None:
    """Each change pushes a runner again and leaves its old entry behind: a heap is built anew
    when those outnumber the runners, so a dispatcher's memory does not grow with its jobs."""
    fleet = Fleet()
    for runner_id in RUNNERS:
        fleet.heartbeat(RunnerInfo(runner_id, {"python": "3"}, capacity=50), 0.0)
    for job in range(20_000):
        chosen = fleet.choose("python", 1.0)
        assert chosen is not None
        fleet.sent(chosen, f"e{job}", "python")
        if job >= 300:
            fleet.completed(f"e{job - 300}")
    assert len(fleet._heaps["python"]) <= 2 * len(RUNNERS) + 64
