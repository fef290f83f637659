"""Entry point of a runner: settings, connect, serve until signalled."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import uuid

import docker

from contracts import labels, subjects
from contracts.packages import PackageSettings
from contracts.runtimes import Catalog, load_catalog
from contracts.settings import RunnerSettings
from runners.bus import RunnerBus
from runners.packages import Packages
from runners.packages_layers import DockerLayers
from runners.runner import Runner
from runners.sandbox import DockerSandboxes

IMAGES_EVERY_S = 5.0
"""How often a runner looks for language images built since it started (it serves them then)."""
DRAIN_MARGIN_S = 30.0
"""Time past the largest wall limit a stopping runner gives its jobs to end and report
(infra/deploy's TimeoutStopSec is above both)."""
log = logging.getLogger("runners")


def installed_versions(settings: RunnerSettings, catalog: Catalog) -> dict[str, str]:
    """Language → version, for the catalog languages whose image this Docker engine has."""
    return {name: version for name, (version, _) in installed_images(settings, catalog).items()}


def installed_images(settings: RunnerSettings, catalog: Catalog
                     ) -> dict[str, tuple[str, str]]:
    """Language → (version, inputs hash) of the catalog languages whose image this Docker
    engine has."""
    client = docker.DockerClient(base_url=settings.docker_host or "unix:///var/run/docker.sock")
    try:
        by_tag = {tag: image.labels for image in client.images.list() for tag in image.tags}
    finally:
        client.close()
    found = {}
    for runtime in catalog.runtimes:
        image_labels = by_tag.get(f"{runtime.image_tag}:latest")
        if image_labels is not None:
            found[runtime.name] = (
                image_labels.get(f"{labels.VERSION}{runtime.name}", "unknown"),
                image_labels.get(labels.INPUTS, ""))
    return found


async def watch_images(settings: RunnerSettings, catalog: Catalog, runner: Runner) -> None:
    """Serve the images built after the start (``coderunner images build --language X``)
    without a restart."""
    while True:
        await asyncio.sleep(IMAGES_EVERY_S)
        try:
            found = await asyncio.to_thread(installed_images, settings, catalog)
        except Exception as exc:  # the engine restarting, say: next time
            log.warning("listing the runtime images failed: %s", exc)
            continue
        for name in runner.serve_images(found):
            log.info("runner %s now serves %s (its image was built)", settings.runner_id, name)


async def serve(settings: RunnerSettings) -> None:
    catalog = load_catalog(settings.runtimes_dir)
    images = installed_images(settings, catalog)
    versions = {name: version for name, (version, _) in images.items()}
    if not versions:
        raise SystemExit("runner: no runtime image is built; run `coderunner images build`")
    instance = uuid.uuid4().hex[:12]
    bus = await RunnerBus.connect(settings.nats_url, f"runner-{settings.runner_id}",
                                 settings.nats, subjects.runner_inbox(settings.runner_id))
    sandboxes = DockerSandboxes(settings, instance)
    packages = Packages(PackageSettings.from_env(), DockerLayers(settings), sandboxes, versions)
    runner = Runner(settings, catalog, sandboxes, bus, versions, packages,
                    {name: inputs for name, (_, inputs) in images.items() if inputs})
    log.info(
        "runner %s (instance %s) serves %s", settings.runner_id, instance, ", ".join(versions)
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    serving = asyncio.create_task(runner.serve())
    watching = asyncio.create_task(watch_images(settings, catalog, runner))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not serving.done():  # signalled: drain first, within the largest wall limit
        stop.clear()  # a second signal stops at once
        bound_s = settings.max_wall_ms / 1000 + DRAIN_MARGIN_S
        log.info("stopping: %d jobs finish first (at most %.0f s)", await runner.drain(), bound_s)
        drained = asyncio.create_task(runner.drained.wait())
        await asyncio.wait({drained, serving, asyncio.create_task(stop.wait())},
                           timeout=bound_s, return_when=asyncio.FIRST_COMPLETED)
    serving.cancel()
    watching.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await serving
    await runner.close()
    await bus.close()
    log.info("runner %s stopped and removed its containers", settings.runner_id)


def main() -> None:
    asyncio.run(serve(RunnerSettings.from_env()))
