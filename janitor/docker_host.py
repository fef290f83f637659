"""The janitor's Docker calls: list what carries our labels, remove what a sweep decided."""

from __future__ import annotations

import time

import docker
import docker.errors

from contracts import labels
from janitor.sweep import Removal, container_removals


class DockerHost:
    def __init__(self, docker_host: str | None) -> None:
        self._client = docker.DockerClient(
            base_url=docker_host or "unix:///var/run/docker.sock", timeout=30
        )

    def plan(self, now: float | None = None) -> list[Removal]:
        containers = self._client.api.containers(all=True, filters={"label": labels.MANAGED})
        return container_removals(containers, time.time() if now is None else now)

    def sweep(self, dry_run: bool = False) -> list[Removal]:
        """One pass; returns what was removed (or would be). Safe to run on several hosts."""
        removals = self.plan()
        if dry_run:
            return removals
        done = []
        for removal in removals:
            try:
                self._client.api.remove_container(removal.id, force=True)
                done.append(removal)
            except docker.errors.NotFound:
                continue  # another janitor or the runner got there first
            except docker.errors.APIError as exc:
                if "already in progress" not in str(exc):
                    raise
        return done

    def close(self) -> None:
        self._client.close()
