"""``coderunner bench``: latency and throughput of hello world, side by side with the baselines
people would otherwise write (``docker run --rm`` per execution, ``docker exec`` into a warm
container), all in one run on this machine.

The bench starts its own platforms (own nats-server on a free port, own runner id) so that its
numbers do not depend on anything else running.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import httpx
import msgspec
import nats
import websockets
from rich.console import Console
from rich.table import Table

from coderunner.nats_server import NatsServer, free_port
from coderunner.up import Platform, remove_runner_containers
from contracts import labels, subjects
from contracts.messages import ProgramJob, SourceFile, completion_decoder, encode
from contracts.runtimes import load_catalog
from contracts.settings import DEFAULT_RUNTIMES_DIR, RunnerSettings
from contracts.subjects import PRIORITY_API
from runners.main import installed_images

HELLO = "print('hello')"
WARM_UP_S = 3.0
PAUSE_S = 0.2
"""Between two runs of one session: a user's click after reading the output (back to back)."""
IMAGE = "coderunner/python"
QUEUE_PAUSE_S = 0.05
GVISOR_LANGUAGES = ("python", "c", "java")
"""Hello world under gVisor (runsc, ptrace): an interpreter, a compiled binary and the JVM."""
Report = Callable[[str], None]


@dataclass
class Figures:
    name: str
    samples_ms: list[float] = field(default_factory=list)
    per_second: float | None = None
    note: str = ""

    def pct(self, q: float) -> float | None:
        if not self.samples_ms:
            return None
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "n": len(self.samples_ms),
            "min_ms": min(self.samples_ms) if self.samples_ms else None,
            "p50_ms": self.pct(0.5),
            "p99_ms": self.pct(0.99),
            "mean_ms": statistics.fmean(self.samples_ms) if self.samples_ms else None,
            "per_second": self.per_second,
            "note": self.note,
        }


@dataclass
class Bench:
    ws_url: str
    http_url: str
    nats_url: str
    pids: dict[str, int] = field(default_factory=dict)
    """Process id of each component (the four roles and ``nats-server``)."""
    runner_id: str = ""


@contextmanager
def platform(pool_size: int, ttl_s: int = 60, extra: dict[str, str] | None = None,
             wait_pools: bool = True) -> Iterator[Bench]:
    """A platform of our own (``extra``'s RUNTIMES_DIR: serving only that catalog), given once
    it is ready and (``wait_pools``) its warm pools are full."""
    with tempfile.TemporaryDirectory(prefix="coderunner-bench-") as tmp:
        data = Path(tmp)
        nats = NatsServer(data / "nats", port=0).start()
        env = dict(os.environ)
        env.update(
            {
                "NATS_URL": nats.url,
                "RUNNER_ID": f"bench-{uuid.uuid4().hex[:8]}",
                "PLATFORM_ID": f"bench-{uuid.uuid4().hex[:8]}",
                "POOL_SIZE": str(pool_size),
                "CONTAINER_TTL": str(ttl_s),
                "LOG_LEVEL": "WARNING",
                **(extra or {}),
            }
        )
        up = Platform(data, env, port=free_port())
        try:
            up.start()
            up.wait_ready()
            if wait_pools:
                wait_for_pools(env["RUNNER_ID"], pool_size,
                               env.get("RUNTIMES_DIR", str(DEFAULT_RUNTIMES_DIR)))
            pids = {role: child.pid for role, child in up.children.items()}
            if nats.process is not None:
                pids["nats-server"] = nats.process.pid
            yield Bench(up.url.replace("http", "ws", 1) + "/ws", up.url, nats.url, pids,
                        env["RUNNER_ID"])
        finally:
            up.stop()
            remove_runner_containers(env)
            nats.stop()


