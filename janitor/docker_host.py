"""The janitor's Docker calls: list what carries our labels, remove what a sweep decided."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

import docker
import docker.errors
import requests

from contracts import labels
from contracts.packages import LAYER_ROLE
from janitor.packages_sweep import LayerUse, layer_removals
from janitor.sweep import Removal, container_removals, network_removals

log = logging.getLogger(__name__)

class DockerUnreachable(Exception):
    """The Docker engine did not answer (stopped or restarting); the next pass tries again."""


class DockerHost:
    def __init__(self, docker_host: str | None, platform: str = "default",
                 layer_ttl_s: float | None = None) -> None:
        self.platform = platform
        self.layer_ttl_s = layer_ttl_s
        """Package layers unused this long are removed; None: layers are left alone."""
        self.layer_use = LayerUse()
        self.url = docker_host or "unix:///var/run/docker.sock"
        self._client: docker.DockerClient | None = None

    @property
    def _api(self) -> Any:
        """Connected on first use: the engine may be down when the janitor starts."""
        if self._client is None:
            try:
                self._client = docker.DockerClient(base_url=self.url, timeout=30)
            except docker.errors.DockerException as exc:  # it asks the engine for its version
                raise self._unreachable(exc) from exc
        return self._client.api

    @contextlib.contextmanager
    def _answering(self) -> Iterator[None]:
        """The SDK's connection errors are plain ``requests`` exceptions."""
        try:
            yield
        except requests.RequestException as exc:
            raise self._unreachable(exc) from exc

    def _unreachable(self, exc: Exception) -> DockerUnreachable:
        return DockerUnreachable(f"the Docker engine at {self.url} did not answer: {exc}")

    def plan(self, live_runners: set[str] | None = None) -> list[Removal]:
        """Containers first: a network can only go once nothing is attached to it."""
        with self._answering():
            return self._plan(live_runners)

    def _plan(self, live_runners: set[str] | None) -> list[Removal]:
        api = self._api
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
        return (doomed + network_removals(networks, now, live_runners, self.platform)
                + self._layer_removals(containers, now))

    def _layer_removals(self, containers: list[dict[str, Any]], now: float) -> list[Removal]:
        self.layer_use.note(containers, now)
        if self.layer_ttl_s is None:
            return []
        found = self._api.volumes(filters={"label": f"{labels.ROLE}={LAYER_ROLE}"})
        return layer_removals(found.get("Volumes") or [], self.layer_use, now,
                              self.layer_ttl_s, self.platform)

    def sweep(self, dry_run: bool = False, live_runners: set[str] | None = None
              ) -> list[Removal]:
        """One pass; returns what was removed (or would be). Safe to run on several hosts."""
        removals = self.plan(live_runners)
        if dry_run:
            return removals
        done = []
        for removal in removals:
            try:
                with self._answering():
                    if removal.kind == "network":
                        self._api.remove_network(removal.id)
                    elif removal.kind == "volume":  # refused while a sandbox mounts it
                        self._api.remove_volume(removal.id)
                    else:
                        self._api.remove_container(removal.id, force=True)
                done.append(removal)
            except docker.errors.NotFound:
                continue  # another janitor or the runner got there first
            except docker.errors.APIError as exc:
                # Racing another janitor, or a runner put a sandbox on the network meanwhile;
                # else one Docker cannot remove (a root filesystem left mounted when dockerd
                # stopped mid-start: "device or resource busy") must not end the pass.
                if not any(s in str(exc) for s in ("in progress", "active endpoints",
                                                   "volume is in use")):
                    log.warning("cannot remove %s %s (%s): %s", removal.kind, removal.name,
                                removal.id[:12], exc)
        return done

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
