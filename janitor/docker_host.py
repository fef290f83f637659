"""The janitor's Docker calls: list what carries our labels, remove what a sweep decided."""

from __future__ import annotations

import time

import docker
import docker.errors

from contracts import labels
from janitor.sweep import Removal, container_removals, network_removals


class DockerHost:
    def __init__(self, docker_host: str | None, platform: str = "default") -> None:
        self.platform = platform
        self._client = docker.DockerClient(
            base_url=docker_host or "unix:///var/run/docker.sock", timeout=30
        )

    def plan(self, live_runners: set[str] | None = None) -> list[Removal]:
        """Containers first: a network can only go once nothing is attached to it."""
        api = self._client.api
        now = time.time()
        containers = api.containers(all=True, filters={"label": labels.MANAGED})
        doomed = container_removals(containers, now, live_runners, self.platform)
        gone = {r.id for r in doomed}
        networks = []
        for listed in api.networks(filters={"label": labels.MANAGED}):
            try:
                network = api.inspect_network(listed["Id"])
            except docker.errors.NotFound:
                continue
            attached = network.get("Containers") or {}
            network["Containers"] = {k: v for k, v in attached.items() if k not in gone}
            networks.append(network)
        return doomed + network_removals(networks, now, live_runners, self.platform)

    def sweep(self, dry_run: bool = False, live_runners: set[str] | None = None
              ) -> list[Removal]:
        """One pass; returns what was removed (or would be). Safe to run on several hosts."""
        removals = self.plan(live_runners)
        if dry_run:
            return removals
        done = []
        for removal in removals:
            try:
                if removal.kind == "network":
                    self._client.api.remove_network(removal.id)
                else:
                    self._client.api.remove_container(removal.id, force=True)
                done.append(removal)
            except docker.errors.NotFound:
                continue  # another janitor or the runner got there first
            except docker.errors.APIError as exc:
                # Racing another janitor, or a runner put a sandbox on the network meanwhile.
                if "in progress" not in str(exc) and "active endpoints" not in str(exc):
                    raise
        return done

    def close(self) -> None:
        self._client.close()
