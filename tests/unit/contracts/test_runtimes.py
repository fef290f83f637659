from __future__ import annotations

from pathlib import Path

import pytest

from contracts.messages import Isolation
from contracts.runtimes import (
    DEFAULT_LANGUAGES,
    CatalogError,
    default_languages,
    expand,
    load_catalog,
    strongest,
)
from contracts.settings import DEFAULT_RUNTIMES_DIR


def test_expand_fills_main_stem_and_args_in_place() -> None:
    argv = ["javac", "{main}", "&&", "java", "{stem}", "{args}", "end"]
    assert expand(argv, "pkg/Main.java", ["a", "b c"]) == [
        "javac", "pkg/Main.java", "&&", "java", "pkg/Main", "a", "b c", "end",
    ]


def test_expand_names_sources_and_the_java_class() -> None:
    argv = ["javac", "{sources}", "&&", "java", "{class}"]
    assert expand(argv, "com/acme/Main.java", [], ["A.java", "com/acme/Main.java"]) == [
        "javac", "A.java", "com/acme/Main.java", "&&", "java", "com.acme.Main",
    ]


def test_sources_are_the_files_with_the_runtime_extensions() -> None:
    cpp = load_catalog(DEFAULT_RUNTIMES_DIR).get("cpp")
    assert cpp is not None
    names = ["main.cpp", "util.cc", "util.h", "data.txt", "b.cxx"]
    assert cpp.sources(names) == ["b.cxx", "main.cpp", "util.cc"]


def test_every_shipped_runtime_has_a_dockerfile_and_a_template() -> None:
    for runtime in load_catalog(DEFAULT_RUNTIMES_DIR).runtimes:
        dockerfile = DEFAULT_RUNTIMES_DIR.parent / "images" / runtime.image / "Dockerfile"
        assert dockerfile.is_file(), runtime.name
        assert runtime.template and runtime.version_command, runtime.name


def test_the_catalog_has_30_languages_each_with_its_own_extensions() -> None:
    runtimes = load_catalog(DEFAULT_RUNTIMES_DIR).runtimes
    assert len(runtimes) >= 30
    owners: dict[str, str] = {}
    for runtime in runtimes:  # the IDE picks a file's language by its extension
        for extension in {runtime.extension, *runtime.source_extensions}:
            assert owners.setdefault(extension, runtime.name) == runtime.name, extension


def test_the_default_set_is_in_the_catalog_and_a_setting_replaces_it() -> None:
    catalog = load_catalog(DEFAULT_RUNTIMES_DIR)
    assert default_languages(None, catalog) == list(DEFAULT_LANGUAGES)
    assert set(DEFAULT_LANGUAGES) < set(catalog.names())
    assert default_languages("python, c,,nope", catalog) == ["python", "c"]


def test_expand_with_no_args_drops_the_placeholder() -> None:
    assert expand(["python3", "{main}", "{args}"], "main.py", []) == ["python3", "main.py"]


def test_the_shipped_catalog_loads_and_resolves_aliases() -> None:
    catalog = load_catalog(DEFAULT_RUNTIMES_DIR)
    python = catalog.get("py")
    assert python is not None and python.name == "python"
    assert catalog.get("PYTHON") is python
    assert catalog.get("brainfuck") is None


def test_an_alias_used_twice_is_refused(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / f"{name}.toml").write_text(
            f'name = "{name}"\ndisplay_name = "{name}"\nextension = ".{name}"\n'
            f'image = "{name}"\nrun = ["{name}"]\naliases = ["same"]\n'
        )
    with pytest.raises(CatalogError, match="used twice"):
        load_catalog(tmp_path)


def test_an_unknown_key_in_a_runtime_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.toml").write_text(
        'name = "x"\ndisplay_name = "X"\nextension = ".x"\nimage = "x"\nrun = ["x"]\nrnu = []\n'
    )
    with pytest.raises(CatalogError, match="rnu"):
        load_catalog(tmp_path)


def test_a_runtime_file_may_ask_for_gvisor_and_nothing_else(tmp_path: Path) -> None:
    head = 'name = "x"\ndisplay_name = "X"\nextension = ".x"\nimage = "x"\nrun = ["x"]\n'
    (tmp_path / "x.toml").write_text(head + 'isolation = "gvisor"\n')
    runtime = load_catalog(tmp_path).get("x")
    assert runtime is not None and runtime.isolation == "gvisor"
    (tmp_path / "x.toml").write_text(head + 'isolation = "kata"\n')
    with pytest.raises(CatalogError, match="isolation"):
        load_catalog(tmp_path)


def test_the_shipped_catalog_runs_under_runc_unless_asked() -> None:
    catalog = load_catalog(DEFAULT_RUNTIMES_DIR)
    assert {runtime.isolation for runtime in catalog.runtimes} == {"runc"}


@pytest.mark.parametrize(("asked", "runs"), [
    (("runc", "runc", "runc"), "runc"),
    (("gvisor", "runc", "runc"), "gvisor"),
    (("runc", "runc", "gvisor"), "gvisor"),
    (("gvisor", "gvisor"), "gvisor"),
])
def test_the_strongest_isolation_asked_for_wins(asked: tuple[Isolation, ...],
                                                runs: Isolation) -> None:
    assert strongest(*asked) == runs
