"""``%pip install`` in a python notebook's cell (docs/packages.md, Notebooks): recognised before
the kernel sees the cell, and read into the same ``PackageRequest`` a ``requirements.txt`` of the
same lines would give (so the two share the runner's cache and the layer). Pure."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from contracts.program import JobFile
from runners.packages_requests import PIP_LINE, BadRequest, PackageRequest, pip_request

MAGIC = "%pip"
FORMS = "%pip install <name[extras][op version]> … or -r <file>"
REQUIREMENT_FILE = ("-r", "--requirement")


def pip_cell(code: str, files: Sequence[JobFile] = ()) -> PackageRequest | None:
    """The packages a ``%pip`` cell asks for; None when the cell has no ``%pip`` line (the
    kernel runs it); BadRequest for a ``%pip`` cell that is not only plain ``%pip install``
    lines (the kernel's own ``%pip`` would run pip inside the sandbox, which has no network).
    ``-r <file>`` reads one of ``files``, the notebook's (those its kernel started with)."""
    lines = [line.strip() for line in code.splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    if not any(is_pip(line) for line in lines):
        return None
    requirements: list[str] = []
    for line in lines:
        if not is_pip(line):
            raise BadRequest(f"{MAGIC} must be alone in its cell (found {line[:60]!r}): put "
                             "the other code in the next cell")
        requirements += install_arguments(line, files)
    if not requirements:
        raise BadRequest(f"{MAGIC} install names no package: {FORMS}")
    return pip_request("".join(f"{r}\n" for r in requirements))


def is_pip(line: str) -> bool:
    return line.split(maxsplit=1)[0] in (MAGIC, "%%pip", "%pip3") if line else False


def install_arguments(line: str, files: Sequence[JobFile] = ()) -> list[str]:
    """The requirements of one ``%pip install`` line; BadRequest for any other form."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError as exc:
        raise BadRequest(f"{MAGIC}: {exc}") from None
    if words[0] != MAGIC or len(words) < 2 or words[1] != "install":
        raise BadRequest(f"only {FORMS} is supported here, not {line[:60]!r}")
    arguments: list[str] = []
    words = words[2:]
    while words:
        word = words.pop(0)
        if word in REQUIREMENT_FILE and words:
            arguments += requirement_file(words.pop(0), files)
            continue
        if word.startswith("-"):
            raise BadRequest(f"{MAGIC} install takes no options ({word[:40]!r}): {FORMS}; "
                             "packages come from the platform's index")
        if PIP_LINE.match(word) is None:
            raise BadRequest(f"{MAGIC} install: {word[:60]!r} is not a plain requirement "
                             "(name, extras, versions: no URLs or paths)")
        arguments.append(word)
    return arguments


def requirement_file(name: str, files: Sequence[JobFile]) -> list[str]:
    """The requirements of the notebook's file ``name``, each line as in ``requirements.txt``."""
    found = next((f for f in files if f.name == name.removeprefix("./")), None)
    if found is None:
        raise BadRequest(f"{MAGIC} install -r {name[:60]}: the notebook has no such file (only "
                         "the files its kernel started with are read)")
    return pip_request(found.content).text.splitlines()
