"""``coderunner bench --soak [N]``: N executions through all three ways in, on a platform of its
own, with every one accounted for and the platform's memory watched.

The plan (``coderunner.soak_plan``) mixes languages and the three priorities: the browser
socket (``/ws``, priority 2), the HTTP API (``POST /api/v1/executions``, priority 1) and
background jobs published straight to JetStream (priority 0, as the edge publishes them). At
most ``in_flight`` run at once, so the queue never refuses; of those, at most one API execution
per language and ``BACKGROUND_AT_ONCE`` background ones, so that the run measures the platform's
own work rather than Docker making containers. Afterwards the COMPLETIONS stream
must hold exactly one completion per execution; WebSocket and API runs must have printed their
own word. Meanwhile the RSS of every component is sampled, and its slope after warm-up tells
whether memory stays flat.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import httpx
import nats
import nats.errors
import nats.js.errors
import websockets
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from websockets.asyncio.client import ClientConnection

from coderunner import rss
from coderunner.bench import platform
from coderunner.soak_plan import PRIORITY, Accounting, Item, Outcome, account, plan
from coderunner.soak_report import render, summary
from contracts import subjects
from contracts.messages import (
    CompletionEvent,
    Limits,
    ProgramJob,
    SourceFile,
    completion_decoder,
    encode,
)

IN_FLIGHT = 40
SOCKETS = 12
"""Browser sockets the WebSocket share runs on, one execution at a time each (as a console
tab does); each keeps a container per language for CONTAINER_TTL."""
BACKGROUND_AT_ONCE = 4
"""Background jobs in flight at most: each needs a new container, and more at once than the
warm pool's refill keeps up with would make a soak of a Docker benchmark."""
WALL_MS = 60_000
"""API and background runs may take this long (10 s by default): on a machine shared with other
work a hello world can exceed 10 s, and the soak counts completions, not speed."""
ITEM_TIMEOUT_S = 120.0
SAMPLE_EVERY_S = 2.0
WARM_UP_SHARE = 0.1
SETTLE_S = 10.0
"""How long to wait, after the last run, for completions not seen yet."""
Report = Callable[[int], None]