def wait_for_pools(runner_id: str, pool_size: int, runtimes_dir: str,
                   timeout_s: float = 120.0, settle_s: float = WARM_UP_S, beside: int = 0) -> bool:
    """Wait until the warm pool of every language with an image is full (and ``beside`` more of
    the runner's containers run: those kept for sessions), so that filling does not skew
    timings; False if they were not within ``timeout_s``."""
    settings = RunnerSettings(runtimes_dir=runtimes_dir)
    wanted = pool_size * len(installed_images(settings, load_catalog(runtimes_dir))) + beside
    client = docker.from_env()
    deadline = time.monotonic() + timeout_s
    full = False
    try:
        while not full and time.monotonic() < deadline:
            running = client.api.containers(
                filters={"label": f"{labels.RUNNER}={runner_id}", "status": "running"}
            )
            full = len(running) >= wanted
            if not full:
                time.sleep(0.1)
    finally:
        client.close()
    time.sleep(settle_s)
    return full


def frame(
    request_id: str, language: str = "python", name: str = "main.py", content: str = HELLO
) -> str:
    return json.dumps(
        {
            "type": "execute_code",
            "requestId": request_id,
            "language": language,
            "files": [{"name": name, "content": content}],
            "mainFile": name,
        }
    )


async def one_run(
    ws: websockets.ClientConnection,
    request_id: str,
    text: str | None = None,
    completions: list[dict[str, Any]] | None = None,
) -> float:
    started = time.perf_counter()
    await ws.send(text or frame(request_id))
    while True:
        event = json.loads(await ws.recv())
        if event["type"] == "completion":
            if event["verdict"] != "ok":
                raise RuntimeError(f"bench run failed: {event}")
            if completions is not None:
                completions.append(event)
            return (time.perf_counter() - started) * 1000
        if event["type"] == "error":
            raise RuntimeError(f"bench run refused: {event}")


async def per_language(url: str, count: int, languages: tuple[str, ...] | None = None,
                       isolation: str = "runc") -> list[Figures]:
    """Warm hello world (the catalog's template) per language, in one session each; the note
    has the run step's median and the session's first run (a fresh container, cold caches)."""
    catalog = load_catalog(os.environ.get("RUNTIMES_DIR", DEFAULT_RUNTIMES_DIR))
    figures = []
    for runtime in catalog.runtimes:
        if languages is not None and runtime.name not in languages:
            continue
        name = "Main.java" if runtime.name == "java" else "main" + runtime.extension
        text = frame("x", runtime.name, name, runtime.template)
        samples: list[float] = []
        completions: list[dict[str, Any]] = []
        pause = PAUSE_S
        async with websockets.connect(url) as ws:
            for i in range(count + 3):
                elapsed = await one_run(ws, str(i), text, completions)
                if i == 0:
                    first = elapsed
                if i >= 3:
                    samples.append(elapsed)
                await asyncio.sleep(pause)
        if {c.get("isolation") for c in completions} != {isolation}:
            raise RuntimeError(f"bench runs were not all under {isolation}: {completions[-1]}")
        runs = sorted(c["wallMs"] for c in completions[3:])
        under = "" if isolation == "runc" else f" under {isolation}"
        figures.append(
            Figures(f"hello world: {runtime.name}{under}", samples,
                    note=f"run step {runs[len(runs) // 2]} ms, first run {first:.0f} ms")
        )
    return figures


async def sequential(url: str, count: int, fresh_session: bool) -> list[float]:
    samples = []
    ws = await websockets.connect(url)
    try:
        for i in range(count):
            if fresh_session:
                await ws.close()
                ws = await websockets.connect(url)
            samples.append(await one_run(ws, str(i)))
    finally:
        await ws.close()
    return samples


async def throughput(url: str, workers: int, seconds: float, fresh_session: bool) -> float:
    deadline = time.perf_counter() + seconds
    done = 0

    async def worker(n: int) -> None:
        nonlocal done
        ws = await websockets.connect(url)
        try:
            i = 0
            while time.perf_counter() < deadline:
                if fresh_session:
                    await ws.close()
                    ws = await websockets.connect(url)
                await one_run(ws, f"{n}-{i}")
                done += 1
                i += 1
        finally:
            await ws.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(workers)))
    return done / (time.perf_counter() - started)


