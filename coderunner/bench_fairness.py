"""``coderunner bench --fairness``: one owner queues 300 long jobs; how long does another
owner's hello world wait once a slot frees?

Two API keys at the same priority (so that only the fair share, not a priority, can put the
hello first): ``greedy`` submits ``GREEDY_JOBS`` programs that sleep ``HOLD_S`` and fill every
one of the ``CAP`` slots; once they do, ``other`` submits a hello world ``PROBES`` times, one
after the other. For each probe: the time from the first slot that frees after its submission
(the first completion of a greedy job, as published on NATS) to the runner's claim of the hello
(``claimedAt``) and to its completion (the goal: within 1 s). The probes start once the warm
pool has refilled after the greedy jobs' first wave (a sandbox started cold on a busy machine
would measure the pool, not the queue). Then every accepted greedy job must complete ``ok``.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import msgspec
import nats

from coderunner.bench import platform
from contracts import subjects
from contracts.messages import CompletionEvent

CAP = 16
GREEDY_JOBS = 300
HOLD_S = 3.0
PROBES = 5
BATCH = 20
KEYS = {"greedy": "greedy-secret-0123456789", "other": "other-secret-0123456789"}
SETTINGS = {
    "API_KEYS": ",".join(f"{name}:{secret}" for name, secret in KEYS.items()),
    "KEY_MAX_CONCURRENT": str(GREEDY_JOBS + PROBES),
    "RATE_LIMIT_PER_MINUTE": "100000",
    "MAX_CONCURRENT_SESSIONS": str(CAP),
    "RUNNER_MAX_JOBS": str(CAP),
    "QUEUE_CAPACITY": str(GREEDY_JOBS + 100),
    "QUEUE_TIMEOUT": "900",
    "OWNER_MAX_SHARE": "50",
    "ADMIN_KEYS": "other",
}
POOL_SIZE = 2


def program(code: str) -> dict[str, Any]:
    return {"language": "python", "mainFile": "main.py",
            "files": [{"name": "main.py", "content": code}]}


class Completions:
    """Every completion published, with when this process heard of it."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.events: dict[str, CompletionEvent] = {}
        self.arrived = asyncio.Event()

    async def on_msg(self, msg: Any) -> None:
        event = msgspec.json.decode(msg.data, type=CompletionEvent)
        self.at.setdefault(event.execution_id, time.time())
        self.events[event.execution_id] = event
        self.arrived.set()

    async def wait_for(self, execution_id: str) -> CompletionEvent:
        while execution_id not in self.events:
            self.arrived.clear()
            await self.arrived.wait()
        return self.events[execution_id]


async def fill(http: httpx.AsyncClient) -> list[str]:
    """The greedy owner's jobs, in batches; the ids of those accepted."""
    sleeper = program(f"import time\ntime.sleep({HOLD_S})\nprint('done')")
    accepted: list[str] = []
    for start in range(0, GREEDY_JOBS, BATCH):
        entries = [sleeper] * min(BATCH, GREEDY_JOBS - start)
        answer = await http.post("/api/v1/executions/batch", json={"executions": entries},
                                 headers=bearer("greedy"))
        accepted += [item["id"] for item in answer.json()["executions"] if "id" in item]
    return accepted


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[name]}"}


async def steady(http: httpx.AsyncClient) -> None:
    """Until the greedy jobs hold every slot and the warm pool has refilled after their first
    wave: the hello then measures the queue, not a sandbox started cold on a busy machine."""
    while True:
        metrics = (await http.get("/api/admin/metrics", headers=bearer("other"))).json()
        pool = metrics["pools"].get("python", {})
        running = ((metrics["queue"] or {}).get("queue") or {}).get("running", 0)
        if running >= CAP and pool.get("warm", 0) >= POOL_SIZE:
            return
        await asyncio.sleep(0.2)


async def probe(http: httpx.AsyncClient, completions: Completions, greedy: set[str]
                ) -> dict[str, float]:
    submitted = time.time()
    answer = await http.post("/api/v1/executions", json=program("print('hello')"),
                             headers=bearer("other"))
    hello = answer.json()["id"]
    event = await completions.wait_for(hello)
    freed = min((at for eid, at in completions.at.items() if eid in greedy and at >= submitted),
                default=submitted)
    return {"slotFreeToClaimS": round(event.claimed_at - freed, 3),
            "slotFreeToCompletionS": round(completions.at[hello] - freed, 3),
            "submitToCompletionS": round(completions.at[hello] - submitted, 3),
            "greedyWaiting": len(greedy) - sum(1 for e in greedy if e in completions.at)}


async def measure(http_url: str, nats_url: str) -> dict[str, Any]:
    completions = Completions()
    nc = await nats.connect(nats_url)
    await nc.subscribe(subjects.COMPLETIONS_SUBJECTS, cb=completions.on_msg)
    started = time.monotonic()
    try:
        async with httpx.AsyncClient(base_url=http_url, timeout=60, trust_env=False) as http:
            greedy = await fill(http)
            await steady(http)
            probes = [await probe(http, completions, set(greedy)) for _ in range(PROBES)]
            verdicts: dict[str, int] = {}
            for execution_id in greedy:
                verdict = (await completions.wait_for(execution_id)).verdict
                verdicts[verdict] = verdicts.get(verdict, 0) + 1
    finally:
        await nc.close()
    return {"cap": CAP, "greedyAccepted": len(greedy), "greedyVerdicts": verdicts,
            "probes": probes, "worstSlotFreeToClaimS": max(p["slotFreeToClaimS"] for p in probes),
            "worstSlotFreeToCompletionS": max(p["slotFreeToCompletionS"] for p in probes),
            "seconds": round(time.monotonic() - started, 1)}


def main(as_json: bool) -> int:
    with platform(pool_size=POOL_SIZE, extra=SETTINGS) as bench:
        figures = asyncio.run(measure(bench.http_url, bench.nats_url))
    held = (figures["worstSlotFreeToCompletionS"] <= 1.0
            and figures["greedyVerdicts"] == {"ok": figures["greedyAccepted"]}
            and figures["greedyAccepted"] == GREEDY_JOBS)
    if as_json:
        print(json.dumps({**figures, "held": held}))
        return 0 if held else 1
    print(f"greedy owner: {figures['greedyAccepted']} of {GREEDY_JOBS} jobs of {HOLD_S:g} s "
          f"accepted over {CAP} slots; completed {figures['greedyVerdicts']}")
    for n, p in enumerate(figures["probes"], 1):
        print(f"other owner's hello {n}: claimed {p['slotFreeToClaimS']:.3f} s and completed "
              f"{p['slotFreeToCompletionS']:.3f} s after a slot freed, "
              f"{p['submitToCompletionS']:.2f} s after its submission, with "
              f"{p['greedyWaiting']} greedy jobs unfinished")
    print(f"worst: {figures['worstSlotFreeToCompletionS']:.3f} s from a free slot to the "
          f"hello's completion (goal: 1 s), {figures['worstSlotFreeToClaimS']:.3f} s to its "
          f"claim; {figures['seconds']} s in all")
    print("held" if held else "DID NOT HOLD")
    return 0 if held else 1