class LiveCompletions:
    """Every completion published while the soak runs, as a core-NATS subscriber sees it (a
    re-publication the stream drops is seen here too)."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        self._waiting: dict[str, asyncio.Future[CompletionEvent]] = {}

    async def on_msg(self, msg: Msg) -> None:
        try:
            completion = completion_decoder.decode(msg.data)
        except ValueError:
            return
        self.seen[completion.execution_id] += 1
        waiter = self._waiting.pop(completion.execution_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(completion)

    def expect(self, execution_id: str) -> asyncio.Future[CompletionEvent]:
        waiter = asyncio.get_running_loop().create_future()
        self._waiting[execution_id] = waiter
        return waiter

    def forget(self, execution_id: str) -> None:
        self._waiting.pop(execution_id, None)


async def connect_socket(url: str) -> ClientConnection:
    """A browser socket past its ``session`` frame."""
    ws = await websockets.connect(url)
    session = json.loads(await ws.recv())
    if session.get("type") != "session":
        raise RuntimeError(f"the socket's first frame is not a session: {session}")
    return ws


@dataclass
class Channels:
    """The three ways in, each running one planned execution to its completion."""

    ws_url: str
    sockets: asyncio.Queue[ClientConnection]
    http: httpx.AsyncClient
    js: JetStreamContext
    live: LiveCompletions
    background_slots: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(BACKGROUND_AT_ONCE))
    api_turns: dict[str, asyncio.Lock] = field(default_factory=dict)
    """One API execution per language at a time: the API keeps one container per key and
    language, and a second run at once of the same language takes (then destroys) a new one."""

    async def run(self, item: Item) -> Outcome:
        if item.channel == "ws":
            return await self.ws(item)
        if item.channel == "api":
            async with self.api_turns.setdefault(item.language, asyncio.Lock()):
                return await timed(self.api(item))
        async with self.background_slots:
            return await timed(self.background(item))

    async def ws(self, item: Item) -> Outcome:
        ws = await self.sockets.get()
        try:
            return await timed(self._on_socket(ws, item))
        except (TimeoutError, websockets.ConnectionClosed) as exc:
            # Events of the lost run may still arrive: carry on on a new socket.
            with contextlib.suppress(websockets.WebSocketException):
                await ws.close()
            ws = await connect_socket(self.ws_url)
            return Outcome(item, error=f"socket: {exc!r}")
        finally:
            self.sockets.put_nowait(ws)

    async def _on_socket(self, ws: ClientConnection, item: Item) -> Outcome:
        await ws.send(json.dumps({
            "type": "execute_code", "requestId": str(item.number), "language": item.language,
            "files": [{"name": item.main_file, "content": item.source}],
            "mainFile": item.main_file, "network": False,
        }))
        execution_id: str | None = None
        stdout: list[str] = []
        async with asyncio.timeout(ITEM_TIMEOUT_S):
            while True:
                event = json.loads(await ws.recv())
                if event["type"] == "error":
                    return Outcome(item, error=f"{event['code']}: {event['message']}")
                execution_id = event.get("executionId", execution_id)
                if event["type"] == "output" and event["stream"] == "stdout":
                    stdout.append(event["data"])
                elif event["type"] == "completion":
                    return Outcome(item, execution_id, event["verdict"], "".join(stdout))

    async def api(self, item: Item) -> Outcome:
        body = {"language": item.language, "mainFile": item.main_file,
                "files": [{"name": item.main_file, "content": item.source}],
                "limits": {"wallMs": WALL_MS}}
        try:
            answer = await self.http.post("/api/v1/executions?wait=true", json=body)
        except httpx.HTTPError as exc:
            return Outcome(item, error=f"POST: {exc!r}")
        if answer.status_code not in (200, 202):
            return Outcome(item, error=f"HTTP {answer.status_code}: {answer.text[:200]}")
        result = answer.json()
        try:
            async with asyncio.timeout(ITEM_TIMEOUT_S):
                while result["status"] != "completed":
                    url = f"/api/v1/executions/{result['id']}?wait=true"
                    result = (await self.http.get(url)).json()
        except (TimeoutError, httpx.HTTPError) as exc:
            return Outcome(item, result["id"], error=f"GET: {exc!r}")
        return Outcome(item, result["id"], result["verdict"], result["stdout"])

    async def background(self, item: Item) -> Outcome:
        """Published as the edge publishes a job (``JobQueue.submit``), by a program of its own
        rather than a person: an owner of its own, no kept container."""
        execution_id = uuid.uuid4().hex
        job = ProgramJob(execution_id=execution_id, language=item.language,
                         files=[SourceFile(item.main_file, item.source)],
                         main_file=item.main_file, owner=f"anon:{execution_id}",
                         priority=PRIORITY[item.channel], submitted_at=time.time(),
                         request_id=str(item.number), limits=Limits(wall_ms=WALL_MS))
        done = self.live.expect(execution_id)
        try:
            await self.js.publish(subjects.job_submit(job.priority), encode(job),
                                  headers={"Nats-Msg-Id": execution_id}, timeout=5)
        except (nats.errors.Error, nats.js.errors.Error) as exc:
            self.live.forget(execution_id)
            return Outcome(item, error=f"publish: {exc!r}")
        try:
            completion = await asyncio.wait_for(done, ITEM_TIMEOUT_S)
        except TimeoutError:
            self.live.forget(execution_id)
            return Outcome(item, execution_id, error=f"none within {ITEM_TIMEOUT_S:.0f} s")
        return Outcome(item, execution_id, completion.verdict)


async def timed(run: Awaitable[Outcome]) -> Outcome:
    started = time.perf_counter()
    outcome = await run
    return dataclasses.replace(outcome, ms=(time.perf_counter() - started) * 1000)


async def stored_counts(js: JetStreamContext, ids: Sequence[str]) -> dict[str, int]:
    """Completions the COMPLETIONS stream holds per execution id: one request for all of them,
    then one per id the answer left out (the server pages long subject lists)."""
    info = await js.stream_info(subjects.COMPLETIONS_STREAM,
                                subjects_filter=subjects.COMPLETIONS_SUBJECTS)
    by_subject = info.state.subjects or {}
    counts: dict[str, int] = {}
    for execution_id in ids:
        subject = subjects.completed(execution_id)
        if subject not in by_subject:
            one = await js.stream_info(subjects.COMPLETIONS_STREAM, subjects_filter=subject)
            by_subject = {**by_subject, **(one.state.subjects or {})}
        counts[execution_id] = by_subject.get(subject, 0)
    return counts


@dataclass
class SoakRun:
    outcomes: list[Outcome]
    accounting: Accounting
    seconds: float
    samples: list[rss.Sample] = field(default_factory=list)


@contextlib.asynccontextmanager
async def socket_pool(url: str, size: int) -> AsyncIterator[asyncio.Queue[ClientConnection]]:
    pool: asyncio.Queue[ClientConnection] = asyncio.Queue()
    for ws in await asyncio.gather(*(connect_socket(url) for _ in range(size))):
        pool.put_nowait(ws)
    try:
        yield pool
    finally:
        while not pool.empty():
            await pool.get_nowait().close()


async def soak(ws_url: str, http_url: str, nats_url: str, items: Sequence[Item],
               pids: Mapping[str, int] | None = None, in_flight: int = IN_FLIGHT,
               sockets: int = SOCKETS, report: Report | None = None) -> SoakRun:
    """Run ``items`` with at most ``in_flight`` at once; sample the RSS of ``pids`` meanwhile."""
    nc = await nats.connect(nats_url)
    live = LiveCompletions()
    await nc.subscribe(subjects.COMPLETIONS_SUBJECTS, cb=live.on_msg)
    outcomes: list[Outcome] = [Outcome(item, error="not run") for item in items]
    samples: list[rss.Sample] = []
    started = time.monotonic()
    done = 0

    async def sampler() -> None:
        while True:
            samples.append(rss.sample(pids or {}, done, time.monotonic() - started))
            await asyncio.sleep(SAMPLE_EVERY_S)

    try:
        async with (httpx.AsyncClient(base_url=http_url, timeout=ITEM_TIMEOUT_S,
                                      trust_env=False) as http,
                    socket_pool(ws_url, sockets) as pool):
            channels = Channels(ws_url, pool, http, nc.jetstream(), live)
            queue = iter(enumerate(items))

            async def worker() -> None:
                nonlocal done
                for index, item in queue:
                    outcomes[index] = await channels.run(item)
                    done += 1
                    if report:
                        report(done)

            sampling = asyncio.create_task(sampler())
            await asyncio.gather(*(worker() for _ in range(in_flight)))
            seconds = time.monotonic() - started
            sampling.cancel()
            samples.append(rss.sample(pids or {}, done, seconds))
        ids = [o.execution_id for o in outcomes if o.execution_id]
        await settle(live, ids)
        stored = await stored_counts(nc.jetstream(), ids)
    finally:
        await nc.close()
    return SoakRun(outcomes, account(outcomes, stored, live.seen), seconds, samples)


async def settle(live: LiveCompletions, ids: Sequence[str]) -> None:
    """Give completions still on their way a moment (a stored one is published as it is
    stored, so a short pause covers the rest)."""
    deadline = time.monotonic() + SETTLE_S
    while time.monotonic() < deadline and any(live.seen[i] == 0 for i in ids):
        await asyncio.sleep(0.5)
    await asyncio.sleep(1.0)


def main(count: int, as_json: bool) -> int:
    console = Console(stderr=True)
    items = plan(count)
    console.print(f"soak: {count} executions; starting a platform of its own…")
    with platform(pool_size=2) as bench, Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console, disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task("soak", total=count)
        step = max(1, count // 10)

        def report(done: int) -> None:
            bar.update(task, completed=done)
            if not console.is_terminal and done % step == 0:
                console.print(f"soak: {done} of {count}")

        run = asyncio.run(soak(bench.ws_url, bench.http_url, bench.nats_url, items,
                               bench.pids, report=report))
    figures = summary(run.accounting, run.seconds, run.samples, round(count * WARM_UP_SHARE))
    if as_json:
        print(json.dumps(figures))
    else:
        render(figures, Console(width=120))
    return 0 if figures["held"] and figures["memory"]["flat"] else 1
