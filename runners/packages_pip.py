"""``pip download`` that refuses a dependency naming a URL: run as ``python -I -m
runners.packages_pip <pip arguments>`` by the fetcher (runners/packages_fetch.py), never imported by
the runner.

pip's ``--only-binary=:all:`` does not hold for direct URL requirements: a wheel on an index
whose metadata says ``Requires-Dist: x @ https://…/x.tar.gz`` (or ``git+…``) makes pip build
that sdist, running its code on the host. The requirements we give pip are plain names
(runners/packages_requests.py); this refuses, in pip's resolver, every dependency with a URL,
before pip fetches it. If pip's internals moved, it refuses to run at all (fails closed).
"""

from __future__ import annotations

import sys
from typing import Any

from pip._internal.cli.main import main
from pip._internal.exceptions import InstallationError
from pip._internal.resolution.resolvelib.factory import Factory
from pip._vendor.packaging.requirements import Requirement

if not callable(getattr(Factory, "make_requirements_from_spec", None)):
    sys.exit("this pip has no Factory.make_requirements_from_spec: the fetcher cannot refuse "
             "URL dependencies with it")
_original = Factory.make_requirements_from_spec


def _no_urls(self: Factory, specifier: str, comes_from: Any, *args: Any, **kwargs: Any) -> Any:
    if Requirement(specifier).url:
        name = getattr(comes_from, "name", None) or "a package"
        raise InstallationError(f"refused: {name} depends on {specifier!r}, a URL; only packages "
                                "of the index are fetched")
    return _original(self, specifier, comes_from, *args, **kwargs)


Factory.make_requirements_from_spec = _no_urls  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
