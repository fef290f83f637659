"""Workspace paths and trees: what may be stored, and what compare reports."""

from __future__ import annotations

import pytest

from contracts.workspaces import FileRef, compare, path_problem, tree_shape_problem


@pytest.mark.parametrize("path", [
    "", "/abs", "../up", "a/../../up", "a\\b", "a\x00b", "a\nb", "a\x7fb", "a//b", "./a", "a/",
    "C:/x", "x" * 256,
])
def test_paths_that_escape_or_cannot_be_files_are_refused(path: str) -> None:
    assert path_problem(path) is not None


@pytest.mark.parametrize("path", ["main.py", "src/pkg/mod.py", "with space.txt", "ünïcode.md"])
def test_ordinary_paths_are_accepted(path: str) -> None:
    assert path_problem(path) is None


def test_a_file_cannot_also_be_a_folder() -> None:
    assert tree_shape_problem({"a": FileRef("0", 1), "a/b": FileRef("1", 1)}) is not None


def test_compare_names_added_removed_and_changed_paths() -> None:
    old = {"same": FileRef("1", 1), "gone": FileRef("2", 1), "edit": FileRef("3", 1)}
    new = {"same": FileRef("1", 1), "edit": FileRef("4", 1), "new": FileRef("5", 1)}
    assert compare(old, new) == (["new"], ["gone"], ["edit"])