async def queue_overhead(nats_url: str, count: int) -> Figures:
    """From the JetStream publish of a job (what the edge does) to a runner's claim of it, through
    the dispatcher: one job at a time, read from each completion's ``claimedAt``. The jobs
    share a kept container, so that container churn does not load the machine meanwhile, and
    a short pause lets the previous run's clean-up finish before the next publish."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    samples = []
    try:
        for _ in range(count + 10):
            execution_id = uuid.uuid4().hex
            job = ProgramJob(execution_id=execution_id, language="python",
                             main_file="main.py", files=[SourceFile("main.py", HELLO)],
                             owner="bench", reuse_key="queue", priority=PRIORITY_API,
                             submitted_at=0.0)
            done = await nc.subscribe(subjects.completed(execution_id), max_msgs=1)
            job = msgspec.structs.replace(job, submitted_at=time.time())
            await js.publish(subjects.job_submit(PRIORITY_API), encode(job),
                             headers={"Nats-Msg-Id": execution_id})
            completion = completion_decoder.decode((await done.next_msg(timeout=30)).data)
            samples.append((completion.claimed_at - job.submitted_at) * 1000)
            await asyncio.sleep(QUEUE_PAUSE_S)
    finally:
        await nc.close()
    return Figures("queue: publish to a runner's claim", samples[10:],
                   note="edge publish → dispatcher → runner")


async def http_wait(http_url: str, count: int) -> Figures:
    """``POST /api/v1/executions?wait=true`` of hello world, one at a time."""
    body = {"language": "python", "mainFile": "main.py",
            "files": [{"name": "main.py", "content": HELLO}]}
    samples = []
    async with httpx.AsyncClient(base_url=http_url, timeout=60, trust_env=False) as http:
        for _ in range(count + 10):
            started = time.perf_counter()
            response = await http.post("/api/v1/executions?wait=true", json=body)
            samples.append((time.perf_counter() - started) * 1000)
            if response.json().get("stdout") != "hello\n":
                raise RuntimeError(f"unexpected answer: {response.text[:200]}")
    return Figures("coderunner: HTTP API, wait=true", samples[10:],
                   note="one key, kept container")


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return (time.perf_counter() - started) * 1000


def docker_run_baseline(count: int, runtime: str = "runc") -> Figures:
    argv = ["docker", "run", "--rm", "--runtime", runtime, "--network", "none", IMAGE,
            "python3", "-c", HELLO]
    timed(argv)
    name = "baseline: docker run --rm" + ("" if runtime == "runc" else f" --runtime {runtime}")
    return Figures(name, [timed(argv) for _ in range(count)])


def docker_exec_baseline(count: int) -> Figures:
    name = f"coderunner-bench-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["docker", "run", "-d", "--rm", "--name", name, "--network", "none", IMAGE, "sleep", "600"],
        check=True,
        capture_output=True,
    )
    try:
        argv = ["docker", "exec", name, "python3", "-c", HELLO]
        timed(argv)
        return Figures(
            "baseline: docker exec (warm container)", [timed(argv) for _ in range(count)]
        )
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def run_bench(quick: bool, report: Report) -> list[Figures]:
    n = 30 if quick else 200
    seconds = 5.0 if quick else 10.0
    figures = []
    report("baseline: docker run --rm")
    figures.append(docker_run_baseline(5 if quick else 20))
    report("baseline: docker exec")
    figures.append(docker_exec_baseline(20 if quick else 50))
    with platform(pool_size=2) as bench:
        url = bench.ws_url
        report("queue: publish to a runner's claim")
        figures.append(asyncio.run(queue_overhead(bench.nats_url, n)))
        report("HTTP API: hello world with wait=true")
        figures.append(asyncio.run(http_wait(bench.http_url, n)))
        report("Judge0 and Piston compatible APIs: the same hello world")
        from coderunner.bench_compat import compat_wait  # it imports this module
        figures += asyncio.run(compat_wait(bench.http_url, n))
        report("warm: sequential hello world in one session")
        asyncio.run(sequential(url, 30, False))
        figures.append(
            Figures("coderunner: warm, one session", asyncio.run(sequential(url, n, False)))
        )
        report("throughput with reuse")
        rate = asyncio.run(throughput(url, 8, seconds, False))
        figures.append(Figures("coderunner: throughput, reuse (8 sessions)", per_second=rate))
        report("hello world per language")
        figures += asyncio.run(per_language(url, 5 if quick else 10))
        report("language servers: warm completion while typing")
        from coderunner.bench_lsp import lsp_figures  # it imports this module
        figures += asyncio.run(lsp_figures(url, 20 if quick else 100))
        report("single-use containers (a new session per run)")
        rate = asyncio.run(throughput(url, 4, seconds, True))
        figures.append(Figures("coderunner: throughput, fresh container per run", per_second=rate))
    with platform(pool_size=0) as bench:
        report("fresh container with an empty pool")
        figures.append(
            Figures(
                "coderunner: fresh container, empty pool",
                asyncio.run(sequential(bench.ws_url, 10 if quick else 30, True)),
            )
        )
    from coderunner.bench_packages import packages_figures  # it imports this module
    figures += packages_figures(quick, report)
    figures += gvisor_figures(quick, report)
    return figures


def gvisor_figures(quick: bool, report: Report) -> list[Figures]:
    """Python, C and Java hello world with every sandbox under gVisor (runsc, ptrace), to read
    beside the same lines under runc."""
    report("baseline: docker run --rm under runsc")
    figures = [docker_run_baseline(5 if quick else 20, "runsc")]
    # No warm pool: a session's runs reuse its container, and a fresh one is made per run.
    with platform(pool_size=0, extra={"DEFAULT_ISOLATION": "gvisor"}) as bench:
        report("hello world per language under gVisor")
        figures += asyncio.run(per_language(bench.ws_url, 5 if quick else 10,
                                            GVISOR_LANGUAGES, "gvisor"))
        report("fresh container with an empty pool under gVisor")
        figures.append(Figures("coderunner: fresh container, empty pool, under gvisor",
                               asyncio.run(sequential(bench.ws_url, 10 if quick else 30, True))))
    return figures


def languages_figures(languages: list[str], quick: bool, report: Report) -> list[Figures]:
    """The hello world lines of these languages only, on a platform that serves only them (its
    catalog holds their runtime files alone, so it waits for their pools alone)."""
    directory = Path(os.environ.get("RUNTIMES_DIR", DEFAULT_RUNTIMES_DIR))
    catalog = load_catalog(directory)
    names = []
    for language in languages:
        runtime = catalog.get(language)
        if runtime is None:
            raise SystemExit(f"unknown language {language!r}; the catalog has: "
                             f"{', '.join(catalog.names())}")
        names.append(runtime.name)
    with tempfile.TemporaryDirectory(prefix="coderunner-bench-runtimes-") as chosen:
        for name in names:
            shutil.copy(directory / f"{name}.toml", chosen)
        with platform(pool_size=2, extra={"RUNTIMES_DIR": chosen}) as bench:
            report(f"hello world: {', '.join(names)}")
            return asyncio.run(per_language(bench.ws_url, 5 if quick else 10, tuple(names)))


def render(figures: list[Figures], console: Console) -> None:
    table = Table(title="hello world in Python, end to end (ms)")
    for column in ("what", "n", "p50", "p99", "per second", "note"):
        table.add_column(column, justify="right" if column != "what" else "left")
    for f in figures:
        p50, p99 = f.pct(0.5), f.pct(0.99)
        table.add_row(
            f.name,
            str(len(f.samples_ms) or "-"),
            f"{p50:.1f}" if p50 is not None else "-",
            f"{p99:.1f}" if p99 is not None else "-",
            f"{f.per_second:.1f}" if f.per_second else "-",
            f.note,
        )
    console.print(table)
    by_name = {f.name: f for f in figures}
    if "coderunner: warm, one session" not in by_name:  # languages only
        return
    warm = by_name["coderunner: warm, one session"].pct(0.5)
    for baseline in ("baseline: docker run --rm", "baseline: docker exec (warm container)"):
        base = by_name[baseline].pct(0.5)
        if warm and base:
            console.print(f"{baseline} p50 / coderunner warm p50 = {base / warm:.1f}x")


def main(quick: bool, as_json: bool, languages: list[str] | None = None) -> int:
    console = Console(stderr=True)
    with console.status("benchmarking…") as status:
        def report(what: str) -> None:
            status.update(f"benchmarking: {what}")

        figures = (languages_figures(languages, quick, report) if languages
                   else run_bench(quick, report))
    if as_json:
        print(json.dumps([f.as_dict() for f in figures], indent=2))
    else:
        render(figures, Console(width=140))
    return 0
