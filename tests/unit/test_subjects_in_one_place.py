"""Every NATS subject, stream, consumer and bucket name is written in ``contracts/subjects.py``
alone: a component that spells one out would drift from the flow that module documents."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = ("edge", "dispatcher", "runners", "janitor")
SUBJECT_PREFIXES = ("jobs.", "exec.", "slots.", "seats.", "released.", "stats.",
                    "notebook.control", "$JS.", "$KV.", "KV_", "coderunner.probe", "lsp.")
"""How the subjects of ``contracts/subjects.py`` begin (consumer names such as ``runner-<id>``
are left out: the runner's NATS client is named so too)."""
NAMES = ("JOBS", "RUN", "SEATS", "SLOTS", "COMPLETIONS", "CODERUNNER_PROBE")
"""Stream names (bucket names are ordinary words, left to review)."""


def literals(tree: ast.AST) -> list[str]:
    """The module's string constants and f-string parts, docstrings left out."""
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef
                                | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)}
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings]


def subject_literals(root: Path = ROOT) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for component in COMPONENTS:
        for path in sorted((root / component).rglob("*.py")):
            hits = [text for text in literals(ast.parse(path.read_text(), str(path)))
                    if text.startswith(SUBJECT_PREFIXES) or text in NAMES]
            if hits:
                found[str(path.relative_to(root))] = hits
    return found


def test_no_subject_is_written_outside_contracts_subjects() -> None:
    assert subject_literals() == {}


def test_the_subject_check_sees_a_literal(tmp_path: Path) -> None:
    package = tmp_path / "dispatcher"
    package.mkdir()
    (package / "bus.py").write_text(
        '"""Mentions ``jobs.run.<runner>`` in its docstring: allowed."""\n'
        'stream = "RUN"\n'
        'def gone(subject: str) -> str:\n'
        '    return subject.removeprefix(f"$KV.{stream}.")\n')
    assert subject_literals(tmp_path) == {"dispatcher/bus.py": ["RUN", "$KV."]}
