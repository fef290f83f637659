"""The package layers of a test or bench platform, listed and removed in one place."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from coderunner import bench_packages
from contracts import labels
from contracts.packages import LAYER_ROLE


class FakeDocker:
    removed: ClassVar[list[str]] = []

    def __init__(self) -> None:
        FakeDocker.removed = []

    def volumes(self, filters: dict[str, list[str]]) -> dict[str, Any]:
        wanted = set(filters["label"])
        found = [{"Name": "layer", "Labels": {labels.ROLE: LAYER_ROLE, labels.PLATFORM: "p"}},
                 {"Name": "other-platform",
                  "Labels": {labels.ROLE: LAYER_ROLE, labels.PLATFORM: "q"}},
                 {"Name": "not-a-layer", "Labels": {labels.PLATFORM: "p"}}]
        return {"Volumes": [v for v in found
                            if wanted <= {f"{k}={x}" for k, x in v["Labels"].items()}]}

    def remove_volume(self, name: str, force: bool = False) -> None:
        FakeDocker.removed.append(name)

    def close(self) -> None:
        pass


def test_a_platforms_layers_are_its_package_volumes_and_only_they_are_removed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bench_packages.docker, "APIClient", FakeDocker)
    assert bench_packages.layers("p") == {"layer"}
    bench_packages.remove_layers("p")
    assert FakeDocker.removed == ["layer"]
