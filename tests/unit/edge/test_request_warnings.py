"""A main file whose extension is another language's is run as asked, with a warning."""

from __future__ import annotations

from contracts.runtimes import Catalog, Runtime
from edge.request_warnings import request_warnings

CATALOG = Catalog([
    Runtime(name="python", display_name="Python", extension=".py", image="python",
            run=["python3", "{main}"], aliases=["py"]),
    Runtime(name="c", display_name="C", extension=".c", image="gcc", run=["./main"]),
    Runtime(name="cpp", display_name="C++", extension=".cpp", image="gcc", run=["./main"],
            source_extensions=[".cpp", ".cc"]),
])


def test_another_languages_extension_is_warned_about() -> None:
    assert request_warnings(CATALOG, "python", "main.c") == [
        "mainFile 'main.c' has the extension of language 'c' (.c) but runs as 'python', the "
        "language asked for"]
    assert request_warnings(CATALOG, "py", "src/app.cc") == [
        "mainFile 'src/app.cc' has the extension of language 'cpp' (.cc) but runs as "
        "'python', the language asked for"]


def test_the_languages_own_or_an_unknown_extension_is_not() -> None:
    assert request_warnings(CATALOG, "python", "main.py") == []
    assert request_warnings(CATALOG, "cpp", "main.cc") == []
    assert request_warnings(CATALOG, "python", "main.txt") == []
    assert request_warnings(CATALOG, "python", "Makefile") == []
    assert request_warnings(CATALOG, "cobol", "main.c") == []
