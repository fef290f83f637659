"""Entry point of the janitor: sweep on an interval with APScheduler until signalled."""

from __future__ import annotations

import logging

from apscheduler.schedulers.blocking import BlockingScheduler

from contracts.packages import layer_ttl_s
from contracts.settings import JanitorSettings
from janitor.bus import live_runners
from janitor.docker_host import DockerHost, DockerUnreachable

log = logging.getLogger("janitor")


def main() -> None:
    settings = JanitorSettings.from_env()
    host = DockerHost(settings.docker_host, settings.platform_id, layer_ttl_s())

    def sweep() -> None:
        try:
            removals = host.sweep(live_runners=live_runners(settings.nats_url, settings.nats))
        except DockerUnreachable as exc:  # restarting, say: the next pass tries again
            log.warning("%s; next pass in %d s", exc, settings.interval_s)
            return
        for removal in removals:
            log.info("removed %s %s (%s): %s", removal.kind, removal.name, removal.id[:12],
                     removal.reason)

    scheduler = BlockingScheduler()
    scheduler.add_job(sweep, "interval", seconds=settings.interval_s, max_instances=1,
                      coalesce=True, id="sweep")
    log.info("janitor sweeps every %d s", settings.interval_s)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        host.close()
