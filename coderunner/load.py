"""``coderunner bench --load``: the queue at its limits, on a platform of the original design's
size (MAX_CONCURRENT_SESSIONS 50, QUEUE_CAPACITY 200, QUEUE_TIMEOUT 60 s).

50 programs that sleep hold every slot; 200 more wait in the queue; the next one must be
refused with ``queue_full``; then every accepted execution must complete, exactly once, none
expired. Prints what held and how long draining took.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from coderunner.bench import platform

CAP = 50
CAPACITY = 200
HOLD_S = 8.0


def body(code: str) -> dict[str, Any]:
    return {"language": "python", "mainFile": "main.py",
            "files": [{"name": "main.py", "content": code}]}


async def fill_and_drain(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=60, trust_env=False) as http:
        sleeper = body(f"import time\ntime.sleep({HOLD_S})\nprint('held')")
        running = [(await http.post("/api/v1/executions", json=sleeper)).json()["id"]
                   for _ in range(CAP)]
        while (await http.get("/api/queue-stats")).json()["queue"]["running"] < CAP:
            await asyncio.sleep(0.2)
        started = time.monotonic()
        queued = []
        for n in range(CAPACITY):
            answer = await http.post("/api/v1/executions", json=body(f"print({n})"))
            if answer.status_code != 202:
                raise RuntimeError(f"job {n} of {CAPACITY} refused: {answer.text}")
            queued.append(answer.json()["id"])
        over = await http.post("/api/v1/executions", json=body("print('one too many')"))
        verdicts: dict[str, int] = {}
        for execution_id in running + queued:
            result = (await http.get(f"/api/v1/executions/{execution_id}?wait=true")).json()
            while result["status"] != "completed":
                result = (await http.get(f"/api/v1/executions/{execution_id}?wait=true")).json()
            verdicts[result["verdict"]] = verdicts.get(result["verdict"], 0) + 1
        return {
            "running": CAP, "queued": len(queued),
            "overCapacity": {"status": over.status_code,
                             "code": over.json().get("error", {}).get("code")},
            "verdicts": verdicts, "completed": sum(verdicts.values()),
            "drainSeconds": round(time.monotonic() - started, 1),
        }


def main(as_json: bool) -> int:
    settings = {"MAX_CONCURRENT_SESSIONS": str(CAP), "QUEUE_CAPACITY": str(CAPACITY),
                "QUEUE_TIMEOUT": "60", "RUNNER_MAX_JOBS": str(CAP)}
    with platform(pool_size=2, extra=settings) as bench:
        figures = asyncio.run(fill_and_drain(bench.http_url))
    held = (figures["overCapacity"] == {"status": 429, "code": "queue_full"}
            and figures["verdicts"] == {"ok": CAP + CAPACITY})
    if as_json:
        print(json.dumps({**figures, "held": held}))
    else:
        print(f"{CAP} running + {figures['queued']} queued accepted; the next one: "
              f"{figures['overCapacity']['status']} {figures['overCapacity']['code']}")
        print(f"completed {figures['completed']} of {CAP + CAPACITY}: {figures['verdicts']}, "
              f"drained in {figures['drainSeconds']} s after the queue filled")
        print("held" if held else "DID NOT HOLD")
    return 0 if held else 1
