"""``GET /api/v1/runtimes`` lists every language of the catalog: the ones a live runner serves
with their version, then the ones whose image is not built (``built: false``)."""

from __future__ import annotations

from contracts.runtimes import load_catalog
from contracts.settings import DEFAULT_RUNTIMES_DIR
from edge.api import runtime_infos

CATALOG = load_catalog(DEFAULT_RUNTIMES_DIR)


def test_languages_no_runner_serves_are_listed_as_not_built_after_the_served_ones() -> None:
    infos = runtime_infos(CATALOG, {"python": "3.13.5", "c": "14.2.0"})
    assert [(i.name, i.version, i.built) for i in infos[:2]] == [
        ("c", "14.2.0", True), ("python", "3.13.5", True)]
    assert {i.name for i in infos} == set(CATALOG.names())
    assert all(not i.built and i.version == "" for i in infos[2:])


def test_with_no_runner_every_language_is_buildable_and_none_built() -> None:
    assert not any(i.built for i in runtime_infos(CATALOG, {}))
