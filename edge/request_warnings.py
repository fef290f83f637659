"""What looks wrong in a request to run code without being a reason to refuse it: the API
answers it in ``warnings`` (docs/api.md) and the IDE shows the same beside Run."""

from __future__ import annotations

import posixpath

from contracts.runtimes import Catalog, Runtime


def request_warnings(catalog: Catalog, language: str, main_file: str) -> list[str]:
    """The warnings of running ``main_file`` as ``language`` (a catalog name or alias)."""
    runtime = catalog.get(language)
    if runtime is None:
        return []
    problem = extension_problem(catalog, runtime, main_file)
    return [problem] if problem else []


def extension_problem(catalog: Catalog, runtime: Runtime, main_file: str) -> str | None:
    """A main file whose extension is another language's and not this one's (``main.c`` as
    Python); an extension no language has (``main.txt``, ``Makefile``) is left alone."""
    extension = posixpath.splitext(main_file)[1]
    if not extension or extension in extensions(runtime):
        return None
    other = next((r for r in catalog.runtimes if extension in extensions(r)), None)
    if other is None:
        return None
    return (f"mainFile {main_file!r} has the extension of language {other.name!r} "
            f"({extension}) but runs as {runtime.name!r}, the language asked for")


def extensions(runtime: Runtime) -> list[str]:
    return runtime.source_extensions or [runtime.extension]
