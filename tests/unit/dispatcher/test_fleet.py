"""Which runner gets a job: warm containers first, then free slots; sessions and notebooks go
back to the runner holding them; silent runners get nothing."""

from __future__ import annotations

from contracts.messages import CellJob, PoolInfo, ProgramJob, RunnerInfo
from dispatcher.fleet import Fleet, affinity_of


def info(runner_id: str, capacity: int = 4, active: int = 0, warm: int = 0,
         languages: tuple[str, ...] = ("python",)) -> RunnerInfo:
    return RunnerInfo(runner_id, dict.fromkeys(languages, "1"), active, capacity,
                      pools={lang: PoolInfo(warm=warm) for lang in languages})


def job(**fields: object) -> ProgramJob:
    base: dict[str, object] = {"execution_id": "e1", "language": "python", "files": [],
                               "main_file": "main.py", "owner": "session:s1", "priority": 2,
                               "submitted_at": 0.0}
    return ProgramJob(**{**base, **fields})  # type: ignore[arg-type]


def cell(kernel: str = "python") -> CellJob:
    return CellJob(execution_id="e2", owner="session:s1", priority=0, submitted_at=0.0,
                   notebook_id="nb", cell_id="c1", code="x", kernel=kernel)


def test_a_runner_with_a_free_warm_container_goes_first() -> None:
    fleet = Fleet()
    fleet.heartbeat(info("a", capacity=8, warm=0), 0.0)
    fleet.heartbeat(info("b", capacity=2, warm=1), 0.0)
    assert fleet.choose("python", 1.0) == "b"


def test_sent_jobs_use_up_warm_containers_and_slots_until_the_next_heartbeat() -> None:
    fleet = Fleet()
    fleet.heartbeat(info("a", capacity=3, warm=1), 0.0)
    fleet.heartbeat(info("b", capacity=2, warm=1), 0.0)
    picks = []
    for n in range(5):
        runner = fleet.choose("python", 1.0)
        assert runner is not None
        fleet.sent(runner, f"e{n}", "python")
        picks.append(runner)
    assert sorted(picks) == ["a", "a", "a", "b", "b"]
    assert picks[:2] in (["a", "b"], ["b", "a"]), "both warm containers are used first"
    assert fleet.choose("python", 1.0) is None, "every slot is taken"
    fleet.completed("e0")
    assert fleet.choose("python", 1.0) == picks[0]


def test_another_dispatchers_jobs_count_against_a_runner() -> None:
    fleet = Fleet()
    fleet.heartbeat(info("a", capacity=2, active=2), 0.0)
    fleet.heartbeat(info("b", capacity=2, active=0), 0.0)
    assert fleet.choose("python", 1.0) == "b"
    fleet.sent("b", "e1", "python")
    fleet.sent("b", "e2", "python")
    assert fleet.choose("python", 1.0) is None


def test_only_runners_with_the_language_and_a_recent_heartbeat_are_chosen() -> None:
    fleet = Fleet(silent_s=10)
    fleet.heartbeat(info("a", languages=("python",)), 0.0)
    fleet.heartbeat(info("b", languages=("java",)), 0.0)
    assert fleet.choose("java", 5.0) == "b"
    assert fleet.choose("rust", 5.0) is None
    assert fleet.choose("java", 10.5) is None, "b went silent"
    assert fleet.alive(10.5) == set()
    fleet.heartbeat(info("b", languages=("java",)), 11.0)
    assert fleet.alive(11.0) == {"b"}
    assert fleet.choose("java", 11.0) == "b"


def test_a_runner_that_left_is_silent_at_once() -> None:
    fleet = Fleet()
    fleet.heartbeat(info("a"), 0.0)
    fleet.gone("a")
    assert fleet.choose("python", 0.5) is None
    fleet.forget("a")
    assert fleet.runners == {}


def test_hard_affinity_waits_for_its_runner_and_soft_affinity_does_not() -> None:
    fleet = Fleet()
    fleet.heartbeat(info("a", capacity=1), 0.0)
    fleet.heartbeat(info("b", capacity=4), 0.0)
    fleet.sent("a", "busy", "python")
    assert fleet.choose("python", 1.0, prefer="a", hard=True) is None
    assert fleet.choose("python", 1.0, prefer="a", hard=False) == "b"
    fleet.completed("busy")
    assert fleet.choose("python", 1.0, prefer="a", hard=True) == "a"


def test_affinity_to_a_silent_runner_moves_to_a_live_one() -> None:
    fleet = Fleet(silent_s=10)
    fleet.heartbeat(info("a"), 0.0)
    fleet.heartbeat(info("b"), 20.0)
    assert fleet.choose("python", 21.0, prefer="a", hard=True) == "b"


def test_notebooks_and_networked_runs_need_their_runner_kept_containers_like_it() -> None:
    notebook = affinity_of(cell())
    networked = affinity_of(job(network=True))
    kept = affinity_of(job(reuse_key="tab"))
    assert notebook is not None and notebook.hard and notebook.key.startswith("notebook.")
    assert networked is not None and networked.hard and networked.key.startswith("session.")
    assert notebook.in_order and not networked.in_order
    assert kept is not None and not kept.hard and kept.key == networked.key
    assert affinity_of(job()) is None
    assert affinity_of(job(owner="session:s2", network=True)) != networked
