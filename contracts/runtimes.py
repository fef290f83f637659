"""The runtime catalog: one TOML file per language under ``infra/runtimes/``.

Adding a language is one runtime file plus one Dockerfile under ``infra/images/<image>/``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import msgspec
from msgspec import Struct

from contracts.messages import Isolation

MAIN = "{main}"
STEM = "{stem}"
CLASS = "{class}"
ARGS = "{args}"
SOURCES = "{sources}"


DEFAULT_LANGUAGES = (
    "bash", "c", "cpp", "go", "java", "javascript", "lua", "perl", "php", "python", "ruby",
    "rust", "sql", "typescript",
)
"""The languages whose images ``coderunner images build`` (and so ``make up``) builds; the
setting ``DEFAULT_LANGUAGES`` (comma-separated names) replaces this list, and ``coderunner
images build --all`` builds every language of the catalog."""


class CatalogError(ValueError):
    """The runtime catalog is invalid."""


class RuntimeLimits(Struct, frozen=True, forbid_unknown_fields=True):
    wall_ms: int = 10_000
    cpu_ms: int = 10_000
    memory_mb: int = 256
    output_kb: int = 1024
    processes: int = 64
    tmp_mb: int = 64


class Runtime(Struct, frozen=True, forbid_unknown_fields=True):
    """One language: how to compile and run a program, in which image, with which defaults."""

    name: str
    display_name: str
    extension: str
    image: str
    run: list[str]
    compile: list[str] | None = None
    source_extensions: list[str] = []
    """Extensions of the files ``{sources}`` stands for; by default just ``extension``."""
    aliases: list[str] = []
    env: dict[str, str] = {}
    version_command: list[str] = []
    template: str = ""
    tables: bool = False
    """The run step may send result sets as JSON lines on the fd named by CODERUNNER_TABLES_FD."""
    compile_server: list[str] | None = None
    """argv of a warm compiler that answers compile requests (JavacServer's protocol): javac's
    arguments separated by NUL on a line, "EXIT code length" and the diagnostics back."""
    fork_server: list[str] | None = None
    """argv of a warm interpreter that forks run steps (the agent's Python zygote)."""
    limits: RuntimeLimits = RuntimeLimits()
    isolation: Isolation = "runc"
    """The least isolation this language's sandboxes get; ``gvisor`` runs every job of it
    under runsc, whatever the caller's key asks."""

    @property
    def image_tag(self) -> str:
        return f"coderunner/{self.image}"

    def sources(self, names: list[str]) -> list[str]:
        """The files of a program that ``{sources}`` names, in a stable order."""
        extensions = tuple(self.source_extensions or [self.extension])
        return sorted(n for n in names if n.endswith(extensions))


def strongest(*asked: Isolation) -> Isolation:
    """The isolation that satisfies every ask: ``gvisor`` when any asks for it."""
    return "gvisor" if "gvisor" in asked else "runc"


def expand(
    argv: list[str], main_file: str, args: list[str], sources: list[str] | None = None
) -> list[str]:
    """Fill the placeholders of an argv template.

    ``{main}`` is the main file's path, ``{stem}`` that path without its extension,
    ``{class}`` the stem with ``/`` as ``.`` (a Java class name), ``{args}`` the program's
    arguments and ``{sources}`` the program's source files (both expand to zero or more items).
    """
    stem = main_file.rsplit(".", 1)[0] if "." in main_file.rsplit("/", 1)[-1] else main_file
    out: list[str] = []
    for item in argv:
        if item == ARGS:
            out.extend(args)
        elif item == SOURCES:
            out.extend(sources if sources is not None else [main_file])
        else:
            filled = item.replace(MAIN, main_file).replace(STEM, stem)
            out.append(filled.replace(CLASS, stem.replace("/", ".")))
    return out


class Catalog:
    """Runtimes by name and alias."""

    def __init__(self, runtimes: list[Runtime]) -> None:
        self.runtimes = sorted(runtimes, key=lambda r: r.name)
        self._by_name: dict[str, Runtime] = {}
        for runtime in self.runtimes:
            for key in (runtime.name, *runtime.aliases):
                if key in self._by_name:
                    raise CatalogError(f"runtime name or alias {key!r} is used twice")
                self._by_name[key] = runtime

    def get(self, name: str) -> Runtime | None:
        return self._by_name.get(name.lower())

    def names(self) -> list[str]:
        return [r.name for r in self.runtimes]


def load_catalog(directory: str | Path) -> Catalog:
    runtimes = []
    for path in sorted(Path(directory).glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text())
            runtimes.append(msgspec.convert(data, Runtime))
        except (tomllib.TOMLDecodeError, msgspec.ValidationError) as exc:
            raise CatalogError(f"{path}: {exc}") from exc
    if not runtimes:
        raise CatalogError(f"no runtime files in {directory}")
    return Catalog(runtimes)


def build_command(language: str) -> str:
    """The command that builds a language's image (its operator's, on a runner's host)."""
    return f"coderunner images build --language {language}"


def default_languages(setting: str | None, catalog: Catalog) -> list[str]:
    """The default set: the ``DEFAULT_LANGUAGES`` setting's names, else ``DEFAULT_LANGUAGES``,
    without the names this catalog lacks (a trimmed catalog builds what it has)."""
    names = [n.strip() for n in setting.split(",") if n.strip()] if setting else None
    chosen = names if names is not None else list(DEFAULT_LANGUAGES)
    return [name for name in chosen if catalog.get(name) is not None]
