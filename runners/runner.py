"""The runner: claims jobs, runs them in sandboxes from warm pools, reports completions (the I/O
of one Docker host; the pure decisions of the queue are in dispatcher/service.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine, Sequence
from typing import Any

import msgspec

from contracts.language_servers import LspServer
from contracts.messages import (
    KERNEL_RUNTIME,
    CellJob,
    CompletionEvent,
    Isolation,
    Job,
    JudgementJob,
    OutputEvent,
    ProgramJob,
    RunnerInfo,
    completion_for,
)
from contracts.runtimes import Catalog, Runtime, strongest
from contracts.settings import RunnerSettings
from contracts.subjects import RUNNER_HEARTBEAT_S
from runners import agent_messages as agent
from runners.bus import ClaimedJob, CompletionRefused, RunnerBus
from runners.execution import (
    Overran,
    Publish,
    RunControl,
    execute,
    lost_while_ending,
    resolve_limits,
)
from runners.judge_job import judge_job
from runners.judge_sandboxes import OwnerSandboxes
from runners.language_servers import SERVER_RUNTIMES, LanguageServers, Unsubscribe
from runners.link import AgentGone
from runners.notebooks import CellLimits, Kernels
from runners.output import KeptOutput
from runners.packages import Layer, Packages, PackagesFailed, runtime_with
from runners.packages_kernel import KernelPackages
from runners.packages_requests import BadRequest, request_of
from runners.pool import ReuseSlots, WarmPool, WarmUpTurns, pool_info
from runners.sandbox import (
    BASE_ENV,
    DockerSandboxes,
    DockerSessions,
    LimitsFixed,
    Sandbox,
    SandboxError,
)
from runners.session_control import SessionControl
from runners.sessions import Session, Sessions

log = logging.getLogger(__name__)
EXPIRY_TICK_S = 1.0
RESET_MIN_S = 1.0
"""The least time a reset is given (one after a run that ended at its wall limit included)."""
CLAIM_RETRY_S = 0.5


class Runner:
    def __init__(
        self,
        settings: RunnerSettings,
        catalog: Catalog,
        sandboxes: DockerSandboxes,
        bus: RunnerBus,
        versions: dict[str, str],
        packages: Packages | None = None,
        images: dict[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.packages = packages
        """Package layers (docs/packages.md); None: a run that names packages is refused."""
        self.catalog = catalog
        self.sandboxes = sandboxes
        self.bus = bus
        self._serving = False
        self.pools: dict[tuple[str, Isolation], WarmPool] = {}
        """Warm sandboxes by language and isolation: the runner's own isolation's from the
        start, another's from its first job on (a key or language that asks for gVisor)."""
        self._warm_ups = WarmUpTurns(settings.pool_creations_at_once)
        """Turns of every pool's background creations (a job's own creation takes none)."""
        for name in versions:
            if (runtime := catalog.get(name)) is not None:
                self._pool(runtime, strongest(settings.default_isolation, runtime.isolation))
        self.versions = versions
        self.images = images or {}
        """Language → its image's inputs hash, told in each heartbeat."""
        self.reuse = ReuseSlots(settings.container_ttl_s, sandboxes.destroy)
        self.sessions = Sessions(
            DockerSessions(sandboxes), settings.session_subnets, settings.container_ttl_s,
            sandboxes.instance, lambda: catalog.get("sql") if "sql" in versions else None,
        )
        image = catalog.get(KERNEL_RUNTIME) if KERNEL_RUNTIME in versions else None
        self.kernels: dict[Isolation, Kernels] = {}
        """Notebook kernels by isolation; spares only of the runner's own."""
        self._kernels(strongest(settings.default_isolation, image.isolation if image else "runc"),
                      spares=settings.kernel_spares if image else 0)
        self._lsp_starts: Sequence[Unsubscribe] = ()
        self.language_servers = LanguageServers(
            self._create_language_server, sandboxes.destroy,
            lambda key, event: self.bus.publish_lsp(key, event),
            lambda key, handler: self.bus.subscribe_lsp(key, handler),
            settings.lsp_idle_s, dict(BASE_ENV), max_lifetime_s=settings.lsp_max_lifetime_s)
        self.active = 0
        self.jobs = 0
        self.reused = 0
        self.taken_away = 0
        """Sandboxes frozen and removed because they did not end a run (or reset) in time."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._jobs_running: set[asyncio.Task[None]] = set()
        self._draining = asyncio.Event()
        self._heartbeats: asyncio.Task[None] | None = None
        self.drained = asyncio.Event()
        """Set once a drain has stopped taking jobs and the running ones have ended."""

    def _pool(self, runtime: Runtime, isolation: Isolation) -> WarmPool:
        pool = self.pools.get((runtime.name, isolation))
        if pool is None:
            async def create(runtime: Runtime) -> Sandbox:
                return await self.sandboxes.create(runtime, isolation=isolation)
            pool = WarmPool(runtime, self.settings.pool_size, create, self.sandboxes.destroy,
                            turns=self._warm_ups)
            self.pools[(runtime.name, isolation)] = pool
            if self._serving:
                pool.start()
        return pool

    def serve_images(self, found: dict[str, tuple[str, str]]) -> list[str]:
        """Serve the languages whose images were built since this runner started (``found``:
        language → version and inputs hash, as ``runners.main.installed_images`` reads them):
        their warm pools start and the next heartbeat tells them. Returns the new ones. A
        language already served keeps its image's first reading (restart to serve a rebuilt
        one)."""
        added = []
        for name, (version, inputs) in found.items():
            runtime = self.catalog.get(name)
            if runtime is None or name in self.versions:
                continue
            self.versions[name] = version
            if inputs:
                self.images[name] = inputs
            self._pool(runtime, strongest(self.settings.default_isolation, runtime.isolation))
            added.append(name)
        return added

    def _kernels(self, isolation: Isolation, spares: int = 0) -> Kernels:
        kernels = self.kernels.get(isolation)
        if kernels is None:
            image = self.catalog.get(KERNEL_RUNTIME)
            kernels = Kernels(
                lambda: self._create_kernel(isolation), self.sandboxes.destroy,
                self._take_away,
                {**BASE_ENV, **(image.env if image else {})}, self.settings.kernel_ttl_s,
                self.bus.subscribe_notebook, self.bus.subscribe_control, spares=spares,
                image=image, packages=KernelPackages(self.packages, image, isolation),
            )
            self.kernels[isolation] = kernels
            if self._serving:
                kernels.start()
        return kernels

    def isolation_for(self, job: Job) -> Isolation:
        """The strongest of what the job's key, its language and this runner ask for."""
        runtime = self.catalog.get(job.runtime)
        return strongest(job.isolation, self.settings.default_isolation,
                         runtime.isolation if runtime else "runc")

    async def serve(self) -> None:
        self._serving = True
        for pool in self.pools.values():
            pool.start()
        for kernels in self.kernels.values():
            kernels.start()
        expiry = asyncio.create_task(self._expire_idle())
        counting = asyncio.create_task(
            self.packages.layers.keep_counted() if self.packages else asyncio.sleep(0))
        # Before the first heartbeat: an edge that sees this runner can start its language servers.
        self._lsp_starts = await self.bus.subscribe_lsp_starts(
            [s for s, name in SERVER_RUNTIMES.items() if name in self.versions],
            self.language_servers.start)
        heartbeat = self._heartbeats = asyncio.create_task(self._heartbeat())
        slots = asyncio.Semaphore(self.settings.max_jobs)
        try:
            await self.bus.bind(self.settings.runner_id)
            await self.bus.on_drain(self.settings.runner_id, self.drain)
            await self.bus.subscribe_sessions(SessionControl(
                self.settings.runner_id, self.sessions, self.reuse, self.kernels).handle)
            while not self._draining.is_set():
                await slots.acquire()
                if self._draining.is_set():
                    break
                try:
                    claimed = await self.bus.claim()
                except Exception as exc:  # NATS reconnecting, say: the job stays in RUN
                    log.warning("claiming a job failed: %s; retrying", exc)
                    claimed = None
                    await asyncio.sleep(CLAIM_RETRY_S)
                if claimed is None:
                    slots.release()
                    continue
                task = asyncio.create_task(self._handle(claimed))
                self._tasks.add(task)
                self._jobs_running.add(task)
                task.add_done_callback(self._tasks.discard)
                task.add_done_callback(self._jobs_running.discard)
                task.add_done_callback(lambda _: slots.release())
            await self._finish_drain()
        finally:
            expiry.cancel()
            counting.cancel()
            heartbeat.cancel()

    async def drain(self) -> int:
        """Stop taking jobs (``coderunner runner drain``, SIGTERM): this runner's heartbeat
        goes, so dispatchers send new jobs, sessions and notebooks elsewhere; the running jobs
        finish, each within its wall limit. Returns how many still run."""
        if not self._draining.is_set():
            log.info("draining: taking no more jobs; %d still run", len(self._jobs_running))
            self._draining.set()
            if self._heartbeats is not None:
                self._heartbeats.cancel()
                await asyncio.gather(self._heartbeats, return_exceptions=True)
            await self.bus.leave(self.settings.runner_id)
            for subscription in self._lsp_starts:  # new language servers go elsewhere
                await subscription.unsubscribe()
        return len(self._jobs_running)

    async def _finish_drain(self) -> None:
        """Let the running jobs end, then close the kernels and session networks (their next
        cells and runs start afresh on another runner) and stay idle until stopped (a
        supervisor restarts a runner that exits)."""
        await asyncio.gather(*self._jobs_running, return_exceptions=True)
        for kernels in self.kernels.values():
            await kernels.close()
        await self.language_servers.close()
        await self.sessions.close()
        log.info("drained: no job runs here; stop this runner when you like")
        self.drained.set()
        await asyncio.Event().wait()

    async def _heartbeat(self) -> None:
        while True:
            try:
                await self.bus.heartbeat(self.heartbeat_info())
            except Exception as exc:
                log.warning("heartbeat failed: %s", exc)
            await asyncio.sleep(RUNNER_HEARTBEAT_S)

    def heartbeat_info(self) -> RunnerInfo:
        """What this runner tells now; never waits on Docker (a slow engine would delay the
        heartbeat past RUNNER_SILENT_S): the layers' numbers are the ones kept."""
        layers = self.packages.layers if self.packages else None
        return RunnerInfo(
            self.settings.runner_id, self.versions, self.active, self.settings.max_jobs,
            time.time(), pools={pool_name(*key): pool_info(p) for key, p in self.pools.items()},
            kept=len(self.reuse), jobs=self.jobs, reused=self.reused,
            sessions=len(self.sessions), kernels=sum(map(len, self.kernels.values())),
            taken_away=self.taken_away, discarded=self.reuse.discarded,
            package_layers=layers.count if layers else 0,
            package_bytes=layers.bytes if layers else 0, images=self.images,
            seats=True,
        )

    async def _expire_idle(self) -> None:
        while True:
            await asyncio.sleep(EXPIRY_TICK_S)
            try:
                await self.reuse.expire()
                await self.sessions.expire()
                for kernels in self.kernels.values():
                    await kernels.expire()
                await self.language_servers.expire()
            except Exception as exc:  # Docker busy, say: the next tick tries again
                log.warning("expiring idle sandboxes failed: %s", exc)

    async def _handle(self, claimed: ClaimedJob) -> None:
        claimed_at = claimed.claimed_at
        job = claimed.job
        if claimed.deliveries > 1 and await self.bus.already_completed(job.execution_id):
            await claimed.ack()  # a redelivery of a job that did complete: never run twice
            return
        self.active += 1
        self.jobs += 1
        heartbeat = asyncio.create_task(self._keep_claim(claimed))
        try:
            completion = await self._complete(job)
            completion = msgspec.structs.replace(completion, claimed_at=claimed_at,
                                                 isolation=self.isolation_for(job))
            await self.bus.publish_completion(completion, claimed.seat)
            await claimed.ack()
        except CompletionRefused as refused:  # not acked: redelivered, or moved and ended
            log.error("%s; leaving the job unacknowledged", refused)
        except Exception:  # NATS unreachable: not acked, the job is redelivered after ack_wait
            log.exception("the completion of job %s could not be published", job.execution_id)
        finally:
            heartbeat.cancel()
            self.active -= 1

    async def _complete(self, job: Job) -> CompletionEvent:
        """Run the job; a failure of the runner itself ends it ``internal_error`` (once: a
        redelivery would only fail again)."""
        async def running() -> None:
            if isinstance(job, ProgramJob) and job.interactive:  # told by the status event
                return
            try:  # the HTTP API's status only: a NATS hiccup must not fail the job
                await self.bus.mark_running(job.execution_id)
            except Exception as exc:
                log.warning("job %s runs, but its status could not be stored: %s",
                            job.execution_id, exc)

        kept = KeptOutput(self.bus.publish_event, running)
        try:
            completion = await self.run_job(
                job, kept.publish if job.keep_output else self.bus.publish_event)
        except Exception:
            log.exception("job %s failed inside the runner", job.execution_id)
            return completion_for(job, "internal_error", "the runner failed while running it")
        if job.keep_output:
            await self.bus.put_output(job.execution_id, kept.stored(completion))
        return completion

    async def _keep_claim(self, claimed: ClaimedJob) -> None:
        while True:
            await asyncio.sleep(self.bus.progress_every_s)
            with contextlib.suppress(Exception):
                await claimed.in_progress()

    async def run_job(self, job: Job, publish: Publish) -> CompletionEvent:
        queued_ms = max(0, round((time.time() - job.submitted_at) * 1000))
        match job:
            case CellJob():
                kernels = self._kernels(self.isolation_for(job))
                return await kernels.run(job, self._cell_limits(job), publish, queued_ms)
            case ProgramJob():
                return await self.run_program(job, publish, queued_ms)
            case JudgementJob():
                return await self.run_judgement(job, publish, queued_ms)

    async def run_judgement(self, job: JudgementJob, publish: Publish,
                            queued_ms: int) -> CompletionEvent:
        """Judge a submission (runners/judge_job.py) on the owner's sandboxes."""
        runtime = self.catalog.get(job.language)
        if runtime is None or runtime.name not in self.versions:
            return completion_for(job, "internal_error",
                                  f"this runner has no {job.language!r} runtime",
                                  queued_ms=queued_ms)
        isolation = self.isolation_for(job)
        source = OwnerSandboxes(
            job.owner, job.reuse_key, isolation, lambda r: self._pool(r, isolation), self.reuse,
            self._fitted, self.sandboxes.destroy, self._reset, self._take_away, self._background)
        return await judge_job(job, runtime, self.catalog, self.settings, source, self.bus,
                               publish, queued_ms)

    async def run_program(self, job: ProgramJob, publish: Publish,
                          queued_ms: int) -> CompletionEvent:
        runtime = self.catalog.get(job.language)
        served = runtime is not None and runtime.name in self.versions
        pool = self._pool(runtime, self.isolation_for(job)) if runtime and served else None
        if runtime is None or pool is None:
            return completion_for(job, "internal_error",
                                  f"this runner has no {job.language!r} runtime",
                                  queued_ms=queued_ms)
        try:
            layer = await self._layer_for(job, runtime, publish)
        except PackagesFailed as exc:
            await publish(OutputEvent(job.execution_id, "stderr", f"{exc}\n"))
            return completion_for(job, "compile_error", str(exc), queued_ms=queued_ms)
        try:
            sandbox, session = await self._sandbox_for(job, pool, layer)
        except SandboxError as exc:
            log.warning("job %s got no sandbox: %s", job.execution_id, exc)
            return completion_for(job, "internal_error", str(exc), queued_ms=queued_ms)
        if layer is not None:
            runtime = runtime_with(runtime, layer)
        if session is None:
            return await self._run_in(sandbox, job, runtime, publish, queued_ms, {})
        try:
            return await self._run_in(sandbox, job, runtime, publish, queued_ms, session.env())
        finally:
            self.sessions.release(session)

    async def _layer_for(self, job: ProgramJob, runtime: Runtime,
                         publish: Publish) -> Layer | None:
        """The package layer the job's files ask for (docs/packages.md), None if none."""
        try:
            request = request_of(job.language, job.files)
        except BadRequest as exc:
            raise PackagesFailed(str(exc)) from None
        if request is None:
            return None
        if self.packages is None:
            raise PackagesFailed("this runner does not install packages")
        return await self.packages.layer_for(job, request, runtime, self.isolation_for(job),
                                             publish)

    async def _run_in(self, sandbox: Sandbox, job: ProgramJob, runtime: Runtime, publish: Publish,
                      queued_ms: int, env: dict[str, str]) -> CompletionEvent:
        limits = resolve_limits(job, runtime, self.settings)
        control = RunControl(sandbox.link)
        subscription = await self.bus.subscribe_control(job.execution_id, control.handle)
        started = time.monotonic()
        try:
            sandbox = await self._fitted(sandbox, runtime, limits.memory_mb, limits.processes)
            control.link = sandbox.link
            completion = await execute(sandbox, job, runtime, limits, publish, queued_ms, env,
                                       control)
        except Overran as over:
            log.warning("sandbox %s did not end job %s in time: taken away", sandbox.short_id,
                        job.execution_id)
            await self._take_away(sandbox)
            return completion_for(job, over.verdict, over.message, queued_ms=queued_ms,
                                  wall_ms=over.wall_ms)
        except (AgentGone, SandboxError) as exc:
            log.warning("sandbox %s failed: %s", sandbox.short_id, exc)
            lost_at = time.monotonic()
            wall_ms = round((lost_at - started) * 1000)
            ending = lost_while_ending(control, lost_at)
            oom = (ending is None and sandbox.isolation == "gvisor"
                   and await self.sandboxes.oom_killed(sandbox))
            await self.sandboxes.destroy(sandbox)
            if ending is not None:
                verdict, message = ending
                return completion_for(job, verdict, message, queued_ms=queued_ms,
                                      wall_ms=wall_ms)
            if oom:  # gVisor's kernel holds the program's memory: the whole sandbox went
                return completion_for(job, "memory_limit", "the program ran out of memory",
                                      queued_ms=queued_ms, wall_ms=wall_ms)
            return completion_for(job, "internal_error", "the sandbox stopped answering",
                                  queued_ms=queued_ms)
        finally:
            await subscription.unsubscribe()
        self._release(job, sandbox, control.hard_end())
        return completion

    async def _fitted(self, sandbox: Sandbox, runtime: Runtime, memory_mb: int,
                      processes: int) -> Sandbox:
        """The sandbox with these limits: changed in place, or (runsc cannot change them) a
        fresh one made with them in its place."""
        try:
            await self.sandboxes.set_limits(sandbox, memory_mb, processes)
            return sandbox
        except LimitsFixed:
            await self.sandboxes.destroy(sandbox)
        limits = msgspec.structs.replace(runtime.limits, memory_mb=memory_mb, processes=processes)
        return await self.sandboxes.create(msgspec.structs.replace(runtime, limits=limits),
                                           sandbox.attachment, isolation=sandbox.isolation,
                                           packages=sandbox.packages,
                                           packages_at=sandbox.packages_at)

    def _cell_limits(self, job: CellJob) -> CellLimits:
        """A cell may run up to the server's maximum wall time (as an IDE run may)."""
        asked = job.limits
        wall = (asked.wall_ms if asked and asked.wall_ms else None) or self.settings.max_wall_ms
        output_kb = (asked.output_kb if asked and asked.output_kb else None) or \
            self.settings.output_cap_kb
        return CellLimits(min(wall, self.settings.max_wall_ms),
                          min(output_kb, self.settings.output_cap_kb) * 1024)

    async def _create_kernel(self, isolation: Isolation) -> Sandbox:
        image = self.catalog.get(KERNEL_RUNTIME)
        if image is None or KERNEL_RUNTIME not in self.versions:
            raise SandboxError(f"this runner has no {KERNEL_RUNTIME} image for notebook kernels")
        return await self.sandboxes.create(image, kernel=True, isolation=isolation)

    async def _create_language_server(self, server: LspServer) -> Sandbox:
        """A sandbox for a language server: its language's image, a kernel's limits."""
        runtime = self.catalog.get(SERVER_RUNTIMES[server])
        if runtime is None or runtime.name not in self.versions:
            raise SandboxError(f"this runner has no image for the {server} language server")
        isolation = strongest(self.settings.default_isolation, runtime.isolation)
        return await self.sandboxes.create(runtime, kernel=True, isolation=isolation)

    async def _session_for(self, job: ProgramJob) -> Session | None:
        if not job.network:
            return None
        return await self.sessions.open(job.owner, with_database=wants_database(job))

    async def _sandbox_for(self, job: ProgramJob, pool: WarmPool,
                           layer: Layer | None) -> tuple[Sandbox, Session | None]:
        """The job's sandbox, and its session if it is networked: held for the run (the caller
        releases it)."""
        session = await self._session_for(job)
        try:
            try:
                return await self._sandbox_in(job, pool, session, layer), session
            except SandboxError:
                if session is None or await self.sessions.network_exists(session):
                    raise
            # Its network was removed under it (by a janitor): make the session anew.
            stale, session = session, None
            session = await self.sessions.reopen(stale, with_database=wants_database(job))
            return await self._sandbox_in(job, pool, session, layer), session
        except BaseException:
            if session is not None:
                self.sessions.release(session)
            raise

    async def _sandbox_in(self, job: ProgramJob, pool: WarmPool, session: Session | None,
                          layer: Layer | None) -> Sandbox:
        """A sandbox for the job: its kept one, a new one (with its package layer, on its
        session's network) or the pool's."""
        isolation = self.isolation_for(job)
        packages = layer.volume if layer else None
        if job.reuse_key:
            kept = await self.reuse.take(job.owner, job.reuse_key, pool.runtime.name)
            wanted = session.network if session else None
            if kept is not None and (kept.network, kept.isolation, kept.packages) != (
                    wanted, isolation, packages):
                await self.sandboxes.destroy(kept)  # on the wrong network or layer, say
                kept = None
            if kept is not None:
                self.reused += 1
                return kept
        attachment = session.attachment(job.main_file) if session else None
        if layer is not None:  # never from the pool: it has no layer
            return await self.sandboxes.create(
                runtime_with(pool.runtime, layer), attachment, isolation=isolation,
                packages=layer.volume, packages_at=layer.mount)
        if attachment is None:
            return await pool.take()
        return await self.sandboxes.create(pool.runtime, attachment, isolation=isolation)

    def _release(self, job: ProgramJob, sandbox: Sandbox, reset_by: float) -> None:
        """Wipe and park a sandbox for its owner's next run, or destroy a single-use one."""
        if job.reuse_key:
            work = self.reuse.recycle(job.owner, job.reuse_key, sandbox,
                                      lambda kept: self._reset(kept, reset_by))
        else:
            work = self.sandboxes.destroy(sandbox)
        self._background(work)

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reset(self, sandbox: Sandbox, reset_by: float) -> bool:
        """Kill every leftover process and wipe the workspace and /tmp, by ``reset_by`` (the
        run's hard end) or within ``RESET_MIN_S``: a sandbox that is not reset by then is
        taken away, so that nothing a run left keeps using CPU past its hard end."""
        timeout = min(float(self.settings.agent_timeout_s),
                      max(RESET_MIN_S, reset_by - time.monotonic()))
        deadline = time.monotonic() + timeout
        try:
            await sandbox.link.send(agent.Reset(), timeout=timeout)
            while not isinstance(answer := await sandbox.link.next_event(
                    timeout=deadline - time.monotonic()), agent.ResetDone):
                pass  # a late stdin_ack of the run
        except AgentGone as exc:
            if not sandbox.link.closed:
                log.warning("sandbox %s did not reset in time (%s): taken away",
                            sandbox.short_id, exc)
                await self._take_away(sandbox, remove=False)
            return False
        if not answer.ok:
            log.warning("sandbox %s is not reused: %s", sandbox.short_id, answer.error)
        return answer.ok

    async def _take_away(self, sandbox: Sandbox, remove: bool = True) -> None:
        """Freeze a sandbox that did not end a run (or reset) in time, so that it uses no CPU
        from now on, then remove it in the background (unless the caller does); counted."""
        self.taken_away += 1
        await self.sandboxes.freeze(sandbox)
        if remove:
            self._background(self.sandboxes.destroy(sandbox))

    async def close(self) -> None:
        await self.bus.leave(self.settings.runner_id)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for pool in self.pools.values():
            await pool.close()
        await self.reuse.close()
        await self.sessions.close()
        for kernels in self.kernels.values():
            await kernels.close()
        await self.language_servers.close()
        await self.sandboxes.remove_instance_leftovers()


def pool_name(language: str, isolation: Isolation) -> str:
    """A pool's name in the heartbeat: the language, with ``/gvisor`` for gVisor's pools."""
    return language if isolation == "runc" else f"{language}/{isolation}"


def wants_database(job: ProgramJob) -> bool:
    """SQL scripts, and programs that name the ``mysql`` host, get the session's database."""
    return job.language == "sql" or any("mysql" in f.content.lower() for f in job.files)
